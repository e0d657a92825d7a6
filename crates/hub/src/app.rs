//! [`App`]: what every request handler and session task shares.

use std::sync::Arc;

use switchboard::proto::MemoryBudget;
use switchboard::upgrade::WebSocketUpgrade;
use switchboard::{Config, DeflateConfig, Limits, Settings as WebSocketSettings};
use tokio::sync::Semaphore;

use switchboard_hub_core::Settings;

use crate::api::{ApiAccess, NodeIdentity};
use crate::chat::{self, MAX_CHAT_MESSAGE};
use crate::config::{normalize_origin, HubConfig, DEFAULT_PING_INTERVAL};
use crate::connection_rate::ConnectionRate;
use crate::engine::Engine;
use crate::shutdown::Shutdown;

/// The WebSocket settings of one route.
#[derive(Debug, Clone)]
pub(crate) struct SocketSettings {
    /// Shared by every connection of the route (a copy per connection
    /// would cost each idle one about 130 bytes).
    settings: Arc<WebSocketSettings>,
    deflate: Option<DeflateConfig>,
}

impl SocketSettings {
    fn new(config: Config, limits: Limits, deflate: Option<DeflateConfig>) -> Self {
        SocketSettings {
            settings: Arc::new(WebSocketSettings::new(config, limits)),
            deflate,
        }
    }

    /// Applies these settings to an upgrade being answered.
    pub(crate) fn apply(&self, mut upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
        upgrade = upgrade.settings(self.settings.clone());
        if let Some(deflate) = &self.deflate {
            upgrade = upgrade.deflate(deflate.clone());
        }
        upgrade
    }
}

/// The Centrifugo hub: its checked settings and the engine.
#[derive(Debug)]
pub(crate) struct Hub {
    /// Node configuration and namespace table, shared with every session.
    pub(crate) settings: Arc<Settings>,
    /// Where channels live.
    pub(crate) engine: Engine,
}

/// Shared state of the running server.
#[derive(Debug)]
pub(crate) struct App {
    /// Allowed browser origins (normalised); empty allows any.
    origins: Vec<String>,
    /// One permit per open WebSocket session (`max_connections`).
    pub(crate) sessions: Arc<Semaphore>,
    /// The configured bound, for logs.
    pub(crate) max_connections: usize,
    /// New connections per second (`connection_rate`); `None` when off.
    pub(crate) connection_rate: Option<ConnectionRate>,
    /// `/echo`'s WebSocket settings.
    pub(crate) echo_socket: SocketSettings,
    /// `/chat`'s WebSocket settings (messages capped for the room).
    pub(crate) chat_socket: SocketSettings,
    /// `/connection/websocket`'s WebSocket settings (no WebSocket pings:
    /// the protocol pings on its own).
    pub(crate) hub_socket: SocketSettings,
    /// The hub.
    pub(crate) hub: Arc<Hub>,
    /// Numbers of `/chat` members.
    pub(crate) members: chat::Members,
    /// Set once the server starts shutting down.
    pub(crate) shutdown: Shutdown,
    /// The server API's key and this node's identity.
    pub(crate) api: ApiAccess,
    /// Whether the main listener serves the server API, `/metrics` and
    /// `/info` (no separate `api_listen` address).
    pub(crate) api_on_main: bool,
    /// Where the demo page's files are (`/` and `/assets/*`).
    pub(crate) web_root: std::path::PathBuf,
}

impl App {
    pub(crate) fn new(
        config: &HubConfig,
        hub: Arc<Hub>,
        shutdown: Shutdown,
        node: NodeIdentity,
    ) -> Self {
        let socket_config = Config::default()
            .ping_interval(config.ping_interval)
            .pong_timeout(config.ping_interval.unwrap_or(DEFAULT_PING_INTERVAL));
        let mut limits = Limits::default()
            .max_message_size(config.max_message_size)
            .max_frame_size(config.max_frame_size);
        // One budget for every route's receive side and the hub's queues.
        if config.memory_budget > 0 {
            let budget = MemoryBudget::new(config.memory_budget);
            hub.engine.use_memory_budget(budget.clone());
            limits = limits.memory_budget(budget);
        }
        let chat_limits = limits
            .clone()
            .max_message_size(config.max_message_size.min(MAX_CHAT_MESSAGE))
            .max_frame_size(config.max_frame_size.min(MAX_CHAT_MESSAGE));
        App {
            origins: config.origins.iter().map(|o| normalize_origin(o)).collect(),
            sessions: Arc::new(Semaphore::new(config.max_connections)),
            max_connections: config.max_connections,
            connection_rate: ConnectionRate::new(config.connection_rate, config.connection_burst),
            hub_socket: SocketSettings::new(
                Config::default().ping_interval(None),
                limits
                    .clone()
                    .max_message_size(config.max_message_size.min(config.hub_max_message_size))
                    .max_frame_size(config.max_frame_size.min(config.hub_max_message_size)),
                config.deflate.clone(),
            ),
            hub,
            echo_socket: SocketSettings::new(socket_config.clone(), limits, config.deflate.clone()),
            chat_socket: SocketSettings::new(socket_config, chat_limits, config.deflate.clone()),
            members: chat::Members::new(),
            shutdown,
            api: ApiAccess {
                key: config.api_key.clone(),
                node,
            },
            api_on_main: config.api_listen.is_none(),
            web_root: config.web_root.clone(),
        }
    }

    /// Whether a browser page from `origin` may open a WebSocket.
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.is_empty() || self.origins.contains(&normalize_origin(origin))
    }
}
