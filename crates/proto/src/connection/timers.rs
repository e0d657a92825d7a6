//! Keepalive, idle and close-handshake timers on driver-supplied time.
//!
//! The connection never reads a clock: the driver passes `now` to
//! [`Connection::record_activity`] and [`Connection::handle_timeout`], and
//! sleeps until [`Connection::poll_timeout`].
//!
//! # Keepalive rule
//!
//! A keepalive ping goes out once nothing has been received *or* nothing
//! has been sent for `Config::ping_interval`: the deadline is
//! `min(last received, last sent) + interval`. Watching both directions
//! matters behind proxies that time one direction only (Caddy's
//! `read_timeout` counts bytes from the backend): a server that only
//! receives still pings, and the ping is traffic in the direction it
//! otherwise lacks.
//!
//! The close timer starts with the call that starts the close:
//! [`Connection::close`] takes `now`; the peer's close frame and a failure
//! start it at the latest time the driver passed in (the bytes that carried
//! them were just recorded, or the timer that failed just ran).
//!
//! "Sent" means queued in the transmit buffer (messages, pongs, pings,
//! close frames): queueing is what the core sees, since `send` and the
//! automatic replies take no `now`. A queued frame is stamped with the
//! latest time the driver passed in, which is never later than the real
//! time of the send, so a ping can come early but never late.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use super::{Connection, State};
use crate::{Error, Role};

/// The connection's times. Every idle connection holds them, so they are
/// kept as [`Stamp`]s after the first time the driver passed in (8 bytes
/// each instead of an `Option<Instant>`'s 16), exact to the nanosecond.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// The first time the driver told us about: what stamps count from.
    origin: Option<Instant>,
    /// The latest time the driver told us about.
    last_now: Stamp,
    /// When bytes last arrived (from [`Connection::record_activity`]).
    last_activity: Stamp,
    /// When a frame was last queued for sending, stamped with `last_now`.
    last_sent: Stamp,
    /// When the last keepalive ping went out.
    last_ping: Stamp,
    /// A keepalive ping is unanswered.
    awaiting_answer: bool,
    /// When the close started: our close, the peer's, or a failure.
    close_start: Stamp,
}

/// A time as nanoseconds after [`Timers::origin`], plus one; `None` for no
/// time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Stamp(Option<NonZeroU64>);

impl Stamp {
    fn is_none(self) -> bool {
        self.0.is_none()
    }
}

impl Timers {
    /// `time` as a stamp; the first time stamped becomes the origin. A time
    /// before the origin (a driver clock that went back) counts as the
    /// origin, and one more than 584 years after it as the latest stamp.
    fn stamp(&mut self, time: Instant) -> Stamp {
        let origin = *self.origin.get_or_insert(time);
        let nanos = time.saturating_duration_since(origin).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1);
        Stamp(NonZeroU64::new(nanos + 1))
    }

    /// The time a stamp stands for.
    fn time(&self, stamp: Stamp) -> Option<Instant> {
        Some(self.origin? + Duration::from_nanos(stamp.0?.get() - 1))
    }

    pub(super) fn record_activity(&mut self, now: Instant) {
        let now = self.stamp(now);
        self.last_now = now;
        self.last_activity = now;
        // The first time input is the opening of the connection, whose
        // handshake (and anything queued before any time was known) was the
        // last thing sent.
        if self.last_sent.is_none() {
            self.last_sent = now;
        }
        self.awaiting_answer = false;
    }

    /// A frame was queued for sending: it happened no earlier than the
    /// latest time the driver told us about.
    pub(super) fn frame_queued(&mut self) {
        if !self.last_now.is_none() {
            self.last_sent = self.last_now;
        }
    }

    /// When the next keepalive ping is due (no ping awaiting its answer).
    ///
    /// The received side counts from the latest of the last bytes and the
    /// last keepalive ping: that ping was answered (otherwise the pong
    /// timeout runs instead), so the peer was alive after it even if the
    /// answering frame came with no `record_activity`.
    fn next_ping(&self, interval: Duration) -> Option<Instant> {
        let activity = self.time(self.last_activity)?;
        let received = self
            .time(self.last_ping)
            .map_or(activity, |ping| ping.max(activity));
        let sent = self.time(self.last_sent).unwrap_or(activity);
        Some(received.min(sent) + interval)
    }

    /// Any frame from the peer answers a keepalive ping.
    pub(super) fn frame_received(&mut self) {
        self.awaiting_answer = false;
    }

    /// The latest time the driver told us about.
    pub(super) fn now(&self) -> Option<Instant> {
        self.time(self.last_now)
    }

    /// A close started at `now` (the first start counts). Without a time
    /// (the driver never passed one) there is no close deadline.
    pub(super) fn close_started(&mut self, now: Option<Instant>) {
        if let (true, Some(now)) = (self.close_start.is_none(), now) {
            self.close_start = self.stamp(now);
        }
    }
}

