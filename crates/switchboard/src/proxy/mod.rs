//! Client connections through HTTP `CONNECT` and SOCKS5 proxies.
//!
//! [`connect_tcp`] opens a TCP connection to the proxy and asks it for a
//! tunnel to the WebSocket server; the returned stream then carries the
//! WebSocket (or, for `wss://`, the TLS session, which runs end to end
//! through the tunnel: the proxy sees only ciphertext).
//!
//! Which proxy to use comes from a [`ProxyMode`]: the environment
//! (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`, with curl's
//! rules: see [`mod@env`]), an explicit [`ProxyConfig`], or none.
//!
//! ```no_run
//! use switchboard::proxy::{ProxyConfig, ProxyMode};
//! use switchboard::ClientBuilder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Explicit SOCKS5 proxy with credentials; the proxy resolves the name.
//! let proxy = ProxyConfig::parse("socks5h://user:secret@127.0.0.1:1080")?;
//! let (ws, _) = ClientBuilder::new("wss://example.com/feed").proxy(proxy).connect().await?;
//!
//! // Ignore https_proxy and friends for this client.
//! let (ws, _) = ClientBuilder::new("ws://10.0.0.5:9001/")
//!     .proxy_mode(ProxyMode::Disabled)
//!     .connect()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Both `ws://` and `wss://` use a `CONNECT` tunnel through HTTP proxies
//! (never a plain forwarded `GET`), because proxies that do not understand
//! `Upgrade` would break the handshake otherwise.

mod config;
pub mod env;
mod error;
mod http_connect;
mod socks5;

use std::time::Duration;

use tokio::net::TcpStream;

pub use config::{ProxyConfig, ProxyCredentials, ProxyProtocol, DEFAULT_PROXY_PORT};
pub use env::{NoProxy, ProxyEnv};
pub use error::ProxyError;

use config::{strip_brackets, HostPort};

/// Where a client's proxy setting comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyMode {
    /// Read `https_proxy`/`http_proxy`/`all_proxy`/`no_proxy` (and their
    /// uppercase forms) at each connect, as curl does. The default.
    #[default]
    FromEnvironment,
    /// Always connect directly, whatever the environment says.
    Disabled,
    /// Always use this proxy (the environment, `no_proxy` included, is not
    /// consulted).
    Explicit(ProxyConfig),
}

impl ProxyMode {
    /// The proxy for a connection to `host:port` (`secure` = `wss://`), or
    /// `None` for a direct connection.
    pub fn resolve(
        &self,
        secure: bool,
        host: &str,
        port: u16,
    ) -> Result<Option<ProxyConfig>, ProxyError> {
        match self {
            Self::FromEnvironment => ProxyEnv::from_env().proxy_for(secure, host, port),
            Self::Disabled => Ok(None),
            Self::Explicit(proxy) => Ok(Some(proxy.clone())),
        }
    }
}

impl From<ProxyConfig> for ProxyMode {
    fn from(proxy: ProxyConfig) -> Self {
        Self::Explicit(proxy)
    }
}

/// Connects to `proxy` and opens a tunnel to `host:port` (`host` may be a
/// name or an IP literal, IPv6 with or without brackets). `timeout` bounds
/// everything: the TCP connection to the proxy and the proxy handshake.
///
/// On success the stream is a byte pipe to the target with `TCP_NODELAY`
/// set; start the WebSocket (or TLS) handshake on it.
pub async fn connect_tcp(
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ProxyError> {
    let host = strip_brackets(host);
    tokio::time::timeout(timeout, connect_untimed(proxy, host, port))
        .await
        .unwrap_or_else(|_elapsed| {
            Err(ProxyError::Timeout {
                proxy: proxy.to_string(),
                target: HostPort(host, port).to_string(),
                after: timeout,
            })
        })
}

async fn connect_untimed(
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> Result<TcpStream, ProxyError> {
    let mut stream = TcpStream::connect((proxy.host(), proxy.port()))
        .await
        .map_err(|source| ProxyError::ConnectToProxy {
            proxy: proxy.to_string(),
            source,
        })?;
    // WebSocket frames are small and latency-bound; the proxy handshake
    // is too. Failing to set it only costs latency, so it is not fatal.
    let _ = stream.set_nodelay(true);
    match proxy.protocol() {
        ProxyProtocol::HttpConnect => {
            http_connect::handshake(&mut stream, proxy, host, port).await?
        }
        ProxyProtocol::Socks5 { .. } => socks5::handshake(&mut stream, proxy, host, port).await?,
    }
    Ok(stream)
}
