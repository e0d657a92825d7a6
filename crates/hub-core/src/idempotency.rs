//! [`IdempotencyCache`]: the results of server-side publishes that carried
//! an idempotency key, kept for a TTL so that a retried publish returns the
//! first result and publishes nothing more (Centrifugo keeps them for five
//! minutes, per channel).
//!
//! Sans-I/O: the caller passes `now`. Every entry lives for the same TTL,
//! so insertion order is expiry order and a queue finds the expired ones
//! without scanning.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Centrifugo's window for idempotent publish results.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(5 * 60);

/// A key: the channel and the client-chosen idempotency key.
type Key = (String, String);

/// Remembered results of idempotent publishes.
#[derive(Debug)]
pub struct IdempotencyCache<V> {
    ttl: Duration,
    results: HashMap<Key, (Instant, V)>,
    /// Keys in insertion (and so expiry) order with their deadline.
    order: VecDeque<(Instant, Key)>,
}

impl<V: Clone> IdempotencyCache<V> {
    /// An empty cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            results: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The result remembered for `key` in `channel`, if still live at `now`.
    pub fn get(&mut self, now: Instant, channel: &str, key: &str) -> Option<V> {
        self.expire(now);
        self.results
            .get(&(channel.to_owned(), key.to_owned()))
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value` for `key` in `channel` from `now` for the TTL. A
    /// key already present keeps its first value.
    pub fn insert(&mut self, now: Instant, channel: &str, key: &str, value: V) {
        self.expire(now);
        let entry = (channel.to_owned(), key.to_owned());
        if self.results.contains_key(&entry) {
            return;
        }
        let deadline = now + self.ttl;
        self.order.push_back((deadline, entry.clone()));
        self.results.insert(entry, (deadline, value));
    }

    /// Entries currently remembered (some may be due to expire).
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Forgets the entries whose TTL ended at `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some((deadline, _)) = self.order.front() {
            if *deadline > now {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.results.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_returns_its_first_result_until_the_ttl_ends() {
        let start = Instant::now();
        let ttl = Duration::from_secs(300);
        let mut cache = IdempotencyCache::new(ttl);
        assert_eq!(cache.get(start, "news", "k1"), None);
        cache.insert(start, "news", "k1", 7u64);
        cache.insert(start, "news", "k1", 8u64);
        assert_eq!(cache.get(start + ttl / 2, "news", "k1"), Some(7));
        // Keys are per channel.
        assert_eq!(cache.get(start, "other", "k1"), None);
        cache.insert(start + Duration::from_secs(1), "other", "k1", 9);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(start + ttl, "news", "k1"), None);
        assert_eq!(cache.get(start + ttl, "other", "k1"), Some(9));
        cache.expire(start + ttl + Duration::from_secs(1));
        assert!(cache.is_empty());
    }
}
