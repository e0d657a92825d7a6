//! Connect deadline, server pings and the pong deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Session;
use crate::codes::DisconnectCode;
use crate::config::NodeConfig;
use crate::wire::Reply;

/// The timers of one connection. Kept small: every idle connection
/// holds one, and the token expiry timers most never use are boxed.
#[derive(Debug, Clone)]
pub(super) struct Keepalive {
    /// The connect deadline until `connect` succeeds, then the next ping.
    next: Option<Next>,
    /// After a ping: when the connection is dropped for lack of a pong.
    pong_deadline: Option<Instant>,
    /// Token expiry timers; `None` (no allocation) unless a token expires.
    expiry: Option<Box<Expiry>>,
}

/// The timer a connection always has, one at a time.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// Until `connect` succeeds: when the connection is dropped as stale.
    ConnectDeadline(Instant),
    /// Once connected: when the next ping goes out.
    Ping(Instant),
}

impl Next {
    fn at(self) -> Instant {
        match self {
            Next::ConnectDeadline(at) | Next::Ping(at) => at,
        }
    }
}

/// When expired tokens close the connection or a subscription.
#[derive(Debug, Clone, Default)]
struct Expiry {
    /// When a connection whose token expired and was not refreshed is
    /// dropped (3005): the token's expiry plus `expired_close_delay`.
    connection: Option<Instant>,
    /// The same per subscription with an expiring token (3006): expiry
    /// plus `expired_sub_close_delay`.
    subscriptions: Vec<(Arc<str>, Instant)>,
}

impl Keepalive {
    pub(super) fn new(now: Instant, config: &NodeConfig) -> Self {
        Self {
            next: Some(Next::ConnectDeadline(now + config.connect_timeout)),
            pong_deadline: None,
            expiry: None,
        }
    }

    fn earliest(&self) -> Option<Instant> {
        let (connection, first_sub) = match &self.expiry {
            Some(expiry) => (
                expiry.connection,
                expiry.subscriptions.iter().map(|(_, at)| *at).min(),
            ),
            None => (None, None),
        };
        [
            self.next.map(Next::at),
            self.pong_deadline,
            connection,
            first_sub,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sets (or clears) when the connection closes for an expired token.
    pub(super) fn set_expire_deadline(&mut self, deadline: Option<Instant>) {
        if deadline.is_some() || self.expiry.is_some() {
            self.expiry.get_or_insert_default().connection = deadline;
            self.drop_empty_expiry();
        }
    }

    /// Sets (or clears) when the subscription to `channel` expires.
    pub(super) fn set_sub_deadline(&mut self, channel: &str, deadline: Option<Instant>) {
        if let Some(expiry) = &mut self.expiry {
            expiry.subscriptions.retain(|(name, _)| &**name != channel);
        }
        if let Some(deadline) = deadline {
            let expiry = self.expiry.get_or_insert_default();
            expiry.subscriptions.push((channel.into(), deadline));
        }
        self.drop_empty_expiry();
    }

    fn drop_empty_expiry(&mut self) {
        if self
            .expiry
            .as_ref()
            .is_some_and(|expiry| expiry.connection.is_none() && expiry.subscriptions.is_empty())
        {
            self.expiry = None;
        }
    }
}

impl Session {
    /// The connection connected at `now`: pings start.
    pub(super) fn start_pings(&mut self, now: Instant) {
        self.keepalive.next = Some(Next::Ping(now + self.ping_interval()));
    }

    /// The client answered a ping.
    pub(super) fn pong_received(&mut self) {
        self.keepalive.pong_deadline = None;
    }

    fn ping_interval(&self) -> Duration {
        self.settings.config().ping_interval
    }

    /// When [`Session::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        self.keepalive.earliest()
    }

    /// Runs the timers due at `now`: closes a connection that did not
    /// connect in time (3502 "stale"), did not answer a ping in time
    /// (3012 "no pong"), did not refresh its expired token (3005
    /// "connection expired") or a subscription's (3006 "subscription
    /// expired"), and sends the ping (an empty reply) when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if let Some(Next::ConnectDeadline(at)) = self.keepalive.next {
            if now >= at {
                self.close(DisconnectCode::STALE);
                return;
            }
        }
        if self.keepalive.pong_deadline.is_some_and(|at| now >= at) {
            self.close(DisconnectCode::NO_PONG);
            return;
        }
        if let Some(expiry) = &mut self.keepalive.expiry {
            if expiry.connection.is_some_and(|at| now >= at) {
                self.close(DisconnectCode::EXPIRED);
                return;
            }
            // A deadline of a channel no longer subscribed is stale: drop it.
            let subscriptions = &self.subscriptions;
            expiry
                .subscriptions
                .retain(|(channel, _)| subscriptions.contains(channel));
            if expiry.subscriptions.iter().any(|(_, at)| now >= *at) {
                self.close(DisconnectCode::SUBSCRIPTION_EXPIRED);
                return;
            }
            self.keepalive.drop_empty_expiry();
        }
        if let Some(Next::Ping(at)) = self.keepalive.next {
            if now < at {
                return;
            }
            self.send_reply(&Reply::default());
            self.keepalive.next = Some(Next::Ping(now + self.ping_interval()));
            if self.keepalive.pong_deadline.is_none() {
                self.keepalive.pong_deadline = Some(now + self.settings.config().pong_timeout);
            }
        }
    }
}
