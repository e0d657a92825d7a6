//! Error, disconnect and unsubscribe codes of the client protocol.
//!
//! The values, messages and reasons are Centrifugo's (centrifugal.dev,
//! "Client protocol codes"), so the official SDKs react to them as they do
//! with Centrifugo:
//!
//! - an [`ErrorCode`] travels in the `error` of a reply to one command; the
//!   connection stays open and `temporary` tells the client it may retry;
//! - a [`DisconnectCode`] closes the connection (as the WebSocket close code
//!   and reason); codes 3000-3499 and 4000-4499 make the client reconnect,
//!   3500-3999 and 4500-4999 are terminal;
//! - an [`UnsubscribeCode`] ends one subscription (in an `unsubscribe` push);
//!   codes from 2500 make the client resubscribe.

use crate::wire::messages::{Disconnect, Error, Unsubscribe};

/// An error returned in the reply to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode {
    /// The numeric code (`Error.code`).
    pub code: u32,
    /// The message the SDKs and logs show (`Error.message`).
    pub message: &'static str,
    /// Whether the client may retry the same command (`Error.temporary`).
    pub temporary: bool,
}

impl ErrorCode {
    /// 100: the server failed; the client is probably not at fault and may retry.
    pub const INTERNAL: Self = Self::new(100, "internal server error", true);
    /// 101: the request is not authorized; the client must not retry as is.
    pub const UNAUTHORIZED: Self = Self::new(101, "unauthorized", false);
    /// 102: the channel's namespace does not exist; fix the channel name.
    pub const UNKNOWN_CHANNEL: Self = Self::new(102, "unknown channel", false);
    /// 103: the client may not access this resource.
    pub const PERMISSION_DENIED: Self = Self::new(103, "permission denied", false);
    /// 104: the command or RPC method does not exist on this server.
    pub const METHOD_NOT_FOUND: Self = Self::new(104, "method not found", false);
    /// 105: the connection is already subscribed to the channel.
    pub const ALREADY_SUBSCRIBED: Self = Self::new(105, "already subscribed", false);
    /// 106: some limit was exceeded (channels per connection, message size...).
    pub const LIMIT_EXCEEDED: Self = Self::new(106, "limit exceeded", false);
    /// 107: the command is malformed (e.g. no channel, publish data that is
    /// not JSON in the JSON format); retrying it unchanged is pointless.
    pub const BAD_REQUEST: Self = Self::new(107, "bad request", false);
    /// 108: the feature (history, presence, publishing) is off for this channel.
    pub const NOT_AVAILABLE: Self = Self::new(108, "not available", false);
    /// 109: the connection or subscription token expired; the client gets a
    /// new token and tries again.
    pub const TOKEN_EXPIRED: Self = Self::new(109, "token expired", false);
    /// 110: the connection expired (no token involved).
    pub const EXPIRED: Self = Self::new(110, "expired", false);
    /// 111: rate limited; the client may retry later.
    pub const TOO_MANY_REQUESTS: Self = Self::new(111, "too many requests", true);
    /// 112: the stream no longer holds the requested range (window passed or
    /// wrong epoch).
    pub const UNRECOVERABLE_POSITION: Self = Self::new(112, "unrecoverable position", false);

    /// Every built-in error code, in numeric order.
    pub const ALL: [Self; 13] = [
        Self::INTERNAL,
        Self::UNAUTHORIZED,
        Self::UNKNOWN_CHANNEL,
        Self::PERMISSION_DENIED,
        Self::METHOD_NOT_FOUND,
        Self::ALREADY_SUBSCRIBED,
        Self::LIMIT_EXCEEDED,
        Self::BAD_REQUEST,
        Self::NOT_AVAILABLE,
        Self::TOKEN_EXPIRED,
        Self::EXPIRED,
        Self::TOO_MANY_REQUESTS,
        Self::UNRECOVERABLE_POSITION,
    ];

    const fn new(code: u32, message: &'static str, temporary: bool) -> Self {
        Self {
            code,
            message,
            temporary,
        }
    }

