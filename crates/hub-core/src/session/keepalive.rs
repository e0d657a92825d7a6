//! Connect deadline, server pings and the pong deadline.

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
}

impl Keepalive {
    pub(super) fn new(now: Instant, config: &NodeConfig) -> Self {
        Self {
            connect_deadline: Some(now + config.connect_timeout),
            next_ping: None,
            pong_deadline: None,
        }
    }

    fn earliest(&self) -> Option<Instant> {
        [self.connect_deadline, self.next_ping, self.pong_deadline]
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
    /// connect in time (3502 "stale") or did not answer a ping in time
    /// (3012 "no pong"), and sends the ping (an empty reply) when due.
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
        if self.keepalive.next_ping.is_some_and(|at| now >= at) {
            self.send_reply(&Reply::default());
            self.keepalive.next_ping = Some(now + self.ping_interval());
            if self.keepalive.pong_deadline.is_none() {
                self.keepalive.pong_deadline = Some(now + self.settings.config().pong_timeout);
            }
        }
    }
}
