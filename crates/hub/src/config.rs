//! [`HubConfig`]: everything `switchboard serve` runs with, each default
//! once, with its reason.

use std::path::PathBuf;
use std::time::Duration;

use switchboard::DeflateConfig;
use switchboard_hub_core::NodeConfig;

/// Default listen address: loopback only, so a first run exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default keepalive ping interval: 20 s stays under the 60 s idle timeout
/// of nginx, AWS ALB and common HAProxy setups (the driver's default).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Default largest message (after reassembly and decompression): 4 MiB.
/// Large enough for file chunks and the echo tests' 4 MiB messages, small
/// enough that one peer cannot make the server hold tens of MiB: at
/// 64 MiB, one 1 MiB permessage-deflate bomb grew `serve --compression on`
/// by 63 MiB before the 1009. Raise it with `--max-message-size` for
/// trusted peers (the Autobahn server sets its own limits).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 << 20;
/// Default largest frame when `max_message_size` is raised: 16 MiB (frames
/// are capped at the smaller of the two).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
/// Default largest message on the hub route: 64 KiB, Centrifugo's
/// WebSocket `message_size_limit`. Commands are small; a larger bound only
/// lets one client make the server buffer more.
pub const DEFAULT_HUB_MAX_MESSAGE_SIZE: usize = 64 << 10;
/// Default bound on open WebSocket sessions. At a few KiB per idle
/// connection this is tens of MiB, safe on any machine.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default new WebSocket connections per second: 1000 sustained, beyond
/// what one node's TLS handshakes and connect commands comfortably take,
/// so a flood of new connections is answered with 503 + `Retry-After`
/// instead of eating the CPU that open sessions need.
pub const DEFAULT_CONNECTION_RATE: u32 = 1000;
/// Default burst of new connections: [`DEFAULT_MAX_CONNECTIONS`], so that
/// after a restart every client of a full node may reconnect at once; only
/// churn beyond that is held to [`DEFAULT_CONNECTION_RATE`].
pub const DEFAULT_CONNECTION_BURST: u32 = 10_000;
/// Default drain window: 30 s spreads the reconnects of 10,000 clients to
/// about 80 per 250 ms tick, and with the 5 s grace still fits a
/// Kubernetes `terminationGracePeriodSeconds` of 40.
pub const DEFAULT_DRAIN_WINDOW: Duration = Duration::from_secs(30);

/// Default node-wide memory budget: 256 MiB for bytes held on peers'
/// behalf (partly received and inflating messages on every WebSocket
/// route, hub outbound queues). Fixed rather than a fraction of RAM so
/// that a node behaves the same on every machine; on a small container
/// lower it with `--memory-budget`. At the defaults it is 64 messages of
/// the largest size at once, or 256 hub clients with full 1 MiB queues.
pub const DEFAULT_MEMORY_BUDGET: usize = 256 << 20;

