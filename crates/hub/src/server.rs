//! [`Server`] and [`run`]: the listener, one task per TCP connection
//! (TLS first if configured, then HTTP/1.1 through hyper with upgrades),
//! and the graceful shutdown.
//!
//! Decisions:
//! * `max_connections` counts WebSocket sessions; an upgrade over the
//!   limit is refused with HTTP 503 and `Retry-After: 1` before any
//!   WebSocket exists, which is cheaper than accepting and closing with
//!   1013 and tells non-browser clients plainly why.
//! * Connections that never upgrade are bounded in time instead: 10 s for
//!   the first request head, 30 s idle between keep-alive requests.
//! * Once a connection has switched to WebSocket, hyper's connection
//!   future completes and its state is freed: an idle WebSocket costs its
//!   session task only.
//! * On stop (Ctrl-C or SIGTERM for [`run`]) the server stops accepting,
//!   closes every WebSocket with 1001 (going away), waits for the close
//!   handshakes (bounded by [`SHUTDOWN_GRACE`]) and returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use switchboard::tls::TlsAcceptor;
use switchboard::Limits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::app::{App, Hub};
use crate::config::HubConfig;
use crate::engine::Engine;
use crate::error::ServeError;
use crate::http_service::HttpService;
use crate::ids::epoch_seed;
use crate::plain_port::{self, FirstByte};
use crate::router::{api_routes, routes};
use crate::shutdown::{self, Signals, Trigger};

/// How long shutdown waits for every connection to finish its close
/// handshake before returning anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client has to send a complete first request head (the same
/// bound the driver puts on a WebSocket handshake): it stops slowloris
/// clients from holding connections.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection is kept between requests
/// (hyper's header read timeout, which runs from the end of the previous
/// answer to the end of the next head).
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(30);
/// Bound on a TLS handshake, like the one on the first request head: a
/// client that stalls cannot hold a connection.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (out of file descriptors, typically) so
/// the loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    app: Arc<App>,
    router: Router,
    http: http1::Builder,
    /// Set with TLS files: every connection starts with TLS.
    tls: Option<TlsAcceptor>,
}

/// A bound server, not yet serving. [`run`] is bind + serve until a stop
/// signal; tests bind to port 0, read [`Server::local_addr`] and stop it
/// with a future of their own.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    /// The separate API address, when configured.
    api: Option<ApiListener>,
    trigger: Trigger,
}