    /// The protocol message for a reply's `error` field.
    pub fn to_error(self) -> Error {
        Error {
            code: self.code,
            message: self.message.to_owned(),
            temporary: self.temporary,
        }
    }
}

/// A reason for the server to close a connection: the WebSocket close code
/// and reason, and the `disconnect` push of unidirectional transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DisconnectCode {
    /// The close code.
    pub code: u16,
    /// The close reason (under 123 bytes, as a close frame requires).
    pub reason: &'static str,
}

impl DisconnectCode {
    /// 3000: the connection closed with no advice from the server (the
    /// client went away or the network dropped); used in logs and metrics.
    pub const CONNECTION_CLOSED: Self = Self::new(3000, "connection closed");
    /// 3001: the node is shutting down; the client reconnects (to another node).
    pub const SHUTDOWN: Self = Self::new(3001, "shutdown");
    /// 3004: an internal server error; the client reconnects.
    pub const SERVER_ERROR: Self = Self::new(3004, "internal server error");
    /// 3005: the connection expired; the client reconnects with a fresh token.
    pub const EXPIRED: Self = Self::new(3005, "connection expired");
    /// 3006: a subscription expired; the client reconnects.
    pub const SUBSCRIPTION_EXPIRED: Self = Self::new(3006, "subscription expired");
    /// 3008: the client did not read fast enough (its outbound queue
    /// overflowed or a write timed out); the client reconnects and recovers.
    pub const SLOW: Self = Self::new(3008, "slow");
    /// 3009: writing to the connection failed; the client reconnects.
    pub const WRITE_ERROR: Self = Self::new(3009, "write error");
    /// 3010: the server found a gap in the client's stream position; the
    /// client reconnects and recovers the missed publications.
    pub const INSUFFICIENT_STATE: Self = Self::new(3010, "insufficient state");
    /// 3011: the server asks the client to reconnect.
    pub const FORCE_RECONNECT: Self = Self::new(3011, "force reconnect");
    /// 3012: the client did not answer a server ping in time; it reconnects.
    pub const NO_PONG: Self = Self::new(3012, "no pong");
    /// 3013: the client sent too many commands; it reconnects after a backoff.
    pub const TOO_MANY_REQUESTS: Self = Self::new(3013, "too many requests");
    /// 3500: the connection token is invalid; the client does not reconnect.
    pub const INVALID_TOKEN: Self = Self::new(3500, "invalid token");
    /// 3501: the client sent a malformed frame or commands in a wrong order;
    /// terminal.
    pub const BAD_REQUEST: Self = Self::new(3501, "bad request");
    /// 3502: the connection did not authenticate in time after dialing; terminal.
    pub const STALE: Self = Self::new(3502, "stale");
    /// 3503: the server disconnects the client for good; terminal.
    pub const FORCE_NO_RECONNECT: Self = Self::new(3503, "force disconnect");
    /// 3504: the user exceeded the connection limit; terminal.
    pub const CONNECTION_LIMIT: Self = Self::new(3504, "connection limit");
    /// 3505: the connection exceeded the channel limit; terminal.
    pub const CHANNEL_LIMIT: Self = Self::new(3505, "channel limit");
    /// 3506: the connection's format cannot carry the data, e.g. a JSON client
    /// would receive a publication whose data is not JSON; terminal.
    pub const INAPPROPRIATE_PROTOCOL: Self = Self::new(3506, "inappropriate protocol");
    /// 3507: the client lacks the permissions to use the server; terminal.
    pub const PERMISSION_DENIED: Self = Self::new(3507, "permission denied");
    /// 3508: the command has no reply to carry an error (e.g. `send` with no
    /// handler on the server) and the feature is off; terminal.
    pub const NOT_AVAILABLE: Self = Self::new(3508, "not available");
    /// 3509: the client caused too many errors; terminal.
    pub const TOO_MANY_ERRORS: Self = Self::new(3509, "too many errors");

