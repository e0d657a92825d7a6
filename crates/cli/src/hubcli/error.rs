//! What can go wrong in `sub` and `pub`, each saying what to do.

/// A failure of `sub` or `pub`.
#[derive(Debug, thiserror::Error)]
pub enum HubCliError {
    /// The URL is not a ws:// or wss:// URL.
    #[error("{url:?} is not a hub URL; write e.g. ws://127.0.0.1:8080/connection/websocket")]
    BadUrl {
        /// What was given.
        url: String,
    },
    /// DATA is not JSON.
    #[error("DATA must be a JSON value, e.g. '{{\"text\":\"hi\"}}' or '\"hi\"' (or pass --text): {source}")]
    DataNotJson {
        /// The parse error.
        source: serde_json::Error,
    },
    /// The CA file could not be used.
    #[error("cannot use the CA file: {0}; pass a PEM certificate with --ca")]
    Ca(#[source] switchboard::tls::TlsError),
    /// The WebSocket could not be opened or broke.
    #[error("{0}; is `switchboard serve` running at that address?")]
    Socket(#[from] switchboard::Error),
    /// The hub answered a command with an error.
    #[error("the hub refused {command}: {code} {message}")]
    Refused {
        /// `connect`, `subscribe` or `publish`.
        command: &'static str,
        /// The protocol's error code (e.g. 103 permission denied).
        code: u32,
        /// Its message.
        message: String,
    },
    /// The hub closed the connection with a code that forbids reconnecting.
    #[error("the hub closed the connection for good: {code} {reason}")]
    Terminal {
        /// The close (disconnect) code, 3500-3999 or 4500-4999.
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// The connection ended before the reply came.
    #[error("the connection ended ({0}) before the hub answered; check the server log")]
    Ended(String),
    /// The hub sent something that is not the protocol.
    #[error("the hub sent a message that is not Centrifugo JSON: {0}")]
    Malformed(String),
    /// No answer in time.
    #[error("no answer from the hub within {0:?}; check the URL (path /connection/websocket)")]
    Timeout(std::time::Duration),
}
