//! New WebSocket connections per second across the node: one token bucket,
//! checked before the upgrade, so that a reconnect storm or a flood gets a
//! plain 503 with `Retry-After` that SDKs and load balancers back off on.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use switchboard_hub_core::rate::{RateLimit, TokenBucket};

/// The node's connection-rate bucket.
#[derive(Debug)]
pub(crate) struct ConnectionRate {
    limit: RateLimit,
    bucket: Mutex<TokenBucket>,
}

impl ConnectionRate {
    /// `per_second` new connections per second in bursts of `burst`;
    /// `None` when `per_second` is 0 (no limit).
    pub(crate) fn new(per_second: u32, burst: u32) -> Option<Self> {
        let limit = RateLimit::new(per_second, burst)?;
        Some(Self {
            limit,
            bucket: Mutex::new(TokenBucket::full(limit, Instant::now())),
        })
    }

    /// Takes a token for one upgrade; when none is left, the whole seconds
    /// until one is (at least 1), for `Retry-After`.
    pub(crate) fn admit(&self) -> Result<(), u64> {
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bucket
            .try_take(self.limit, Instant::now())
            .map_err(retry_after_seconds)
    }
}

/// `Retry-After` counts whole seconds; rounding up keeps a client that
/// obeys it from arriving before its token.
fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(10)), 10);
    }

    #[test]
    fn the_burst_is_admitted_then_refused_with_a_wait() {
        let rate = ConnectionRate::new(1, 3).unwrap();
        for _ in 0..3 {
            assert_eq!(rate.admit(), Ok(()));
        }
        assert_eq!(rate.admit(), Err(1));
        assert!(ConnectionRate::new(0, 3).is_none());
    }
}
