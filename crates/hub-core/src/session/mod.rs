//! The per-connection state machine: commands in, replies and actions out.
//!
//! A [`Session`] owns the protocol state of one client connection and
//! nothing else: no socket, no clock, no access to the node. The runtime
//! (one task per connection) drives it:
//!
//! 1. [`Session::handle_frame`] with every WebSocket message received;
//! 2. [`Session::poll_action`] until `None`, running each [`Action`]
//!    against the shared node and reporting the outcome to the matching
//!    entry point ([`Session::subscribed`], [`Session::published`],
//!    [`Session::history_loaded`], [`Session::presence_loaded`],
//!    [`Session::presence_stats_loaded`]);
//! 3. [`Session::deliver`] with every [`LiveDelivery`] taken from the
//!    connection's outbound queue;
//! 4. [`Session::poll_transmit`] until `None`, writing each `Bytes` as one
//!    WebSocket message (text for JSON, binary for Protobuf);
//! 5. [`Session::poll_timeout`] / [`Session::handle_timeout`] for pings,
//!    the pong deadline and the connect deadline;
//! 6. once [`Session::poll_disconnect`] returns a code: write what
//!    `poll_transmit` still gives, close the WebSocket with that code and
//!    reason, and call `Node::disconnect` for the session (pushing the
//!    leave events it returns). When the socket ends first, just call
//!    `Node::disconnect`.
//!
//! How commands are served:
//!
//! | command | answer |
//! | --- | --- |
//! | `connect` | `client`, `version`, `ping` (seconds), `pong: true`; with a verified connection token also its user and `conn_info`, `expires`/`ttl`, and the token's `channels` as server-side subscriptions in `subs` (the reply then waits for their [`Action::Subscribe`] with id 0; positions the SDK sends in `connect.subs` recover them); without a token, error 101 when anonymous connections are off; token errors per the [`token`] module; a second `connect` closes with 3501 |
//! | `subscribe` | checks (107 empty name, 106 name too long or channel limit, 102 unknown namespace, 105 already subscribed, a subscription token or else 103 when `allow_subscribe_for_client` is off), then [`Action::Subscribe`]; reply from [`Session::subscribed`] |
//! | `unsubscribe` | directly (also when not subscribed), plus [`Action::Unsubscribe`] |
//! | `publish` | permission (103), then [`Action::Publish`]; reply from [`Session::published`] |
//! | `history` | permission (103), then [`Action::History`] (`limit` 0: position only, negative: up to the configured maximum) |
//! | `presence`, `presence_stats` | permission (103), then the matching action |
//! | empty command | the pong to a server ping; no reply |
//! | `ping` (with an id) | directly, an empty `ping` result |
//! | `send` | accepted and discarded (no handler for asynchronous messages), no reply |
//! | `rpc` | error 108 "not available" (no RPC handler) |
//! | `refresh`, `sub_refresh` | directly: the new token's `expires`/`ttl` (without a verifier, `expires: false`); token errors per the [`token`] module; `sub_refresh` on a channel not subscribed gets 103 |
//! | anything else | error 104 "method not found" |
//!
//! With `client_command_rate` set, every command but a pong takes a
//! token first: one over the limit is answered with error 111 "too many
//! requests" (temporary) instead, and a client that keeps sending after
//! more refusals than `client_command_burst` (without a quiet second) is
//! disconnected with 3013 "too many requests".
//!
//! Any command before `connect`, a command other than a pong or `send`
//! without an id, and a frame that does not decode close the connection
//! with 3501 "bad request".
//!
//! Replies are batched: every reply encoded before the next
//! `poll_transmit` goes into the same WebSocket message, in order. Live
//! pushes are separate messages, always after the replies encoded before
//! them, so that a subscribe reply precedes the channel's publications.

mod action;
mod auth;
mod commands;
mod keepalive;
mod push;
mod results;
mod subscriptions;
pub mod token;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::codes::DisconnectCode;
use crate::config::Settings;
use crate::counters::{Counters, SessionCounters};
use crate::presence::ClientInfo;
use crate::rate::CommandLimiter;
use crate::wire::{Format, Reply};

pub use action::{Action, Delivery, LiveDelivery};
pub use push::{
    encode_join_push, encode_leave_push, encode_publication_push, wire_client_info,
    wire_publication,
};
pub use token::{ConnectionToken, SubscriptionToken, TokenError, TokenVerifier};

use keepalive::Keepalive;
use subscriptions::Subscriptions;

/// The version string sent in connect replies.
pub const SERVER_VERSION: &str = concat!("switchboard ", env!("CARGO_PKG_VERSION"));

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the `connect` command.
    AwaitingConnect,
    /// Connected: every command is served.
    Connected,
    /// Closing with the code in `Session::disconnect`; input is ignored.
    Closed,
}

