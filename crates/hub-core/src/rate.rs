//! Token buckets: how many operations per second, with how much burst.
//!
//! Sans-I/O like the rest of the crate: time is passed in. The hub uses a
//! [`TokenBucket`] for new connections per node (503 with `Retry-After`
//! before the upgrade) and the [`Session`](crate::Session) one per
//! connection for commands per second ([`CommandLimiter`]).

use std::time::{Duration, Instant};

/// A rate: `per_second` tokens refill each second, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second (greater than zero).
    pub per_second: f64,
    /// Most tokens the bucket holds: how many operations may come at once
    /// (at least 1).
    pub burst: f64,
}

impl RateLimit {
    /// `per_second` operations per second with bursts of `burst`; `None`
    /// when `per_second` is 0 (no limit). A `burst` of 0 means one second's
    /// worth (`per_second`).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        if per_second == 0 {
            return None;
        }
        let burst = if burst == 0 { per_second } else { burst };
        Some(Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
        })
    }
}

/// The state of one bucket: the tokens left when last updated. The limit
/// is passed to every call, so that many buckets can share one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f32,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: limit.burst as f32,
            updated: now,
        }
    }

    /// Takes one token at `now`; when none is left, how long until one is
    /// (nothing is taken then).
    pub fn try_take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        let tokens = (f64::from(self.tokens) + elapsed * limit.per_second).min(limit.burst);
        // Time only moves forward: a `now` older than the last update
        // leaves the bucket as it is.
        self.updated = self.updated.max(now);
        if tokens >= 1.0 {
            self.tokens = (tokens - 1.0) as f32;
            Ok(())
        } else {
            self.tokens = tokens as f32;
            Err(Duration::from_secs_f64((1.0 - tokens) / limit.per_second))
        }
    }
}

/// What to do with a command under a [`CommandLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandVerdict {
    /// Serve it.
    Serve,
    /// Answer it with error 111 "too many requests" (temporary).
    Refuse,
    /// The client keeps going after refusals: disconnect it with 3013
    /// "too many requests" (it reconnects after a backoff).
    Disconnect,
}

/// Commands per connection per second. Commands over the limit are
/// refused (error 111); a client whose refusals exceed the burst without a
/// quiet second between them is disconnected (3013), the way Centrifugo
/// PRO's per-connection limits end abusive clients. The limit itself is
/// passed to every call (it lives in the shared settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandLimiter {
    bucket: TokenBucket,
    /// Refusals since the last quiet second.
    refused: u32,
    /// When the last command was refused.
    last_refused: Option<Instant>,
}

/// A second without refusals forgives the earlier ones.
const REFUSALS_FORGIVEN_AFTER: Duration = Duration::from_secs(1);

impl CommandLimiter {
    /// A limiter for a connection opened at `now`, its bucket full.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            bucket: TokenBucket::full(limit, now),
            refused: 0,
            last_refused: None,
        }
    }

    /// Counts one command at `now`.
    pub fn check(&mut self, limit: RateLimit, now: Instant) -> CommandVerdict {
        if self.bucket.try_take(limit, now).is_ok() {
            return CommandVerdict::Serve;
        }
        if self
            .last_refused
            .is_some_and(|at| now.saturating_duration_since(at) >= REFUSALS_FORGIVEN_AFTER)
        {
            self.refused = 0;
        }
        self.refused = self.refused.saturating_add(1);
        self.last_refused = Some(now);
        if f64::from(self.refused) > limit.burst {
            CommandVerdict::Disconnect
        } else {
            CommandVerdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::new(per_second, burst).unwrap()
    }

    #[test]
    fn zero_rate_is_no_limit_and_zero_burst_is_one_second() {
        assert_eq!(RateLimit::new(0, 10), None);
        assert_eq!(limit(5, 0).burst, 5.0);
    }

    #[test]
    fn a_bucket_gives_its_burst_then_refills_at_the_rate() {
        let start = Instant::now();
        let rate = limit(10, 3);
        let mut bucket = TokenBucket::full(rate, start);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(rate, start), Ok(()));
        }
        let wait = bucket.try_take(rate, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-3, "{wait:?}");
        // 100 ms later one token is back, and only one.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.try_take(rate, later), Ok(()));
        assert!(bucket.try_take(rate, later).is_err());
        // A long pause refills to the burst, not beyond.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(rate, much_later), Ok(()));
        }
        assert!(bucket.try_take(rate, much_later).is_err());
    }

    #[test]
    fn refusals_beyond_the_burst_disconnect_unless_a_quiet_second_passes() {
        let start = Instant::now();
        let rate = limit(1, 2);
        let mut limiter = CommandLimiter::new(rate, start);
        assert_eq!(limiter.check(rate, start), CommandVerdict::Serve);
        assert_eq!(limiter.check(rate, start), CommandVerdict::Serve);
        assert_eq!(limiter.check(rate, start), CommandVerdict::Refuse);
        assert_eq!(limiter.check(rate, start), CommandVerdict::Refuse);
        // Quiet for a while: refusals are forgiven and tokens are back.
        let later = start + Duration::from_secs(5);
        assert_eq!(limiter.check(rate, later), CommandVerdict::Serve);
        assert_eq!(limiter.check(rate, later), CommandVerdict::Serve);
        assert_eq!(limiter.check(rate, later), CommandVerdict::Refuse);
        assert_eq!(limiter.check(rate, later), CommandVerdict::Refuse);
        assert_eq!(limiter.check(rate, later), CommandVerdict::Disconnect);
    }
}
