//! [`Server`] and [`run`]: the listener, one task per TCP connection
//! (TLS first if configured, then HTTP/1.1 or HTTP/2 through hyper with
//! upgrades), and the graceful shutdown.
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
//! * HTTP/2 is served beside HTTP/1.1: over TLS when ALPN selects `h2`,
//!   on a plain port when the client starts with the HTTP/2 preface (h2c
//!   with prior knowledge). `SETTINGS_ENABLE_CONNECT_PROTOCOL` is sent, so
//!   WebSockets open as extended CONNECT streams (RFC 8441), many on one
//!   connection; the connection lives while any of its streams does.
//! * On stop (Ctrl-C or SIGTERM for [`run`]) the server drains (see the
//!   `drain` module): `/ready` turns 503 and upgrades and API calls are
//!   refused at once, while WebSocket sessions are closed in batches
//!   spread over the drain window (hub clients with 3001, `/echo` and
//!   `/chat` with 1001). The listener keeps answering probes until the
//!   last session is gone or the deadline (window + [`SHUTDOWN_GRACE`])
//!   passes; then HTTP connections finish their request and it returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use switchboard::tls::TlsAcceptor;
use switchboard::Limits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::api::{host_name, NodeIdentity};
use crate::app::{App, Hub};
use crate::config::EngineKind;
use crate::config::HubConfig;
use crate::drain::{refuse_while_draining, DrainPlan};
use crate::engine::{Engine, NodeName, RedisEngine};
use crate::error::ServeError;
use crate::http_service::HttpService;
use crate::ids::epoch_seed;
use crate::plain_port::{self, FirstByte};
use crate::router::{api_routes, routes};
use crate::shutdown::{self, Phase, PhaseWatch, Signals, Trigger};

/// How long after the drain window the server still waits for close
/// handshakes (each bounded by 5 s) and requests in progress before it
/// returns anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
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
/// Streams one HTTP/2 connection may have open at once, each an HTTP
/// request or a WebSocket: a browser tab's sockets to one origin fit.
const MAX_HTTP2_STREAMS: u32 = 1024;

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    app: Arc<App>,
    router: Router,
    http: auto::Builder<TokioExecutor>,
    /// Set with TLS files: every connection starts with TLS.
    tls: Option<TlsAcceptor>,
    /// Serving, draining or closing: connections close once closing.
    phase: PhaseWatch,
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
    /// How long the drain takes to close every session.
    drain_window: Duration,
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
            Some(files) => {
                Some(TlsAcceptor::from_pem_files(&files.cert, &files.key)?.offering_http2())
            }
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
        let (engine, node) = start_engine(&config, settings.clone(), local_addr).await?;
        let hub = Arc::new(Hub { engine, settings });
        let (trigger, shutdown) = shutdown::channel();
        let app = Arc::new(App::new(&config, hub, shutdown, node));
        let limits = Limits::default();
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(KEEP_ALIVE_IDLE)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .max_headers(limits.max_headers);
        // HTTP/2 connections outlive their requests, so a peer that
        // vanished is found with PINGs rather than a header timeout.
        http.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEP_ALIVE_IDLE)
            .keep_alive_timeout(TLS_HANDSHAKE_TIMEOUT)
            .enable_connect_protocol()
            .max_concurrent_streams(MAX_HTTP2_STREAMS)
            .max_header_list_size(limits.max_header_bytes as u32);
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
                router: refusing_while_draining(api_routes(app.clone()), &app),
                app: app.clone(),
                http: http.clone(),
                tls: tls.clone(),
                phase: trigger.phase(),
            }),
        });
        Ok(Server {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                router: refusing_while_draining(routes(app.clone()), &app),
                app,
                http,
                tls,
                phase: trigger.phase(),
            }),
            api,
            trigger,
            drain_window: config.drain_window,
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

    /// Serves until `stop` resolves, then drains: see the module
    /// documentation. Returns when the last session is gone and HTTP
    /// connections have closed, or at the deadline (drain window +
    /// [`SHUTDOWN_GRACE`]).
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        self.serve_until_then_hurry(stop, std::future::pending())
            .await;
    }

    /// [`Server::serve_until`], and when `hurry` resolves during the drain
    /// (a second Ctrl-C, say), every session still open is closed at once.
    async fn serve_until_then_hurry(
        self,
        stop: impl Future<Output = ()>,
        hurry: impl Future<Output = ()>,
    ) {
        let Server {
            listener,
            shared,
            api,
            trigger,
            drain_window,
            ..
        } = self;
        let mut connections = JoinSet::new();
        let expiry = tokio::spawn(expire_history(shared.app.hub.clone()));
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                accepted = listener.accept() => accept(accepted, &shared, &mut connections).await,
                accepted = accept_api(&api) => accept_on_api(accepted, &mut connections).await,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drain(
            &listener,
            &api,
            &shared,
            &trigger,
            drain_window,
            hurry,
            &mut connections,
        )
        .await;
        expiry.abort();
        if let Some(redis) = shared.app.hub.engine.as_redis() {
            redis.leave_registry().await;
        }
        tracing::info!("stopped");
    }
}

