//! [`ServeError`]: why the server could not start.

/// Why [`run`](crate::run) or [`Server::bind`](crate::Server::bind)
/// failed. Once serving, connection-level failures are only logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The Ctrl-C/SIGTERM handlers could not be installed.
    #[error("cannot install the Ctrl-C/SIGTERM handlers: {0}; is this process allowed to handle signals?")]
    Signals(#[source] std::io::Error),
    /// The TLS certificate chain or key could not be loaded.
    #[error("cannot load the TLS certificate chain or key: {0}")]
    Tls(#[from] switchboard::tls::TlsError),
    /// The hub's node configuration cannot run.
    #[error("the hub configuration is invalid: {0}")]
    Node(#[from] switchboard_hub_core::config::ConfigError),
    /// A token key (HMAC secret, RSA or ECDSA public key) cannot be used.
    #[error("cannot verify tokens: {0}")]
    Auth(#[from] crate::auth::AuthError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; is the address free and valid?")]
    Bind {
        /// The address as configured.
        addr: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Anonymous hub connections would be accepted on an address other
    /// than loopback.
    #[error(
        "refusing to accept anonymous hub connections on {addr}, which is not a loopback address: \
         pass --allow-anonymous (or set allow_anonymous_connect = true in the [hub] table of the \
         config file) to allow them there, set allow_anonymous_connect = false, or listen on \
         127.0.0.1"
    )]
    AnonymousOnPublicAddress {
        /// The bound address.
        addr: std::net::SocketAddr,
    },
    /// The server API would serve on an address other than loopback
    /// without a key.
    #[error(
        "refusing to serve the server API on {addr}, which is not a loopback address, without a \
         key: pass --api-key KEY (or set api_key in the config file), or serve the API on a \
         loopback address with --api-listen 127.0.0.1:PORT"
    )]
    ApiKeyRequired {
        /// The address the API would serve on.
        addr: std::net::SocketAddr,
    },
    /// The Redis engine could not reach Redis at start.
    #[error(
        "cannot start the Redis engine with {url}: start redis-server (e.g. `redis-server --port \
         6379`), point --redis-url at a running one, or run a single node without --engine redis"
    )]
    Redis {
        /// The Redis URL configured.
        url: String,
        /// Why it failed.
        #[source]
        source: switchboard_hub_redis::RedisEngineError,
    },
}
