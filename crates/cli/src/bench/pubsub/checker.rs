//! The per-subscriber delivery check: order, content and count.
//!
//! Every publisher numbers its publications on each channel 0, 1, 2, ...
//! A subscriber expects, per publisher, exactly that sequence. A jump
//! forward counts the skipped numbers as missing (and remembers them); a
//! remembered number that arrives late is taken back from missing and
//! counted as out of order; any other number seen before is a duplicate.
//! At the end, what the publishers sent beyond the last delivery is missing
//! too.

use std::collections::BTreeSet;

use crate::bench::pubsub::payload::Header;

/// Skipped sequence numbers remembered per publisher, at most. Beyond that a
/// late arrival counts as a duplicate instead of out of order (both are
/// errors); the cap keeps a server that drops everything from costing the
/// load generator unbounded memory.
const MAX_REMEMBERED_GAPS: usize = 4096;

/// Error and delivery counts; summed over subscribers for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckCounts {
    /// Distinct publications delivered with the right content.
    pub delivered: u64,
    /// Publications never delivered (so far).
    pub missing: u64,
    /// Publications delivered more than once (extra copies).
    pub duplicates: u64,
    /// Publications delivered after a later one of the same publisher.
    pub out_of_order: u64,
    /// Deliveries whose content was wrong: altered, truncated, from another
    /// channel or from an unknown publisher.
    pub corrupt: u64,
}

impl CheckCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &CheckCounts) {
        self.delivered += other.delivered;
        self.missing += other.missing;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.corrupt += other.corrupt;
    }

    /// Whether no error of any kind was seen.
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0 && self.corrupt == 0
    }
}

/// What the checker made of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The next publication expected (possibly after a gap).
    InOrder,
    /// A publication that was skipped earlier and arrives late.
    Late,
    /// A publication already delivered.
    Duplicate,
    /// Not a publication for this subscriber.
    Corrupt,
}

/// The check state of one subscriber of one channel.
#[derive(Debug)]
pub struct SubscriberCheck {
    channel: u32,
    /// Per publisher: the next sequence number expected.
    next: Vec<u64>,
    /// Per publisher: skipped numbers not yet delivered (bounded).
    gaps: Vec<BTreeSet<u64>>,
    counts: CheckCounts,
}

impl SubscriberCheck {
    /// A subscriber of channel `channel` in a run with `publishers` publishers.
    pub fn new(channel: u32, publishers: usize) -> Self {
        SubscriberCheck {
            channel,
            next: vec![0; publishers],
            gaps: Vec::new(),
            counts: CheckCounts::default(),
        }
    }

    /// Records a delivery whose content already failed to parse.
    pub fn record_corrupt(&mut self) {
        self.counts.corrupt += 1;
    }

    /// Records a delivery with a well-formed payload.
    pub fn record(&mut self, header: &Header) -> Verdict {
        let publisher = usize::from(header.publisher);
        if header.channel != self.channel || publisher >= self.next.len() {
            self.counts.corrupt += 1;
            return Verdict::Corrupt;
        }
        let next = self.next[publisher];
        let sequence = header.sequence;
        if sequence >= next {
            if sequence > next {
                self.counts.missing += sequence - next;
                self.remember_gap(publisher, next, sequence);
            }
            self.next[publisher] = sequence + 1;
            self.counts.delivered += 1;
            return Verdict::InOrder;
        }
        let was_skipped = self
            .gaps
            .get_mut(publisher)
            .is_some_and(|gaps| gaps.remove(&sequence));
        if was_skipped {
            self.counts.missing -= 1;
            self.counts.out_of_order += 1;
            self.counts.delivered += 1;
            Verdict::Late
        } else {
            self.counts.duplicates += 1;
            Verdict::Duplicate
        }
    }

    fn remember_gap(&mut self, publisher: usize, from: u64, to: u64) {
        if self.gaps.len() < self.next.len() {
            self.gaps.resize_with(self.next.len(), BTreeSet::new);
        }
        let gaps = &mut self.gaps[publisher];
        let room = MAX_REMEMBERED_GAPS.saturating_sub(gaps.len()) as u64;
        gaps.extend(from..to.min(from.saturating_add(room)));
    }