/// The configured engine and this node's identity. The Redis engine
/// connects here, so that `serve` fails at start, saying how to fix it,
/// when Redis cannot be reached.
async fn start_engine(
    config: &HubConfig,
    settings: Arc<switchboard_hub_core::Settings>,
    local_addr: SocketAddr,
) -> Result<(Engine, NodeIdentity), ServeError> {
    match &config.engine {
        EngineKind::Memory => Ok((
            Engine::memory(settings, epoch_seed()),
            NodeIdentity::new(config.node_name.clone()),
        )),
        EngineKind::Redis(options) => {
            // Several nodes may share a host: the port tells them apart.
            let name = config
                .node_name
                .clone()
                .unwrap_or_else(|| format!("{}:{}", host_name(), local_addr.port()));
            let node = NodeIdentity::new(Some(name));
            let registry_name = NodeName {
                id: node.uid.clone(),
                name: node.name.clone(),
            };
            let engine = RedisEngine::connect(settings, options, registry_name)
                .await
                .map_err(|source| ServeError::Redis {
                    url: options.url.clone(),
                    source,
                })?;
            tracing::info!(url = options.url, node = node.name, "engine: Redis");
            Ok((Engine::Redis(engine), node))
        }
    }
}

/// Spawns the task of a connection accepted on the main listener.
async fn accept(
    accepted: std::io::Result<(TcpStream, SocketAddr)>,
    shared: &Arc<Shared>,
    connections: &mut JoinSet<()>,
) {
    match accepted {
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
    }
}

/// Spawns the task of a connection accepted on the API listener.
async fn accept_on_api(
    accepted: std::io::Result<(TcpStream, SocketAddr, Arc<Shared>)>,
    connections: &mut JoinSet<()>,
) {
    match accepted {
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
    }
}

