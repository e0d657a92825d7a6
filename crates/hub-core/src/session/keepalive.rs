//! Connect deadline, server pings and the pong deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Session;
use crate::codes::DisconnectCode;
use crate::config::NodeConfig;
use crate::wire::Reply;

/// The timers of one connection.
#[derive(Debug, Clone)]
pub(super) struct Keepalive {
    /// Until `connect` succeeds: when the connection is dropped as stale.
    connect_deadline: Option<Instant>,
    /// Once connected: when the next ping goes out.
    next_ping: Option<Instant>,
    /// After a ping: when the connection is dropped for lack of a pong.
    pong_deadline: Option<Instant>,
    /// When a connection whose token expired and was not refreshed is
    /// dropped (3005): the token's expiry plus `expired_close_delay`.
    pub(super) expire_deadline: Option<Instant>,
    /// The same per subscription with an expiring token (3006): expiry
    /// plus `expired_sub_close_delay`. Empty (no allocation) unless
    /// subscription tokens expire.
    pub(super) sub_deadlines: Vec<(Arc<str>, Instant)>,
}

impl Keepalive {
    pub(super) fn new(now: Instant, config: &NodeConfig) -> Self {
        Self {
            connect_deadline: Some(now + config.connect_timeout),
            next_ping: None,
            pong_deadline: None,
            expire_deadline: None,
            sub_deadlines: Vec::new(),
        }
    }

    fn earliest(&self) -> Option<Instant> {
        let first_sub = self.sub_deadlines.iter().map(|(_, at)| *at).min();
        [
            self.connect_deadline,
            self.next_ping,
            self.pong_deadline,
            self.expire_deadline,
            first_sub,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Session {
    /// The connection connected at `now`: pings start.
    pub(super) fn start_pings(&mut self, now: Instant) {
        self.keepalive.connect_deadline = None;
        self.keepalive.next_ping = Some(now + self.ping_interval());
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
        if self.keepalive.connect_deadline.is_some_and(|at| now >= at) {
            self.close(DisconnectCode::STALE);
            return;
        }
        if self.keepalive.pong_deadline.is_some_and(|at| now >= at) {
            self.close(DisconnectCode::NO_PONG);
            return;
        }
        if self.keepalive.expire_deadline.is_some_and(|at| now >= at) {
            self.close(DisconnectCode::EXPIRED);
            return;
        }
        // A deadline of a channel no longer subscribed is stale: drop it.
        let subscriptions = &self.subscriptions;
        self.keepalive
            .sub_deadlines
            .retain(|(channel, _)| subscriptions.contains(channel));
        if self
            .keepalive
            .sub_deadlines
            .iter()
            .any(|(_, at)| now >= *at)
        {
            self.close(DisconnectCode::SUBSCRIPTION_EXPIRED);
            return;
        }
        if self.keepalive.next_ping.is_some_and(|at| now >= at) {
            self.send_reply(&Reply::default());
            self.keepalive.next_ping = Some(now + self.ping_interval());
            if self.keepalive.pong_deadline.is_none() {
                self.keepalive.pong_deadline = Some(now + self.settings.config().pong_timeout);
            }
        }
    }
}
