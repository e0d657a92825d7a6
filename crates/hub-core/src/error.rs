//! The errors a client command can end in, with their protocol codes.
//!
//! Each variant maps to exactly one error code of Centrifugo's client
//! protocol (the `code` of an error reply). The runtime and the session
//! turn a [`HubError`] into an error reply with [`HubError::code`] and the
//! variant's message; none of these errors closes the connection.

/// Why a command failed; sent back to the client as an error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The node failed in a way the client cannot fix; retrying later may
    /// work. Code 100.
    #[error("internal server error: retry later")]
    Internal,
    /// The connection has no right to do this (e.g. anonymous connections
    /// are not allowed). Code 101.
    #[error("unauthorized: connect with credentials the server accepts")]
    Unauthorized,
    /// The channel's namespace is not configured, or the name is empty.
    /// Code 102.
    #[error("unknown channel: use a configured namespace (`namespace:name`) or no namespace")]
    UnknownChannel,
    /// The namespace's options do not allow this operation for this client.
    /// Code 103.
    #[error("permission denied: the channel's namespace does not allow this operation")]
    PermissionDenied,
    /// The command's method is not known to this server. Code 104.
    #[error("method not found: send a method of client protocol v2")]
    MethodNotFound,
    /// The connection is already subscribed to the channel. Code 105.
    #[error("already subscribed: unsubscribe first or keep the existing subscription")]
    AlreadySubscribed,
    /// A limit was hit: too many channels for one connection, or a channel
    /// name too long. Code 106.
    #[error("limit exceeded: fewer channels per connection or a shorter channel name")]
    LimitExceeded,
    /// The command is malformed or misses a required field. Code 107.
    #[error("bad request: check the command's fields")]
    BadRequest,
    /// The feature is not available on this server (e.g. `rpc` without an
    /// RPC handler, history on a channel without history). Code 108.
    #[error("not available: the server does not offer this feature here")]
    NotAvailable,
    /// The connection's credentials expired. Code 109.
    #[error("token expired: refresh the connection token")]
    TokenExpired,
    /// The connection or subscription expired. Code 110.
    #[error("expired: reconnect or resubscribe")]
    Expired,
    /// The client sent too many requests. Code 111.
    #[error("too many requests: slow down")]
    TooManyRequests,
    /// The requested stream position cannot be served (offset beyond the
    /// stream's top or a different epoch). Code 112.
    #[error("unrecoverable position: resubscribe without a position")]
    UnrecoverablePosition,
}

impl HubError {
    /// The error code sent in the protocol's error reply.
    pub const fn code(&self) -> u32 {
        match self {
            Self::Internal => 100,
            Self::Unauthorized => 101,
            Self::UnknownChannel => 102,
            Self::PermissionDenied => 103,
            Self::MethodNotFound => 104,
            Self::AlreadySubscribed => 105,
            Self::LimitExceeded => 106,
            Self::BadRequest => 107,
            Self::NotAvailable => 108,
            Self::TokenExpired => 109,
            Self::Expired => 110,
            Self::TooManyRequests => 111,
            Self::UnrecoverablePosition => 112,
        }
    }

    /// Whether the client may retry the same command later (Centrifugo's
    /// `temporary` flag on error replies).
    pub const fn is_temporary(&self) -> bool {
        matches!(self, Self::Internal | Self::TooManyRequests)
    }

    /// The short message Centrifugo sends with this code.
    pub const fn protocol_message(&self) -> &'static str {
        match self {
            Self::Internal => "internal server error",
            Self::Unauthorized => "unauthorized",
            Self::UnknownChannel => "unknown channel",
            Self::PermissionDenied => "permission denied",
            Self::MethodNotFound => "method not found",
            Self::AlreadySubscribed => "already subscribed",
            Self::LimitExceeded => "limit exceeded",
            Self::BadRequest => "bad request",
            Self::NotAvailable => "not available",
            Self::TokenExpired => "token expired",
            Self::Expired => "expired",
            Self::TooManyRequests => "too many requests",
            Self::UnrecoverablePosition => "unrecoverable position",
        }
    }
}