/// The listener of a separate API address and its route table.
#[derive(Debug)]
struct ApiListener {
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Accepts on the API listener, or never when there is none.
async fn accept_api(
    api: &Option<ApiListener>,
) -> std::io::Result<(TcpStream, SocketAddr, Arc<Shared>)> {
    match api {
        Some(api) => {
            let (tcp, peer) = api.listener.accept().await?;
            Ok((tcp, peer, api.shared.clone()))
        }
        None => std::future::pending().await,
    }
}

impl Server {
    /// Loads the TLS files (if any) and binds the listen address.
    pub async fn bind(config: HubConfig) -> Result<Server, ServeError> {
        let tls = match &config.tls {
            Some(files) => Some(TlsAcceptor::from_pem_files(&files.cert, &files.key)?),
            None => None,
        };
        let bind_error = |source| ServeError::Bind {
            addr: config.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        if config.node.allow_anonymous_connect
            && !config.allow_anonymous_beyond_loopback
            && !local_addr.ip().is_loopback()
        {
            return Err(ServeError::AnonymousOnPublicAddress { addr: local_addr });
        }
        let api_listener = match &config.api_listen {
            Some(addr) => {
                let api_bind_error = |source| ServeError::Bind {
                    addr: addr.clone(),
                    source,
                };
                let listener = TcpListener::bind(addr).await.map_err(api_bind_error)?;
                let api_addr = listener.local_addr().map_err(api_bind_error)?;
                Some((listener, api_addr))
            }
            None => None,
        };
        let api_addr = api_listener.as_ref().map_or(local_addr, |(_, addr)| *addr);
        if config.api_key.is_none() && !api_addr.ip().is_loopback() {
            return Err(ServeError::ApiKeyRequired { addr: api_addr });
        }
        let settings = crate::auth::node_settings(&config.node)?;
        let hub = Arc::new(Hub {
            engine: Engine::memory(settings.clone(), epoch_seed()),
            settings,
        });
        let (trigger, shutdown) = shutdown::channel();
        let app = Arc::new(App::new(&config, hub, shutdown));
        let limits = Limits::default();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(KEEP_ALIVE_IDLE)
            .max_header_size(limits.max_header_bytes)
            .max_headers(limits.max_headers);
        tracing::info!(
            addr = %local_addr,
            tls = tls.is_some(),
            max_connections = config.max_connections,
            ping_interval = ?config.ping_interval,
            max_message_size = config.max_message_size,
            compression = config.deflate.is_some(),
            "listening on {local_addr}"
        );
        if let Some((_, addr)) = &api_listener {
            tracing::info!(addr = %addr, "server API listening on {addr}");
        }
        let api = api_listener.map(|(listener, addr)| ApiListener {
            listener,
            addr,
            shared: Arc::new(Shared {
                router: api_routes(app.clone()),
                app: app.clone(),
                http: http.clone(),
                tls: tls.clone(),
            }),
        });
        Ok(Server {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                router: routes(app.clone()),
                app,
                http,
                tls,
            }),
            api,
            trigger,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server API's address: the separate `api_listen` address when
    /// configured, else [`Server::local_addr`].
    pub fn api_addr(&self) -> SocketAddr {
        self.api.as_ref().map_or(self.local_addr, |api| api.addr)
    }

    /// Serves until `stop` resolves, then shuts down gracefully: stops
    /// accepting, closes every WebSocket with 1001 and waits for them,
    /// bounded by [`SHUTDOWN_GRACE`].
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        let Server {
            listener,
            shared,
            api,
            trigger,
            ..
        } = self;
        let mut connections = JoinSet::new();
        let expiry = tokio::spawn(expire_history(shared.app.hub.clone()));
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        if let Err(error) = tcp.set_nodelay(true) {
                            tracing::debug!(%error, "cannot set TCP_NODELAY");
                        }
                        connections.spawn(connection(tcp, peer, shared.clone()));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accept failed; retrying shortly");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                accepted = accept_api(&api) => match accepted {
                    Ok((tcp, peer, api_shared)) => {
                        if let Err(error) = tcp.set_nodelay(true) {
                            tracing::debug!(%error, "cannot set TCP_NODELAY");
                        }
                        connections.spawn(connection(tcp, peer, api_shared));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accept on the API address failed; retrying shortly");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        drop(api);
        let app = &shared.app;
        let open = app.max_connections - app.sessions.available_permits();
        app.hub.engine.metrics().drain_started(open as u64);
        tracing::info!(open, "shutting down: closing every connection with 1001");
        trigger.fire();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
            // Every WebSocket session holds a slot until it has closed.
            let _ = app.sessions.acquire_many(app.max_connections as u32).await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = connections.len(),
                "connections did not close within {SHUTDOWN_GRACE:?}; dropping them"
            );
            connections.shutdown().await;
        }
        expiry.abort();
        tracing::info!("stopped");
    }
}

/// Expires history publications and idle streams when they are due.
async fn expire_history(hub: Arc<Hub>) {
    // Checked at least this often, since publishes can move the next
    // deadline earlier while this task sleeps.
    const EXPIRY_TICK: Duration = Duration::from_secs(1);
    loop {
        let now = std::time::Instant::now();
        let next = hub.engine.handle_timeout(now);
        let wake = next.map_or(now + EXPIRY_TICK, |at| at.min(now + EXPIRY_TICK));
        tokio::time::sleep_until(wake.into()).await;
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then shuts down gracefully.
///
/// Logs `listening on ADDR` (the bound address, useful with port 0) once
/// the socket is bound and the signal handlers are installed.
pub async fn run(config: HubConfig) -> Result<(), ServeError> {
    let mut signals = Signals::install().map_err(ServeError::Signals)?;
    let server = Server::bind(config).await?;
    server
        .serve_until(async move {
            let signal = signals.recv().await;
            tracing::info!(signal, "stop signal received");
        })
        .await;
    Ok(())
}

/// One accepted TCP connection, in its own span: TLS first if configured
/// (on a plain port, a TLS client is answered at once), then HTTP.
async fn connection(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let span = tracing::info_span!("conn", %peer);
    async {
        let mut shutdown = shared.app.shutdown.clone();
        let Some(acceptor) = &shared.tls else {
            let deadline = Instant::now() + FIRST_REQUEST_TIMEOUT;
            let first = tokio::select! {
                first = plain_port::classify(&tcp, deadline) => first,
                _ = shutdown.wait() => return,
            };
            match first {
                FirstByte::Http => serve_http(tcp, &shared, deadline).await,
                FirstByte::TlsHandshake => plain_port::refuse_tls(tcp).await,
                FirstByte::Nothing => {}
            }
            return;
        };
        let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
        let outcome = tokio::select! {
            outcome = handshake => outcome,
            _ = shutdown.wait() => return,
        };
        match outcome {
            Ok(Ok(tls)) => serve_http(tls, &shared, Instant::now() + FIRST_REQUEST_TIMEOUT).await,
            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        }
    }
    .instrument(span)
    .await;
}

/// Serves HTTP/1.1 on `io` until it closes or switches to WebSocket. The
/// first request head must be complete by `first_head_deadline`.
async fn serve_http<S>(io: S, shared: &Shared, first_head_deadline: Instant)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let first_request_seen = Arc::new(AtomicBool::new(false));
    let service = HttpService::new(shared.router.clone(), first_request_seen.clone());
    let conn = shared
        .http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut shutdown = shared.app.shutdown.clone();
    let first_head = tokio::time::sleep_until(first_head_deadline);
    tokio::pin!(first_head);
    let mut waiting_for_first_head = true;
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
                return;
            }
            () = &mut first_head, if waiting_for_first_head => {
                if !first_request_seen.load(Ordering::Relaxed) {
                    tracing::debug!("no request head within {FIRST_REQUEST_TIMEOUT:?}; closing");
                    return;
                }
                waiting_for_first_head = false;
            }
            () = shutdown.wait(), if !stopping => {
                // Finishes an answer in progress, then closes; an idle
                // keep-alive connection closes at once.
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}
