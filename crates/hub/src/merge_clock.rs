//! [`MergeClock`]: when sessions merge their counters into the hub's
//! totals, without reading the clock on every turn of their loop.
//!
//! A session used to compare `Instant::now()` with the time of its last
//! merge on every turn; under fan-out that clock read (and the cold cache
//! line it compared with) was 1.3% of the hub's CPU. Now one task per hub
//! advances an epoch every period, and a session merges when the epoch
//! differs from the one it saw at its last merge: a relaxed load of a line
//! every session reads, so it stays in the cache.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The epoch sessions compare, and whether a task advances it.
#[derive(Debug)]
pub(crate) struct MergeClock {
    epoch: Arc<AtomicU32>,
    /// Set while a ticker task runs (cleared when it ends, e.g. with its
    /// runtime, so that the next session starts another).
    ticking: Arc<AtomicBool>,
    period: Duration,
}

impl MergeClock {
    /// A clock whose epoch advances every `period` once ticking.
    pub(crate) fn new(period: Duration) -> Self {
        MergeClock {
            epoch: Arc::new(AtomicU32::new(0)),
            ticking: Arc::new(AtomicBool::new(false)),
            period,
        }
    }

    /// The current epoch: a session merges when it differs from the one
    /// it merged at.
    pub(crate) fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Starts the ticker on the current tokio runtime unless one runs.
    /// Called when a session starts; the ticker ends when the hub is
    /// dropped or its runtime shuts down.
    pub(crate) fn ensure_ticking(&self) {
        if self.ticking.swap(true, Ordering::AcqRel) {
            return;
        }
        let epoch = Arc::downgrade(&self.epoch);
        let running = Running(self.ticking.clone());
        let period = self.period;
        tokio::spawn(async move {
            let _running = running;
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(epoch) = epoch.upgrade() else {
                    return;
                };
                epoch.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

/// Clears the ticking flag when the ticker task ends or is dropped.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_millis(20);

    async fn wait_for_epoch_past(clock: &MergeClock, epoch: u32) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while clock.epoch() <= epoch {
                tokio::time::sleep(PERIOD / 4).await;
            }
        })
        .await
        .expect("the epoch advances within 5 s");
    }

    #[tokio::test]
    async fn the_epoch_stays_until_ticking_and_then_advances() {
        let clock = MergeClock::new(PERIOD);
        tokio::time::sleep(PERIOD * 3).await;
        assert_eq!(clock.epoch(), 0, "no ticker, no change");
        clock.ensure_ticking();
        clock.ensure_ticking();
        wait_for_epoch_past(&clock, 0).await;
        let seen = clock.epoch();
        wait_for_epoch_past(&clock, seen).await;
    }

    #[test]
    fn a_ticker_gone_with_its_runtime_is_restarted_by_the_next() {
        let clock = MergeClock::new(PERIOD);
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        first.block_on(async {
            clock.ensure_ticking();
            wait_for_epoch_past(&clock, 0).await;
        });
        drop(first);
        assert!(
            !clock.ticking.load(Ordering::Acquire),
            "ended with its runtime"
        );
        let seen = clock.epoch();
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        second.block_on(async {
            clock.ensure_ticking();
            wait_for_epoch_past(&clock, seen).await;
        });
    }

    #[tokio::test]
    async fn the_ticker_ends_with_the_hub() {
        let clock = MergeClock::new(PERIOD);
        clock.ensure_ticking();
        let ticking = clock.ticking.clone();
        drop(clock);
        tokio::time::timeout(Duration::from_secs(5), async {
            while ticking.load(Ordering::Acquire) {
                tokio::time::sleep(PERIOD / 4).await;
            }
        })
        .await
        .expect("the ticker ends within 5 s of the hub");
    }
}
