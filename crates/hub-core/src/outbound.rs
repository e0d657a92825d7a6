//! The slow-consumer rule: bounds on a connection's outbound queue and on
//! the time one write may take.
//!
//! The runtime keeps one [`OutboundQueue`] per connection next to its
//! queue of encoded frames: it calls [`OutboundQueue::try_push`] before
//! queueing a frame, [`OutboundQueue::pop`] when the frame is handed to the
//! socket, and brackets every socket write with
//! [`OutboundQueue::write_started`] / [`OutboundQueue::write_finished`].
//! An [`Overflow`] or a [`OutboundQueue::timed_out`] write means: close
//! with disconnect code 3008 "slow" (reconnect advised).

use std::time::{Duration, Instant};

use crate::config::NodeConfig;

/// Bounds of one connection's outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    /// Most bytes queued and not yet written.
    pub max_bytes: usize,
    /// Most messages queued and not yet written.
    pub max_messages: usize,
    /// Longest time one write may take.
    pub write_timeout: Duration,
}

impl OutboundLimits {
    /// The limits configured in `config`.
    pub fn from_config(config: &NodeConfig) -> Self {
        Self {
            max_bytes: config.client_queue_max_bytes,
            max_messages: config.client_queue_max_messages,
            write_timeout: config.write_timeout,
        }
    }
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self::from_config(&NodeConfig::default())
    }
}

/// A frame did not fit in the outbound queue: the connection is too slow
/// and must be closed with 3008 "slow".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("outbound queue full ({queued_bytes} bytes, {queued_messages} messages queued): disconnect the slow client with 3008")]
pub struct Overflow {
    /// Bytes queued when the frame was refused.
    pub queued_bytes: usize,
    /// Messages queued when the frame was refused.
    pub queued_messages: usize,
}

/// Accounting of one connection's outbound queue (the frames themselves
/// live in the runtime's channel).
#[derive(Debug, Clone)]
pub struct OutboundQueue {
    limits: OutboundLimits,
    bytes: usize,
    messages: usize,
    write_started: Option<Instant>,
}

impl OutboundQueue {
    /// An empty queue with these limits.
    pub fn new(limits: OutboundLimits) -> Self {
        Self {
            limits,
            bytes: 0,
            messages: 0,
            write_started: None,
        }
    }

    /// Accounts a frame of `len` bytes, or refuses it when either bound
    /// would be exceeded. A refused frame is not accounted.
    pub fn try_push(&mut self, len: usize) -> Result<(), Overflow> {
        let bytes = self.bytes.saturating_add(len);
        if bytes > self.limits.max_bytes || self.messages >= self.limits.max_messages {
            return Err(Overflow {
                queued_bytes: self.bytes,
                queued_messages: self.messages,
            });
        }
        self.bytes = bytes;
        self.messages += 1;
        Ok(())
    }

    /// A frame of `len` bytes left the queue (handed to the socket).
    pub fn pop(&mut self, len: usize) {
        self.bytes = self.bytes.saturating_sub(len);
        self.messages = self.messages.saturating_sub(1);
    }

    /// Bytes queued.
    pub fn queued_bytes(&self) -> usize {
        self.bytes
    }

    /// Messages queued.
    pub fn queued_messages(&self) -> usize {
        self.messages
    }

    /// A socket write began at `now`.
    pub fn write_started(&mut self, now: Instant) {
        self.write_started = Some(now);
    }

    /// The socket write finished.
    pub fn write_finished(&mut self) {
        self.write_started = None;
    }

    /// When the write in progress times out, if one is in progress.
    pub fn write_deadline(&self) -> Option<Instant> {
        self.write_started
            .map(|started| started + self.limits.write_timeout)
    }

    /// Whether the write in progress has taken too long at `now`.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.write_deadline()
            .is_some_and(|deadline| now >= deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OutboundLimits {
        OutboundLimits {
            max_bytes: 100,
            max_messages: 3,
            write_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn byte_bound_refuses_without_accounting() {
        let mut queue = OutboundQueue::new(limits());
        queue.try_push(60).unwrap();
        let overflow = queue.try_push(41).unwrap_err();
        assert_eq!(overflow.queued_bytes, 60);
        assert_eq!(queue.queued_bytes(), 60);
        queue.try_push(40).unwrap();
        queue.pop(60);
        queue.try_push(60).unwrap();
        assert_eq!(queue.queued_bytes(), 100);
    }

    #[test]
    fn message_bound() {
        let mut queue = OutboundQueue::new(limits());
        for _ in 0..3 {
            queue.try_push(1).unwrap();
        }
        assert_eq!(queue.try_push(1).unwrap_err().queued_messages, 3);
        queue.pop(1);
        queue.try_push(1).unwrap();
    }

    #[test]
    fn write_timeout() {
        let mut queue = OutboundQueue::new(limits());
        let start = Instant::now();
        assert!(!queue.timed_out(start + Duration::from_secs(10)));
        queue.write_started(start);
        assert!(!queue.timed_out(start + Duration::from_millis(999)));
        assert!(queue.timed_out(start + Duration::from_secs(1)));
        queue.write_finished();
        assert!(!queue.timed_out(start + Duration::from_secs(10)));
    }
}