    /// Distinct publications received so far.
    pub fn delivered(&self) -> u64 {
        self.counts.delivered
    }

    /// The channel this subscriber checks.
    pub fn channel(&self) -> u32 {
        self.channel
    }

    /// The final counts, given how many publications each publisher sent
    /// on this subscriber's channel (`published[publisher]`): what was sent
    /// beyond the last delivery is missing.
    pub fn finish(&self, published: impl Fn(usize) -> u64) -> CheckCounts {
        let mut counts = self.counts;
        for (publisher, &next) in self.next.iter().enumerate() {
            counts.missing += published(publisher).saturating_sub(next);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(publisher: u16, sequence: u64) -> Header {
        Header {
            publisher,
            channel: 3,
            sequence,
            sent_nanos: 0,
        }
    }

    fn deliver(check: &mut SubscriberCheck, sequences: &[(u16, u64)]) -> Vec<Verdict> {
        sequences
            .iter()
            .map(|&(publisher, sequence)| check.record(&delivery(publisher, sequence)))
            .collect()
    }

    #[test]
    fn a_faithful_stream_is_clean() {
        let mut check = SubscriberCheck::new(3, 2);
        deliver(&mut check, &[(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]);
        let counts = check.finish(|publisher| [3, 2][publisher]);
        assert!(counts.is_clean(), "{counts:?}");
        assert_eq!(counts.delivered, 5);
    }

    #[test]
    fn a_dropped_publication_is_missing() {
        let mut check = SubscriberCheck::new(3, 1);
        deliver(&mut check, &[(0, 0), (0, 2), (0, 3)]);
        let counts = check.finish(|_| 4);
        assert_eq!(counts.missing, 1);
        assert_eq!(counts.delivered, 3);
        // The tail the publisher sent but that never arrived is missing too.
        assert_eq!(check.finish(|_| 6).missing, 3);
    }

    #[test]
    fn a_duplicated_publication_is_counted_once_as_duplicate() {
        let mut check = SubscriberCheck::new(3, 1);
        let verdicts = deliver(&mut check, &[(0, 0), (0, 1), (0, 1), (0, 2)]);
        assert_eq!(verdicts[2], Verdict::Duplicate);
        let counts = check.finish(|_| 3);
        assert_eq!(
            (counts.duplicates, counts.missing, counts.delivered),
            (1, 0, 3)
        );
    }

    #[test]
    fn a_reordered_publication_is_out_of_order_not_missing() {
        let mut check = SubscriberCheck::new(3, 1);
        let verdicts = deliver(&mut check, &[(0, 0), (0, 2), (0, 1), (0, 3)]);
        assert_eq!(verdicts[2], Verdict::Late);
        let counts = check.finish(|_| 4);
        assert_eq!(
            (counts.out_of_order, counts.missing, counts.duplicates),
            (1, 0, 0)
        );
        assert_eq!(counts.delivered, 4);
    }

    #[test]
    fn a_delivery_of_another_channel_or_publisher_is_corrupt() {
        let mut check = SubscriberCheck::new(3, 1);
        let other_channel = Header {
            channel: 4,
            ..delivery(0, 0)
        };
        assert_eq!(check.record(&other_channel), Verdict::Corrupt);
        assert_eq!(check.record(&delivery(1, 0)), Verdict::Corrupt);
        check.record_corrupt();
        let counts = check.finish(|_| 0);
        assert_eq!(counts.corrupt, 3);
        assert!(!counts.is_clean());
    }

    #[test]
    fn remembered_gaps_are_bounded() {
        let mut check = SubscriberCheck::new(3, 1);
        check.record(&delivery(0, 1_000_000));
        assert_eq!(check.gaps[0].len(), MAX_REMEMBERED_GAPS);
        assert_eq!(check.finish(|_| 1_000_001).missing, 1_000_000);
    }
}
