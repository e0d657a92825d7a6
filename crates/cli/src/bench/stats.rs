//! Counters shared by every connection task of one run. All tasks run on
//! one thread, so plain `Cell`/`RefCell` suffice: no atomics, no locks.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Where the run stands; only echoes received while measuring count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Load is applied but not counted.
    Warmup,
    /// Echoes are counted and timed.
    Measure,
    /// The measurement window is over.
    Done,
}

/// Shared counters of one run.
#[derive(Debug)]
pub(crate) struct Stats {
    pub phase: Cell<Phase>,
    /// Verified echoes received while measuring.
    pub messages: Cell<u64>,
    /// Their payload bytes.
    pub bytes: Cell<u64>,
    /// Verified echoes in every phase (drives the progress bar).
    pub echoes_total: Cell<u64>,
    /// Echoes whose content, kind or order was wrong, in every phase.
    pub mismatches: Cell<u64>,
    /// Connections that failed (to open, or while running).
    pub connection_errors: Cell<u64>,
    /// The first failure, verbatim, for the report.
    pub first_error: RefCell<Option<String>>,
    /// Round-trip times in nanoseconds, while measuring.
    pub latency: RefCell<Histogram<u64>>,
}

/// Longest round trip the histogram records exactly (60 s); longer ones
/// saturate at this value.
const MAX_RECORDED_NANOS: u64 = 60_000_000_000;

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            phase: Cell::new(Phase::Warmup),
            messages: Cell::new(0),
            bytes: Cell::new(0),
            echoes_total: Cell::new(0),
            mismatches: Cell::new(0),
            connection_errors: Cell::new(0),
            first_error: RefCell::new(None),
            latency: RefCell::new(
                Histogram::new_with_bounds(1, MAX_RECORDED_NANOS, 3)
                    .expect("static histogram bounds are valid"),
            ),
        }
    }

    /// Records one echo: `verified` says whether it matched what was sent.
    pub(crate) fn record_echo(&self, verified: bool, payload_len: usize, round_trip: Duration) {
        if !verified {
            self.mismatches.set(self.mismatches.get() + 1);
            return;
        }
        self.echoes_total.set(self.echoes_total.get() + 1);
        if self.phase.get() == Phase::Measure {
            self.messages.set(self.messages.get() + 1);
            self.bytes.set(self.bytes.get() + payload_len as u64);
            let nanos = u64::try_from(round_trip.as_nanos()).unwrap_or(u64::MAX);
            self.latency.borrow_mut().saturating_record(nanos.max(1));
        }
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
