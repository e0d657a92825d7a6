//! `switchboard serve`: plain HTTP and WebSocket endpoints on one port.
//!
//! Each accepted connection's request head is read here
//! ([`switchboard::proto::handshake::parse_request`]); plain requests are
//! answered with HTTP/1.1 keep-alive, upgrade requests go to the driver's
//! handshake (`switchboard::ServerBuilder::accept_with`) for `/echo` and
//! `/chat`. See [`ServeArgs`] for the options and the endpoint list.
//!
//! Decisions:
//! * `--max-connections` counts WebSocket sessions; an upgrade over the
//!   limit is refused with HTTP 503 and `Retry-After: 1` before any
//!   WebSocket exists, which is cheaper than accepting and closing with
//!   1013 and tells non-browser clients plainly why.
//! * Connections that never upgrade are bounded in time instead: 10 s for
//!   the first request head, 30 s idle between keep-alive requests.
//! * The Origin allow-list applies to upgrades that carry an `Origin`
//!   (browsers); an empty list allows every origin.
//! * On Ctrl-C or SIGTERM the server stops accepting, closes every
//!   WebSocket with 1001 (going away), waits for the close handshakes
//!   (bounded by [`SHUTDOWN_GRACE`]) and exits 0.

mod chat;
mod echo;
mod http;
mod rewind;
mod settings;
mod shutdown;
mod upgrade;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard::tls::TlsAcceptor;
use switchboard::{CloseCode, Config, Limits, ServerBuilder, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use chat::{ChatProtocol, BACKLOG, MAX_CHAT_MESSAGE, SEND_TIMEOUT};
pub use rewind::Rewind;
pub use settings::{
    normalize_origin, PingInterval, ServeArgs, ServeFile, ServeSettings, SizeValue, TlsFiles,
    DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_PING_INTERVAL,
};

use shutdown::Shutdown;

/// The chat page served at `/`.
pub const CHAT_PAGE: &str = include_str!("chat.html");

/// How long shutdown waits for every connection to finish its close
/// handshake before exiting anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long one session's close handshake may take (below
/// [`SHUTDOWN_GRACE`], so every session gets its turn).
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Bound on a TLS handshake, like the one on the first request head: a
/// client that stalls cannot hold a connection.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (out of file descriptors, typically) so
/// the loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct App {
    /// Bounds on request heads (shared with the WebSocket handshake).
    limits: Limits,
    echo_server: ServerBuilder,
    chat_server: ServerBuilder,
    origins: Vec<String>,
    sessions: Arc<Semaphore>,
    max_connections: usize,
    room: chat::Room,
    shutdown: Shutdown,
    /// Set with --tls-cert/--tls-key: every connection starts with TLS.
    tls: Option<TlsAcceptor>,
}

impl App {
    fn new(settings: &ServeSettings, shutdown: Shutdown, tls: Option<TlsAcceptor>) -> Self {
        let config = Config::default()
            .ping_interval(settings.ping_interval)
            .pong_timeout(settings.ping_interval.unwrap_or(DEFAULT_PING_INTERVAL));
        let limits = Limits::default()
            .max_message_size(settings.max_message_size)
            .max_frame_size(settings.max_frame_size);
        let chat_limits = limits
            .clone()
            .max_message_size(settings.max_message_size.min(MAX_CHAT_MESSAGE))
            .max_frame_size(settings.max_frame_size.min(MAX_CHAT_MESSAGE));
        let mut echo_server = ServerBuilder::new()
            .config(config.clone())
            .limits(limits.clone());
        let mut chat_server = ServerBuilder::new().config(config).limits(chat_limits);
        if let Some(deflate) = settings.compression.deflate_config() {
            echo_server = echo_server.deflate(deflate.clone());
            chat_server = chat_server.deflate(deflate);
        }
        App {
            echo_server,
            chat_server,
            limits,
            origins: settings.origins.clone(),
            sessions: Arc::new(Semaphore::new(settings.max_connections)),
            max_connections: settings.max_connections,
            room: chat::Room::new(),
            shutdown,
            tls,
        }
    }

    /// Whether a browser page from `origin` may open a WebSocket.
    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.is_empty() || self.origins.contains(&normalize_origin(origin))
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then shuts down gracefully.
///
/// Logs `listening on ADDR` (the bound address, useful with port 0) once
/// the socket is bound and the signal handlers are installed.
pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    let mut signals =
        shutdown::Signals::install().context("cannot install the Ctrl-C/SIGTERM handlers")?;
    let tls = match &settings.tls {
        Some(files) => Some(
            TlsAcceptor::from_pem_files(&files.cert, &files.key)
                .context("cannot load the TLS certificate chain or key")?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(&settings.listen).await.with_context(|| {
        format!(
            "cannot listen on {}; is the address free and valid?",
            settings.listen
        )
    })?;
    let local = listener.local_addr()?;
    let (trigger, shutdown) = shutdown::channel();
    let app = Arc::new(App::new(&settings, shutdown, tls));
    tracing::info!(
        addr = %local,
        tls = app.tls.is_some(),
        max_connections = settings.max_connections,
        ping_interval = ?settings.ping_interval,
        max_message_size = settings.max_message_size,
        compression = ?settings.compression,
        "listening on {local}"
    );

    let mut connections = JoinSet::new();
    let signal = loop {
        tokio::select! {
            signal = signals.recv() => break signal,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    if let Err(error) = tcp.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                    connections.spawn(connection(tcp, peer, app.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    };
    drop(listener);
    tracing::info!(
        signal,
        open = connections.len(),
        "shutting down: closing every connection with 1001"
    );
    trigger.fire();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections did not close within {SHUTDOWN_GRACE:?}; dropping them"
        );
        connections.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// One accepted TCP connection, in its own span: TLS first if configured,
/// then HTTP.
async fn connection(tcp: TcpStream, peer: SocketAddr, app: Arc<App>) {
    let span = tracing::info_span!("conn", %peer);
    async {
        let Some(acceptor) = &app.tls else {
            return http::serve_connection(tcp, &app).await;
        };
        let mut shutdown = app.shutdown.clone();
        let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
        let outcome = tokio::select! {
            outcome = handshake => outcome,
            _ = shutdown.wait() => return,
        };
        match outcome {
            Ok(Ok(tls)) => http::serve_connection(tls, &app).await,
            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        }
    }
    .instrument(span)
    .await;
}

/// After the driver reported an error (its close frame, e.g. 1009, is
/// already sent): keeps reading until the stream ends, which is when the
/// driver has discarded the peer's remaining input and seen its EOF.
/// Dropping the socket at once instead would reset a connection with
/// unread input, and the peer would lose the close frame that says why.
pub(crate) async fn linger<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async { while ws.recv().await.is_some() {} }).await;
}

/// Closes with 1001 because the server is going away.
pub(crate) async fn going_away<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    close_with(ws, CloseCode::GOING_AWAY, "server shutting down").await;
}

/// Runs the close handshake with `code`, bounded by [`CLOSE_GRACE`].
pub(crate) async fn close_with<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    code: CloseCode,
    reason: &'static str,
) {
    match tokio::time::timeout(CLOSE_GRACE, ws.close(code, reason)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "close handshake failed"),
        Err(_) => tracing::debug!("close handshake timed out"),
    }
}
