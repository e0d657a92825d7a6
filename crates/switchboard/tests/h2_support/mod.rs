//! Shared by the `h2_*` tests: a hyper server on 127.0.0.1 that speaks
//! HTTP/1.1 and HTTP/2 (hyper-util's auto builder), with or without TLS
//! and extended CONNECT, whose `/ws` route echoes through
//! `switchboard::upgrade::Upgrade`, and counters of what it accepted.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use switchboard::tls::{TlsAcceptor, TlsClientConfig};
use switchboard::upgrade::{Upgrade, UpgradedWebSocket};
use switchboard::{DeflateConfig, MaybeTlsStream, Message};
use switchboard_testkit::pki::TestPki;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Every test body runs under this bound.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `f`, failing the test if it takes longer than [`TEST_TIMEOUT`].
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test exceeded its time bound")
}

/// How the test server is set up.
#[derive(Clone, Default)]
pub struct Options {
    /// TLS on the port (the acceptor decides the ALPN offer).
    pub tls: Option<TlsAcceptor>,
    /// Advertise `SETTINGS_ENABLE_CONNECT_PROTOCOL` on HTTP/2.
    pub connect_protocol: bool,
    /// Accept permessage-deflate.
    pub deflate: bool,
}

// The echo task and what it reports are the HTTP/1.1 upgrade tests' own.
#[path = "../upgrade_support/mod.rs"]
mod upgrade_support;
use upgrade_support::echo;
pub use upgrade_support::ServerSaw;

/// Counters the test reads from the server side.
#[derive(Debug, Default)]
pub struct Counters {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// WebSockets accepted over HTTP/2 (extended CONNECT).
    pub http2_websockets: AtomicUsize,
    /// WebSockets accepted over HTTP/1.1 (Upgrade).
    pub http1_websockets: AtomicUsize,
    /// Bytes the `/flood` route managed to hand to `send`.
    pub flooded_bytes: AtomicUsize,
}

/// A running test server.
pub struct Server {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    pub reports: mpsc::UnboundedReceiver<ServerSaw>,
}

impl Server {
    /// The next report from the server, bounded by the caller's bound.
    pub async fn next_report(&mut self) -> ServerSaw {
        self.reports.recv().await.expect("server task ended early")
    }

    pub fn count(&self, counter: impl Fn(&Counters) -> &AtomicUsize) -> usize {
        counter(&self.counters).load(Ordering::SeqCst)
    }
}

/// Starts the server; see the module docs.
pub async fn start(options: Options) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, reports) = mpsc::unbounded_channel();
    let counters = Arc::new(Counters::default());
    let shared = Arc::clone(&counters);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let options = options.clone();
            let counters = Arc::clone(&shared);
            let report = report.clone();
            tokio::spawn(async move {
                let io = match &options.tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(tls) => MaybeTlsStream::from(tls),
                        Err(_) => return,
                    },
                    None => MaybeTlsStream::Plain(tcp),
                };
                let deflate = options.deflate;
                let service = service_fn(move |request| {
                    handle(request, deflate, Arc::clone(&counters), report.clone())
                });
                let mut builder = auto::Builder::new(TokioExecutor::new());
                if options.connect_protocol {
                    builder.http2().enable_connect_protocol();
                }
                // Errors are the client's doing; tests assert on reports.
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(io), service)
                    .await;
            });
        }
    });
    Server {
        addr,
        counters,
        reports,
    }
}

/// A plain-TCP server that advertises extended CONNECT (RFC 8441), the
/// one most HTTP/2 WebSocket tests talk to.
pub async fn extended_connect_server() -> Server {
    start(Options {
        connect_protocol: true,
        ..Options::default()
    })
    .await
}

async fn handle(
    mut request: Request<Incoming>,
    deflate: bool,
    counters: Arc<Counters>,
    report: mpsc::UnboundedSender<ServerSaw>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if path != "/ws" && path != "/flood" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"plain HTTP"))));
    }
    let mut upgrade = match Upgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade.protocols(["chat.v2", "chat.v1"]),
        Err(rejection) => return Ok(rejection.into_response()),
    };
    if deflate {
        upgrade = upgrade.deflate(DeflateConfig::default());
    }
    let counter = if upgrade.is_http2() {
        &counters.http2_websockets
    } else {
        &counters.http1_websockets
    };
    counter.fetch_add(1, Ordering::SeqCst);
    let (response, websocket) = upgrade.accept();
    tokio::spawn(async move {
        let Ok(ws) = websocket.await else {
            let _ = report.send(ServerSaw::Failed("not handed over".into()));
            return;
        };
        if path == "/flood" {
            flood(ws, &counters.flooded_bytes).await;
        } else {
            echo(ws, report).await;
        }
    });
    Ok(response)
}

/// Sends 1 KiB messages as fast as `send` allows, counting the bytes
/// handed over, until sending fails.
async fn flood(mut ws: UpgradedWebSocket, sent: &AtomicUsize) {
    let payload = Bytes::from(vec![7u8; 1024]);
    while ws.send(Message::Binary(payload.clone())).await.is_ok() {
        sent.fetch_add(payload.len(), Ordering::SeqCst);
    }
}

/// A TLS acceptor for the test PKI's `localhost`/`127.0.0.1` certificate.
pub fn acceptor(pki: &TestPki) -> TlsAcceptor {
    TlsAcceptor::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap()
}

/// A client TLS configuration trusting only the test PKI.
pub fn client_tls(pki: &TestPki) -> TlsClientConfig {
    TlsClientConfig::new()
        .without_builtin_roots()
        .add_root_certificates_pem(pki.ca_pem.as_bytes())
        .unwrap()
}

/// A plain TCP connection to `addr`, for h2c with prior knowledge.
pub async fn tcp(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp
}
