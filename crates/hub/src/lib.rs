//! The Switchboard hub on tokio: session tasks over
//! [`switchboard::WebSocket`], the engine (in memory, or in Redis for
//! several nodes: [`EngineKind`]), and the HTTP routes of
//! `switchboard serve`.
//!
//! [`run`] takes a [`HubConfig`] and serves until Ctrl-C or SIGTERM. Every
//! connection is HTTP/1.1 through hyper; one route table (see the
//! `router` module) answers `/` (the hub demo page from the web root),
//! `/chat.html` (a native-WebSocket chat page), `/healthz`,
//! `/echo` (WebSocket echo) and `/chat` (a WebSocket chat room with the
//! subprotocols `chat` and `superchat`); WebSocket upgrades go through
//! [`switchboard::upgrade::WebSocketUpgrade`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod admission;
mod api;
mod app;
mod assets;
pub mod auth;
mod chat;
mod close;
mod config;
mod connection_rate;
mod drain;
mod echo;
mod engine;
mod error;
mod http_service;
mod hub_session;
mod ids;
mod mailbox;
mod merge_clock;
mod metrics;
mod ops;
mod pages;
mod plain_port;
mod router;
mod server;
mod shutdown;
mod wake_batch;

pub use assets::default_web_root;
pub use chat::{ChatProtocol, BACKLOG, CHAT_CHANNEL, MAX_CHAT_MESSAGE, SEND_TIMEOUT};
pub use config::{
    normalize_origin, HubConfig, TlsFiles, DEFAULT_CONNECTION_BURST, DEFAULT_CONNECTION_RATE,
    DEFAULT_HUB_MAX_MESSAGE_SIZE, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MEMORY_BUDGET, DEFAULT_PING_INTERVAL,
};
pub use config::{EngineKind, DEFAULT_DRAIN_WINDOW};
pub use drain::DRAIN_TICK;
pub use engine::RedisOptions;
pub use error::ServeError;
pub use pages::CHAT_PAGE;
pub use server::{run, Server, SHUTDOWN_GRACE};
pub use switchboard_hub_core::NodeConfig;