/// The server's whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// Address to bind (`host:port`; port 0 picks a free port).
    pub listen: String,
    /// Certificate chain and key for HTTPS/wss://; `None` serves plain
    /// HTTP and ws:// (and answers TLS clients at once that it does not
    /// speak TLS).
    pub tls: Option<TlsFiles>,
    /// Allowed browser origins, as [`normalize_origin`] writes them; empty
    /// allows every origin.
    pub origins: Vec<String>,
    /// permessage-deflate for clients that offer it; `None` turns it off
    /// (the default: compression costs memory per connection).
    pub deflate: Option<DeflateConfig>,
    /// WebSocket keepalive ping interval (also the pong timeout); `None`
    /// disables keepalive.
    pub ping_interval: Option<Duration>,
    /// Largest WebSocket message accepted (larger ones close with 1009).
    pub max_message_size: usize,
    /// Largest WebSocket frame accepted.
    pub max_frame_size: usize,
    /// Largest WebSocket message accepted on `/connection/websocket`
    /// (also capped by `max_message_size`).
    pub hub_max_message_size: usize,
    /// Most WebSocket sessions open at once; further upgrades get 503.
    pub max_connections: usize,
    /// New WebSocket connections per second on the whole node, every
    /// WebSocket route together; beyond it upgrades get 503 with
    /// `Retry-After` (seconds until a connection would be admitted). 0
    /// turns the limit off.
    pub connection_rate: u32,
    /// New connections admitted at once under `connection_rate` (0: one
    /// second's worth).
    pub connection_burst: u32,
    /// Node-wide bytes held on peers' behalf: frames being read, messages
    /// being reassembled or inflated (every WebSocket route) and hub
    /// outbound queues. A message that does not fit closes its connection
    /// with 1009; a push that does not fit sheds the largest hub queues
    /// with 3008 (recoverable). 0 turns the budget off.
    pub memory_budget: usize,
    /// Accept anonymous hub connections (`node.allow_anonymous_connect`)
    /// even when the listen address is not loopback. Off by default, so
    /// that an embedded default never exposes an open hub by accident:
    /// [`Server::bind`](crate::Server::bind) refuses to start instead.
    pub allow_anonymous_beyond_loopback: bool,
    /// The server API key (`X-API-Key: KEY` or `Authorization: apikey
    /// KEY` on `POST /api/<method>`). Without one the API only serves on a
    /// loopback address; [`Server::bind`](crate::Server::bind) refuses to
    /// start otherwise.
    pub api_key: Option<String>,
    /// A separate address for the server API, `/metrics` and `/info`
    /// (e.g. an internal network); `None` serves them on `listen`.
    pub api_listen: Option<String>,
    /// The hub at `/connection/websocket`: namespaces, history, presence,
    /// timeouts and queue bounds (the embedded defaults allow anonymous
    /// clients, history, presence, join/leave, publishing and recovery on
    /// every channel).
    pub node: NodeConfig,
    /// The built demo page (`index.html` and `assets/`) served at `/` and
    /// `/assets/*`; without one `/` says how to build it. Defaults to
    /// [`default_web_root`](crate::default_web_root).
    pub web_root: PathBuf,
    /// After a stop signal, how long the drain takes to close every
    /// WebSocket session (in batches, see `switchboard_hub::DRAIN_TICK`);
    /// the process exits at this plus
    /// [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE) at the latest.
    pub drain_window: Duration,
    /// Where channels, history and presence live: this process's memory
    /// (the default) or Redis, shared by every node.
    pub engine: EngineKind,
    /// This node's name in `/info`, the API's `info` and the Redis node
    /// registry; `None`: the host name (with the port on Redis, so that
    /// several nodes on one host differ).
    pub node_name: Option<String>,
}

/// Which engine a hub runs on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Every channel in this process's memory: one node.
    #[default]
    Memory,
    /// Channels, history, presence and the node registry in Redis: any
    /// number of nodes sharing it serve any client.
    Redis(crate::engine::RedisOptions),
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            listen: DEFAULT_LISTEN.to_owned(),
            tls: None,
            origins: Vec::new(),
            deflate: None,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            hub_max_message_size: DEFAULT_HUB_MAX_MESSAGE_SIZE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connection_rate: DEFAULT_CONNECTION_RATE,
            connection_burst: DEFAULT_CONNECTION_BURST,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            allow_anonymous_beyond_loopback: false,
            api_key: None,
            api_listen: None,
            node: NodeConfig::default(),
            web_root: crate::assets::default_web_root(),
            drain_window: DEFAULT_DRAIN_WINDOW,
            engine: EngineKind::Memory,
            node_name: None,
        }
    }
}

/// The PEM files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// An origin as compared: ASCII-lowercased (scheme and host are
/// case-insensitive, RFC 6454 §4) and without a trailing `/`, which people
/// often paste along from a URL.
pub fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_without_case_or_trailing_slash() {
        assert_eq!(
            normalize_origin(" HTTPS://Example.com/ "),
            "https://example.com"
        );
        assert_eq!(normalize_origin("http://a.test"), "http://a.test");
    }
}
