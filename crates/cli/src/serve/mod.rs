//! `switchboard serve`: flags and the TOML config file become a
//! [`switchboard_hub::HubConfig`], and [`switchboard_hub::run`] serves it.
//! The routes, the limits and the shutdown live in `switchboard_hub`; see
//! [`ServeArgs`] for the options.

mod settings;

pub use settings::{
    normalize_origin, EngineChoice, PingInterval, ServeArgs, ServeFile, ServeSettings, SizeValue,
    TlsFiles, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PING_INTERVAL, DEFAULT_REDIS_URL,
};
pub use switchboard_hub::{
    ChatProtocol, BACKLOG, CHAT_PAGE, MAX_CHAT_MESSAGE, SEND_TIMEOUT, SHUTDOWN_GRACE,
};

/// Runs the server until Ctrl-C or SIGTERM, then shuts down gracefully.
///
/// Logs `listening on ADDR` (the bound address, useful with port 0) once
/// the socket is bound and the signal handlers are installed.
pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    let config = settings.hub_config();
    if config.memory_budget > 0 {
        crate::allocator::return_freed_memory();
    }
    switchboard_hub::run(config).await?;
    Ok(())
}