/// The protocol state of one client connection. See the module docs for
/// how the runtime drives it.
#[derive(Debug)]
pub struct Session {
    settings: Arc<Settings>,
    format: Format,
    phase: Phase,
    info: Arc<ClientInfo>,
    subscriptions: Subscriptions,
    actions: VecDeque<Action>,
    /// Replies encoded since the last transmit: one WebSocket message.
    batch: BytesMut,
    /// Whole messages waiting for `poll_transmit`, oldest first; always
    /// older than `batch`.
    transmit: VecDeque<Bytes>,
    keepalive: Keepalive,
    disconnect: Option<DisconnectCode>,
    counters: SessionCounters,
    /// The connect reply, while server-side subscriptions run.
    pending_connect: Option<Box<auth::PendingConnect>>,
    /// Commands per second (`client_command_rate`); `None` when off.
    /// Boxed: a pointer in every session, the state only where it is on.
    command_limiter: Option<Box<CommandLimiter>>,
}

impl Session {
    /// A session for a connection opened at `now`, speaking `format`;
    /// `client_id` is the unique id the runtime generated for it (e.g. a
    /// UUID string), sent in the connect reply and in presence.
    pub fn new(
        settings: Arc<Settings>,
        format: Format,
        client_id: impl Into<String>,
        now: Instant,
    ) -> Self {
        let keepalive = Keepalive::new(now, settings.config());
        let settings_limit = settings.config().command_rate();
        Self {
            settings,
            format,
            phase: Phase::AwaitingConnect,
            info: Arc::new(ClientInfo {
                client: client_id.into(),
                ..ClientInfo::default()
            }),
            subscriptions: Subscriptions::default(),
            actions: VecDeque::new(),
            batch: BytesMut::new(),
            transmit: VecDeque::new(),
            keepalive,
            disconnect: None,
            counters: SessionCounters::default(),
            pending_connect: None,
            command_limiter: settings_limit.map(|limit| Box::new(CommandLimiter::new(limit, now))),
        }
    }

    /// The connection's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The client's info (client id, user) as presence shows it.
    pub fn client_info(&self) -> &Arc<ClientInfo> {
        &self.info
    }

    /// Whether the `connect` command succeeded.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the connection must close (see [`Session::poll_disconnect`]).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Channels subscribed or being subscribed.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// Whether the subscription to `channel` is established (its reply
    /// was sent).
    pub fn is_subscribed(&self, channel: &str) -> bool {
        self.subscriptions.is_established(channel)
    }

    /// Whether an action is waiting for [`Session::poll_action`]: lets a
    /// runtime skip setting up an asynchronous turn when there is none.
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// The next operation for the runtime to run against the node.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() {
            release(&mut self.actions);
        }
        action
    }

    /// The next WebSocket message to write, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let message = match self.transmit.pop_front() {
            Some(message) => message,
            None if !self.batch.is_empty() => std::mem::take(&mut self.batch).freeze(),
            None => {
                release(&mut self.transmit);
                return None;
            }
        };
        self.counters.message_out(message.len());
        Some(message)
    }

    /// The code to close the connection with, once the session decided to
    /// end it (it then ignores further input).
    pub fn poll_disconnect(&self) -> Option<DisconnectCode> {
        self.disconnect
    }

    /// The counters gathered since the last call, for the runtime to merge
    /// into its totals.
    pub fn take_counters(&mut self) -> Counters {
        self.counters.take()
    }

    /// Ends the session with `code`: pending actions are dropped, pending
    /// messages stay for `poll_transmit`.
    fn close(&mut self, code: DisconnectCode) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.disconnect = Some(code);
        self.actions.clear();
        self.subscriptions.clear();
        self.pending_connect = None;
    }

    /// Appends one reply to the current batch; a reply the format cannot
    /// carry closes the connection with the code the wire error names.
    fn send_reply(&mut self, reply: &Reply) {
        if let Err(error) = self.format.encode_reply(reply, &mut self.batch) {
            self.close(error.disconnect_code());
        }
    }

    /// Queues a whole message after everything encoded so far.
    fn queue_message(&mut self, message: Bytes) {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch).freeze();
            self.transmit.push_back(batch);
        }
        self.transmit.push_back(message);
    }
}

/// Frees a drained queue's buffer. Queues fill in bursts (a command's
/// actions, a turn's replies and pushes) and a session is idle most of
/// its life: keeping the capacity would cost every idle connection
/// 350-500 bytes, against one small allocation per busy turn.
fn release<T>(queue: &mut VecDeque<T>) {
    if queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's state must stay small: the hub targets under
    /// 3 KiB per idle subscribed connection, WebSocket buffers included.
    /// (296: the token expiry timers boxed, the connect deadline and the
    /// next ping sharing one field, command counts in byte cells.)
    #[test]
    fn session_stays_small() {
        let size = std::mem::size_of::<Session>();
        assert!(size <= 296, "Session grew to {size} bytes");
    }
}