impl Connection {
    /// Whether we are waiting on the peer to finish closing: its close frame
    /// (after ours), or for a client the end of TCP (RFC 6455 §7.1.1: the
    /// server closes first).
    fn awaiting_close(&self) -> bool {
        if self.failed || self.eof {
            return false;
        }
        match self.state {
            State::Open => false,
            State::CloseSent => true,
            State::CloseReceived | State::Closed => self.role == Role::Client,
        }
    }

    /// When the close is given up: `Config::close_timeout` after it
    /// started (see [`Connection::close_deadline`]).
    pub(super) fn close_deadline_inner(&self) -> Option<Instant> {
        self.timers
            .time(self.timers.close_start)
            .map(|start| start + self.settings.config.close_timeout)
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let timers = &self.timers;
        if self.awaiting_close() {
            return self.close_deadline();
        }
        if self.state != State::Open || self.failed || self.eof {
            return None;
        }
        let activity = timers.time(timers.last_activity)?;
        let idle = self
            .settings
            .config
            .idle_timeout
            .map(|idle| activity + idle);
        let keepalive = if timers.awaiting_answer {
            timers
                .time(timers.last_ping)
                .map(|ping| ping + self.settings.config.pong_timeout)
        } else {
            self.settings
                .config
                .ping_interval
                .and_then(|interval| timers.next_ping(interval))
        };
        match (idle, keepalive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn run_timers(&mut self, now: Instant) -> Result<(), Error> {
        self.timers.last_now = self.timers.stamp(now);
        if self.awaiting_close() {
            if self
                .close_deadline()
                .is_some_and(|deadline| now >= deadline)
            {
                let error = Error::CloseTimeout(self.settings.config.close_timeout);
                self.fail(&error);
                return Err(error);
            }
            return Ok(());
        }
        if self.state != State::Open || self.failed || self.eof {
            return Ok(());
        }
        let Some(activity) = self.timers.time(self.timers.last_activity) else {
            return Ok(());
        };
        if let Some(idle) = self.settings.config.idle_timeout {
            if now >= activity + idle {
                let error = Error::IdleTimeout(idle);
                self.fail(&error);
                return Err(error);
            }
        }
        if self.timers.awaiting_answer {
            let sent = self.timers.time(self.timers.last_ping).unwrap_or(activity);
            if now >= sent + self.settings.config.pong_timeout {
                let error = Error::KeepaliveTimeout(self.settings.config.pong_timeout);
                self.fail(&error);
                return Err(error);
            }
        } else if let Some(due) = self
            .settings
            .config
            .ping_interval
            .and_then(|interval| self.timers.next_ping(interval))
        {
            // Nothing received, or nothing sent, for a whole interval.
            if now >= due {
                self.release_spent_read_bufs();
                self.queue_ping(&[]);
                self.timers.last_ping = self.timers.stamp(now);
                self.timers.awaiting_answer = true;
            }
        }
        Ok(())
    }
}