/// The drain: not ready at once, sessions released a batch per tick,
/// probes still answered, until every session is gone or the deadline;
/// then HTTP connections finish their request and close.
async fn drain(
    listener: &TcpListener,
    api: &Option<ApiListener>,
    shared: &Arc<Shared>,
    trigger: &Trigger,
    window: Duration,
    hurry: impl Future<Output = ()>,
    connections: &mut JoinSet<()>,
) {
    let app = &shared.app;
    let metrics = app.hub.engine.metrics();
    trigger.start_drain();
    let open = trigger.open_sessions();
    let plan = DrainPlan::new(open, window);
    let deadline = Instant::now() + window + SHUTDOWN_GRACE;
    let deadline_unix = (std::time::SystemTime::now() + window + SHUTDOWN_GRACE)
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    metrics.drain_started(open as u64, plan.batch as u64, deadline_unix);
    tracing::info!(
        open,
        batch = plan.batch,
        tick = ?plan.tick,
        window = ?window,
        "shutting down: draining {open} WebSocket sessions, at most {} every {:?}",
        plan.batch,
        plan.tick
    );
    // Every WebSocket session holds a slot until its close handshake is
    // over: all slots back means the last client is gone.
    let all_gone = app.sessions.acquire_many(app.max_connections as u32);
    tokio::pin!(all_gone);
    let mut ticks = tokio::time::interval(plan.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let report = || {
        metrics.drain_progress(
            trigger.open_sessions() as u64,
            trigger.ended_while_draining(),
        )
    };
    tokio::pin!(hurry);
    let mut hurried = false;
    let finished = loop {
        tokio::select! {
            _ = &mut all_gone => break true,
            () = &mut hurry, if !hurried => {
                hurried = true;
                tracing::info!(
                    left = trigger.open_sessions(),
                    "closing every WebSocket session now"
                );
                // Releases everyone at once; the loop goes on until they
                // have closed or the deadline.
                trigger.release(usize::MAX);
                report();
            }
            () = tokio::time::sleep_until(deadline) => break false,
            _ = ticks.tick() => {
                trigger.release(plan.batch);
                report();
            }
            () = trigger.session_ended() => report(),
            accepted = listener.accept() => accept(accepted, shared, connections).await,
            accepted = accept_api(api) => accept_on_api(accepted, connections).await,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    };
    report();
    if finished {
        tracing::info!("drained: every WebSocket session has closed");
    } else {
        tracing::warn!(
            left = trigger.open_sessions(),
            "WebSocket sessions still open at the drain deadline; dropping them"
        );
    }
    // Releases any session left and lets HTTP connections finish the
    // request in progress.
    trigger.close();
    let closed = tokio::time::timeout_at(deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if closed.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections still open at the drain deadline; dropping them"
        );
        connections.shutdown().await;
    }
}

/// Adds the drain's refusals (upgrades and API calls get 503 once the
/// stop signal came) in front of a route table.
fn refusing_while_draining(router: Router, app: &Arc<App>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        refuse_while_draining,
    ))
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
    // The first signal starts the drain; a second one (an impatient
    // Ctrl-C) closes every session still open at once.
    let (count, counted) = tokio::sync::watch::channel(0_u32);
    let listening = tokio::spawn(async move {
        loop {
            let signal = signals.recv().await;
            count.send_modify(|received| *received += 1);
            if *count.borrow() == 1 {
                tracing::info!(
                    signal,
                    "stop signal received; a second one ends the drain at once"
                );
            } else {
                tracing::info!(signal, "second stop signal received");
            }
        }
    });
    let signals_received = |at_least: u32| {
        let mut counted = counted.clone();
        async move {
            // The sender lives as long as `listening`, which outlives
            // serving: an error cannot happen before the end.
            let _ = counted.wait_for(|received| *received >= at_least).await;
        }
    };
    server
        .serve_until_then_hurry(signals_received(1), signals_received(2))
        .await;
    listening.abort();
    Ok(())
}

/// One accepted TCP connection, in its own span: TLS first if configured
/// (on a plain port, a TLS client is answered at once), then HTTP.
async fn connection(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let span = tracing::info_span!("conn", %peer);
    async {
        let mut phase = shared.phase.clone();
        let Some(acceptor) = &shared.tls else {
            let deadline = Instant::now() + FIRST_REQUEST_TIMEOUT;
            let first = tokio::select! {
                first = plain_port::classify(&tcp, deadline) => first,
                () = phase.reached(Phase::Closing) => return,
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
            () = phase.reached(Phase::Closing) => return,
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

/// Serves HTTP/1.1 or HTTP/2 on `io` until it closes (or, on HTTP/1.1,
/// switches to WebSocket). The first request head must be complete by
/// `first_head_deadline`.
async fn serve_http<S>(io: S, shared: &Shared, first_head_deadline: Instant)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let first_request_seen = Arc::new(AtomicBool::new(false));
    let service = HttpService::new(
        shared.router.clone(),
        first_request_seen.clone(),
        shared.app.clone(),
    );
    let conn = shared
        .http
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut phase = shared.phase.clone();
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
            () = phase.reached(Phase::Closing), if !stopping => {
                // Finishes an answer in progress, then closes; an idle
                // keep-alive connection closes at once.
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}
