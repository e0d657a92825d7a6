//! Tokens: what a verified connection or subscription token says, and the
//! verifier seam.
//!
//! hub-core does no cryptography. The runtime installs a [`TokenVerifier`]
//! in the [`Settings`](crate::Settings) (the hub crate verifies JWTs with
//! HS256, RS256 or ES256); the session calls it synchronously while it
//! serves `connect`, `refresh`, `subscribe` and `sub_refresh`, and applies
//! Centrifugo's rules to the outcome:
//!
//! | command | token expired | token invalid (or other user/channel) |
//! | --- | --- | --- |
//! | `connect` | error 109 "token expired" (the SDK gets a new token and reconnects) | disconnect 3500 "invalid token" |
//! | `refresh` | disconnect 3005 "connection expired" | disconnect 3500 |
//! | `subscribe` | error 109 (the SDK gets a new subscription token) | disconnect 3500 |
//! | `sub_refresh` | disconnect 3006 "subscription expired" | disconnect 3500 |
//!
//! A token's expiry is handed over as the time left (`expires_in`), so the
//! session stays on its own clock: a connection not refreshed by
//! `expiry + expired_close_delay` is disconnected with 3005, a subscription
//! not refreshed by `expiry + expired_sub_close_delay` with 3006.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// The claims of a verified connection token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionToken {
    /// The user id (`sub`); empty for an anonymous user with a token.
    pub user: String,
    /// Time left until the token expires (`exp` minus now); `None` when
    /// the token has no `exp` and the connection never expires.
    pub expires_in: Option<Duration>,
    /// Connection info (`info`), raw JSON: shown as `conn_info` in
    /// presence, join/leave and publications.
    pub info: Option<Bytes>,
    /// Server-side subscriptions (`channels`): the session subscribes to
    /// them at connect and reports them in the connect reply's `subs`.
    pub channels: Vec<String>,
}

/// The claims of a verified subscription token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscriptionToken {
    /// The user id (`sub`); must equal the connection's user.
    pub user: String,
    /// The channel (`channel`); must equal the channel subscribed.
    pub channel: String,
    /// Time left until the token expires; `None`: the subscription never
    /// expires.
    pub expires_in: Option<Duration>,
    /// Channel info (`info`), raw JSON: shown as `chan_info`.
    pub info: Option<Bytes>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token verified but its `exp` has passed: the client must fetch
    /// a new one (its SDK calls `getToken`).
    #[error("the token expired: fetch a new one from the application backend")]
    Expired,
    /// The token is malformed, signed with another key or algorithm, or
    /// misses a required claim; the reason says which.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Verifies tokens for sessions. Implemented by the runtime (e.g. with a
/// JWT library); hub-core only calls it.
pub trait TokenVerifier: Send + Sync + fmt::Debug {
    /// Verifies a connection token (sent with `connect` and `refresh`).
    fn verify_connection(&self, token: &str) -> Result<ConnectionToken, TokenError>;

    /// Verifies a subscription token (sent with `subscribe` and
    /// `sub_refresh`).
    fn verify_subscription(&self, token: &str) -> Result<SubscriptionToken, TokenError>;
}

/// Whole seconds of `expires_in` for a reply's `ttl`, at least 1 so that a
/// client never sees `expires: true` with `ttl: 0` (which it would read as
/// "no expiry").
pub(super) fn ttl_seconds(expires_in: Duration) -> u32 {
    u32::try_from(expires_in.as_secs())
        .unwrap_or(u32::MAX)
        .max(1)
}
