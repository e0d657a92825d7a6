//! State shared by every connection task of one pub/sub run. All tasks run
//! on one thread, so `Cell`/`RefCell` suffice: no atomics, no locks.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::bench::pubsub::checker::SubscriberCheck;
use crate::bench::pubsub::payload::PublicationPattern;

/// Where the run stands. Ordered: publishers publish up to `Measure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// Publishing, deliveries not counted.
    Warmup,
    /// Publishing, deliveries counted and timed.
    Measure,
    /// Publishing stopped; waiting for deliveries still on their way.
    Drain,
}

/// Longest publish-to-delivery time the histogram records exactly (60 s).
const MAX_RECORDED_NANOS: u64 = 60_000_000_000;

/// Shared state of one run.
pub(crate) struct Shared {
    pub stage: Cell<Stage>,
    /// The clock publications' send times count from.
    started: Instant,
    pub pattern: PublicationPattern,
    pub channel_names: Vec<String>,
    /// One per open subscriber.
    pub checks: Vec<RefCell<SubscriberCheck>>,
    /// Distinct publications delivered, in every stage (for the drain).
    pub delivered_total: Cell<u64>,
    /// Distinct publications delivered while measuring.
    pub delivered_measured: Cell<u64>,
    /// Publish-to-delivery times while measuring, in nanoseconds.
    pub latency: RefCell<Histogram<u64>>,
    /// Publications sent, per publisher and channel:
    /// `published[publisher * channels + channel]`.
    published: RefCell<Vec<u64>>,
    /// Publications sent while measuring.
    pub published_measured: Cell<u64>,
    /// Publications refused by the server, per publisher.
    publish_errors: RefCell<Vec<u64>>,
    /// Connections that failed (to open, or while running).
    pub connection_errors: Cell<u64>,
    /// The first failure, verbatim.
    pub first_error: RefCell<Option<String>>,
}

impl Shared {
    pub(crate) fn new(
        pattern: PublicationPattern,
        channel_names: Vec<String>,
        publishers: usize,
    ) -> Self {
        let channels = channel_names.len();
        Shared {
            stage: Cell::new(Stage::Warmup),
            started: Instant::now(),
            pattern,
            channel_names,
            checks: Vec::new(),
            delivered_total: Cell::new(0),
            delivered_measured: Cell::new(0),
            latency: RefCell::new(
                Histogram::new_with_bounds(1, MAX_RECORDED_NANOS, 3)
                    .expect("static histogram bounds are valid"),
            ),
            published: RefCell::new(vec![0; publishers * channels]),
            published_measured: Cell::new(0),
            publish_errors: RefCell::new(vec![0; publishers]),
            connection_errors: Cell::new(0),
            first_error: RefCell::new(None),
        }
    }

    /// Nanoseconds from the run's start to `now`.
    pub(crate) fn nanos_since_start(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.started).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Records one distinct delivery and, while measuring, its latency.
    pub(crate) fn record_delivery(&self, measuring: bool, latency_nanos: u64) {
        self.delivered_total.set(self.delivered_total.get() + 1);
        if measuring {
            self.delivered_measured
                .set(self.delivered_measured.get() + 1);
            self.latency
                .borrow_mut()
                .saturating_record(latency_nanos.max(1));
        }
    }

    /// The sequence number of `publisher`'s next publication on `channel`,
    /// counted as sent.
    pub(crate) fn next_sequence(&self, publisher: u16, channel: usize, measuring: bool) -> u64 {
        let mut published = self.published.borrow_mut();
        let slot = &mut published[usize::from(publisher) * self.channel_names.len() + channel];
        let sequence = *slot;
        *slot += 1;
        if measuring {
            self.published_measured
                .set(self.published_measured.get() + 1);
        }
        sequence
    }

    /// Publications `publisher` sent on `channel`.
    pub(crate) fn published(&self, publisher: usize, channel: usize) -> u64 {
        self.published.borrow()[publisher * self.channel_names.len() + channel]
    }

    /// Publications sent on `channel` by all publishers.
    pub(crate) fn published_on(&self, channel: usize) -> u64 {
        let channels = self.channel_names.len();
        self.published
            .borrow()
            .iter()
            .skip(channel)
            .step_by(channels)
            .sum()
    }

    /// Sets how many publications `publisher`'s server refused so far.
    pub(crate) fn set_publish_errors(&self, publisher: usize, errors: u64) {
        self.publish_errors.borrow_mut()[publisher] = errors;
    }

    /// Publications refused, all publishers together.
    pub(crate) fn publish_errors(&self) -> u64 {
        self.publish_errors.borrow().iter().sum()
    }

    /// Records a failed connection.
    pub(crate) fn record_error(&self, error: &anyhow::Error) {
        self.connection_errors.set(self.connection_errors.get() + 1);
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(format!("{error:#}"));
        }
    }
}