    /// Every built-in disconnect code, in numeric order.
    pub const ALL: [Self; 21] = [
        Self::CONNECTION_CLOSED,
        Self::SHUTDOWN,
        Self::SERVER_ERROR,
        Self::EXPIRED,
        Self::SUBSCRIPTION_EXPIRED,
        Self::SLOW,
        Self::WRITE_ERROR,
        Self::INSUFFICIENT_STATE,
        Self::FORCE_RECONNECT,
        Self::NO_PONG,
        Self::TOO_MANY_REQUESTS,
        Self::INVALID_TOKEN,
        Self::BAD_REQUEST,
        Self::STALE,
        Self::FORCE_NO_RECONNECT,
        Self::CONNECTION_LIMIT,
        Self::CHANNEL_LIMIT,
        Self::INAPPROPRIATE_PROTOCOL,
        Self::PERMISSION_DENIED,
        Self::NOT_AVAILABLE,
        Self::TOO_MANY_ERRORS,
    ];

    const fn new(code: u16, reason: &'static str) -> Self {
        Self { code, reason }
    }

    /// Whether the client reconnects after this code: 3000-3499, 4000-4499
    /// and 5000 and above do; 3500-3999 and 4500-4999 are terminal.
    pub const fn reconnect(self) -> bool {
        reconnect_advised(self.code)
    }

    /// The `disconnect` push message for this code.
    pub fn to_disconnect(self) -> Disconnect {
        Disconnect {
            code: u32::from(self.code),
            reason: self.reason.to_owned(),
            reconnect: self.reconnect(),
        }
    }
}

/// Whether a client reconnects after close code `code` (the SDKs' rule,
/// which also covers application codes 4000-4999).
pub const fn reconnect_advised(code: u16) -> bool {
    code < 3500 || code >= 5000 || (code >= 4000 && code < 4500)
}

/// Why the server ended one subscription (the `unsubscribe` push).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnsubscribeCode {
    /// The code (`Unsubscribe.code`).
    pub code: u32,
    /// The reason (`Unsubscribe.reason`).
    pub reason: &'static str,
}

impl UnsubscribeCode {
    /// 2000: the server unsubscribed the client on purpose; the subscription
    /// ends and the client does not resubscribe.
    pub const SERVER: Self = Self {
        code: 2000,
        reason: "server unsubscribe",
    };
    /// 2500: the server found a gap in the subscription's stream; the client
    /// resubscribes from its last position and recovers what it missed.
    pub const INSUFFICIENT_STATE: Self = Self {
        code: 2500,
        reason: "insufficient state",
    };

    /// Whether the client resubscribes after this code (codes from 2500).
    pub const fn resubscribe(self) -> bool {
        self.code >= 2500
    }

    /// The `unsubscribe` push message for this code.
    pub fn to_unsubscribe(self) -> Unsubscribe {
        Unsubscribe {
            code: self.code,
            reason: self.reason.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_follows_the_code_ranges() {
        let reconnecting: Vec<u16> = DisconnectCode::ALL
            .iter()
            .filter(|code| code.reconnect())
            .map(|code| code.code)
            .collect();
        assert_eq!(
            reconnecting,
            [3000, 3001, 3004, 3005, 3006, 3008, 3009, 3010, 3011, 3012, 3013]
        );
        assert!(reconnect_advised(4499));
        assert!(!reconnect_advised(4500));
        assert!(reconnect_advised(5000));
    }

    #[test]
    fn temporary_errors_are_internal_and_rate_limit() {
        let temporary: Vec<u32> = ErrorCode::ALL
            .iter()
            .filter(|code| code.temporary)
            .map(|code| code.code)
            .collect();
        assert_eq!(temporary, [100, 111]);
        let codes: Vec<u32> = ErrorCode::ALL.iter().map(|code| code.code).collect();
        assert_eq!(codes, (100..=112).collect::<Vec<_>>());
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert!(DisconnectCode::ALL
            .iter()
            .all(|code| code.reason.len() <= 123));
    }

    #[test]
    fn unsubscribe_codes_split_at_2500() {
        assert!(!UnsubscribeCode::SERVER.resubscribe());
        assert!(UnsubscribeCode::INSUFFICIENT_STATE.resubscribe());
        assert_eq!(
            UnsubscribeCode::INSUFFICIENT_STATE.to_unsubscribe().code,
            2500
        );
    }
}
