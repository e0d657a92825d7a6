//! The application behind the proxy: a Switchboard echo server on
//! 127.0.0.1 that records, for each connection, what the application sees
//! (TCP peer, the client address `forwarded::client_addr` derives from the
//! headers and the trusted proxies) and how the connection ended.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::HeaderMap;
use switchboard::forwarded::{client_addr, TrustedProxies};
use switchboard::{Accept, Config, Message, ServerBuilder};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a test waits for the backend to report something.
const REPORT_DEADLINE: Duration = Duration::from_secs(15);

/// What the application learned when a connection opened.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The TCP peer (the proxy, for proxied connections).
    pub peer: SocketAddr,
    /// The client address according to the trusted-proxy rules.
    pub client_addr: IpAddr,
    /// The request headers as they arrived.
    pub headers: HeaderMap,
}

/// How a backend connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// A close frame arrived (clean close handshake).
    Closed,
    /// The transport failed or ended without a close frame.
    Failed(String),
}

/// Which messages the backend echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoPolicy {
    /// Every text and binary message.
    All,
    /// Only text messages starting with [`ECHO_MARK`]; the rest are
    /// swallowed, so the backend sends nothing of its own accord.
    MarkedOnly,
}

/// The prefix that asks an [`EchoPolicy::MarkedOnly`] backend for an echo.
pub const ECHO_MARK: &str = "echo:";

/// A running echo backend; stops accepting when dropped.
pub struct Backend {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    opened: mpsc::UnboundedReceiver<Opened>,
    ended: mpsc::UnboundedReceiver<Ended>,
    acceptor: JoinHandle<()>,
}

impl Backend {
    /// Starts an echo server with `config` (keepalive settings) that
    /// believes forwarding headers only from `trusted`.
    pub async fn start(config: Config, trusted: TrustedProxies) -> Self {
        Self::start_with(config, trusted, EchoPolicy::All).await
    }

    /// Like [`Backend::start`], echoing only what `policy` says.
    pub async fn start_with(config: Config, trusted: TrustedProxies, policy: EchoPolicy) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (opened_tx, opened) = mpsc::unbounded_channel();
        let (ended_tx, ended) = mpsc::unbounded_channel();
        let server = ServerBuilder::new().config(config);
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    return;
                };
                tcp.set_nodelay(true).unwrap();
                let server = server.clone();
                let trusted = trusted.clone();
                let opened_tx = opened_tx.clone();
                let ended_tx = ended_tx.clone();
                tokio::spawn(async move {
                    let mut seen = None;
                    let accepted = server
                        .accept_with(tcp, |request| {
                            let headers = request.request.headers().clone();
                            seen = Some(Opened {
                                peer,
                                client_addr: client_addr(peer, &headers, &trusted),
                                headers,
                            });
                            Ok(Accept::new())
                        })
                        .await;
                    let Ok(mut ws) = accepted else {
                        return;
                    };
                    let _ = opened_tx.send(seen.expect("the accept callback ran"));
                    let ended = loop {
                        match ws.recv().await {
                            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                                let echo = match (&message, policy) {
                                    (_, EchoPolicy::All) => true,
                                    (Message::Text(text), EchoPolicy::MarkedOnly) => {
                                        text.as_str().starts_with(ECHO_MARK)
                                    }
                                    _ => false,
                                };
                                if !echo {
                                    continue;
                                }
                                if let Err(error) = ws.send(message).await {
                                    break Ended::Failed(error.to_string());
                                }
                            }
                            Some(Ok(Message::Close(_))) => break Ended::Closed,
                            Some(Ok(_)) => {}
                            Some(Err(error)) => break Ended::Failed(error.to_string()),
                            None => break Ended::Failed("the stream ended".to_owned()),
                        }
                    };
                    let _ = ended_tx.send(ended);
                });
            }
        });
        Backend {
            addr,
            opened,
            ended,
            acceptor,
        }
    }

    /// The next connection the application accepted.
    pub async fn next_opened(&mut self) -> Opened {
        tokio::time::timeout(REPORT_DEADLINE, self.opened.recv())
            .await
            .expect("the backend accepted no WebSocket connection in time")
            .expect("the backend stopped")
    }

    /// How the next connection ended.
    pub async fn next_ended(&mut self) -> Ended {
        tokio::time::timeout(REPORT_DEADLINE, self.ended.recv())
            .await
            .expect("no backend connection ended in time")
            .expect("the backend stopped")
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}
