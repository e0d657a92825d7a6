//! One runtime's timer: pages of slots that connections reach without a
//! lock, and the armed deadlines in a sorted set behind one.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;
use std::time::Instant as StdInstant;

use futures_util::task::AtomicWaker;

use super::{Entry, TICK};

/// Slots per page: a page is 4 KiB, so a runtime with few connections pays
/// little, and one with many allocates rarely.
const PAGE_SLOTS: usize = 128;

/// A slot's deadline while it is not in the sorted set.
const UNARMED: u64 = 0;

const TICK_NANOS: u64 = TICK.as_nanos() as u64;

/// The first tick at or after `deadline` (never [`UNARMED`]): rounding up
/// is what keeps a slot from firing before its deadline.
fn tick_at_or_after(origin: StdInstant, deadline: StdInstant) -> u64 {
    nanos_since(origin, deadline).div_ceil(TICK_NANOS).max(1)
}

/// The last tick at or before `now`.
fn tick_before(origin: StdInstant, now: StdInstant) -> u64 {
    nanos_since(origin, now) / TICK_NANOS
}

/// Saturating at 584 years, far beyond any keepalive or close timeout.
fn nanos_since(origin: StdInstant, instant: StdInstant) -> u64 {
    let since = instant.saturating_duration_since(origin);
    since
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(since.subsec_nanos()))
}

fn instant_of(origin: StdInstant, tick: u64) -> StdInstant {
    origin + std::time::Duration::from_nanos(tick.saturating_mul(TICK_NANOS))
}

/// One connection's registration: 32 bytes, the whole per-connection cost
/// inside the shared timer besides its entry in the sorted set.
#[derive(Debug, Default)]
struct Slot {
    /// The armed tick, or [`UNARMED`]. Written under the timer's lock (so it
    /// always matches the sorted set), read without it by the owning handle.
    deadline: AtomicU64,
    waker: AtomicWaker,
}

/// A fixed block of slots. Handles hold the page rather than the timer so
/// that a poll reaches its slot without taking the timer's lock; the
/// timer's page list is only read under the lock.
pub(super) struct Page {
    /// Set when the runtime's driver has gone: the handles must register
    /// again wherever they are polled next.
    closed: AtomicBool,
    /// The timer's tick zero (copied, to convert deadlines without the lock).
    origin: StdInstant,
    shared: Weak<Shared>,
    slots: [Slot; PAGE_SLOTS],
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Page {
    fn slot(&self, slot: u32) -> &Slot {
        &self.slots[slot as usize % PAGE_SLOTS]
    }

    /// The lock-free poll: true when `slot` is armed no later than
    /// `deadline` and `waker` will be woken when it fires. The
    /// `AtomicWaker` keeps the stored waker when it `will_wake` the new
    /// one, so a repeated poll from the same task stores nothing.
    pub(super) fn holds(&self, slot: u32, deadline: StdInstant, waker: &Waker) -> bool {
        let slot = self.slot(slot);
        let armed = slot.deadline.load(Ordering::Acquire);
        if armed == UNARMED || armed > tick_at_or_after(self.origin, deadline) {
            return false;
        }
        slot.waker.register(waker);
        // The driver disarms before it takes the waker: if it fired between
        // the load and the registration, it woke the previous waker, and the
        // slot reads unarmed here.
        slot.deadline.load(Ordering::Acquire) == armed
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(super) fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.upgrade()
    }
}

/// A runtime's shared timer.
#[derive(Debug)]
pub(super) struct Shared {
    origin: StdInstant,
    closed: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Armed slots by (tick, slot index): the earliest first.
    queue: BTreeSet<(u64, u32)>,
    pages: Vec<Arc<Page>>,
    /// Released slot indices, reused before the pages grow.
    free: Vec<u32>,
    /// Slots ever handed out (the next new index).
    allocated: u32,
    in_use: usize,
    /// The driver's waker while it waits, taken by whoever wakes it.
    driver: Option<Waker>,
    /// The tick the driver sleeps until (`None`: no deadline armed).
    target: Option<u64>,
    closed: bool,
    /// Registrations that took the lock (tests check that a repeated poll
    /// does not).
    #[cfg(test)]
    arms: u64,
}

impl Inner {
    fn slot(&self, slot: u32) -> &Slot {
        self.pages[slot as usize / PAGE_SLOTS].slot(slot)
    }
}

/// Counters for tests.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stats {
    /// Handles holding a slot.
    pub(super) in_use: usize,
    /// Deadlines in the sorted set.
    pub(super) armed: usize,
    /// Registrations that took the lock.
    pub(super) arms: u64,
}

impl Shared {
    pub(super) fn new(origin: StdInstant) -> Self {
        Shared {
            origin,
            closed: AtomicBool::new(false),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under the lock leaves the set and the slots disagreeing if
        // it panics (allocation failure aborts), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// A slot for a new handle; `None` once the timer has closed.
    pub(super) fn acquire(self: &Arc<Self>) -> Option<Entry> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let slot = match inner.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = inner.allocated;
                if slot as usize == inner.pages.len() * PAGE_SLOTS {
                    let page = Page {
                        closed: AtomicBool::new(false),
                        origin: self.origin,
                        shared: Arc::downgrade(self),
                        slots: std::array::from_fn(|_| Slot::default()),
                    };
                    inner.pages.push(Arc::new(page));
                }
                // Four billion connections on one runtime would exhaust
                // memory long before the index.
                inner.allocated += 1;
                slot
            }
        };
        inner.in_use += 1;
        let page = Arc::clone(&inner.pages[slot as usize / PAGE_SLOTS]);
        Some(Entry { page, slot })
    }

    /// Arms `slot` for `deadline` unless it is armed no later already.
    /// The waker is registered by the caller afterwards, outside the lock:
    /// replacing a waker drops the old one, which may run arbitrary code.
    pub(super) fn arm(&self, page: &Page, slot: u32, deadline: StdInstant) -> bool {
        let want = tick_at_or_after(self.origin, deadline);
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        let armed = page.slot(slot).deadline.load(Ordering::Relaxed);
        if armed != UNARMED && armed <= want {
            return true;
        }
        if armed != UNARMED {
            inner.queue.remove(&(armed, slot));
        }
        inner.queue.insert((want, slot));
        page.slot(slot).deadline.store(want, Ordering::Release);
        #[cfg(test)]
        {
            inner.arms += 1;
        }
        let driver = if inner.target.is_none_or(|target| want < target) {
            inner.target = Some(want);
            inner.driver.take()
        } else {
            None
        };
        drop(inner);
        if let Some(driver) = driver {
            driver.wake();
        }
        true
    }

    /// Removes a dropped handle's slot.
    pub(super) fn release(&self, page: &Page, slot: u32) {
        let mut inner = self.lock();
        let armed = page.slot(slot).deadline.swap(UNARMED, Ordering::AcqRel);
        if armed != UNARMED {
            inner.queue.remove(&(armed, slot));
        }
        let waker = page.slot(slot).waker.take();
        inner.free.push(slot);
        inner.in_use -= 1;
        drop(inner);
        drop(waker);
    }

    /// The driver's turn: disarms every slot due at `now`, moving its
    /// waker into `due` (woken by the caller, outside the lock), stores the
    /// driver's `waker`, and says when the next slot is due.
    pub(super) fn fire_due(
        &self,
        now: StdInstant,
        waker: &Waker,
        due: &mut Vec<Waker>,
    ) -> Option<StdInstant> {
        let now_tick = tick_before(self.origin, now);
        let mut inner = self.lock();
        while let Some(&(tick, slot)) = inner.queue.first() {
            if tick > now_tick {
                break;
            }
            inner.queue.pop_first();
            let slot = inner.slot(slot);
            slot.deadline.store(UNARMED, Ordering::Release);
            due.extend(slot.waker.take());
        }
        inner.target = inner.queue.first().map(|&(tick, _)| tick);
        if !inner.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
            inner.driver = Some(waker.clone());
        }
        inner.target.map(|tick| instant_of(self.origin, tick))
    }

    /// The driver has gone (its runtime shuts down): disarms and wakes
    /// everything, so that handles polled again register elsewhere.
    pub(super) fn close(&self) {
        let mut wakers = Vec::new();
        let mut inner = self.lock();
        inner.closed = true;
        self.closed.store(true, Ordering::Release);
        inner.queue.clear();
        inner.target = None;
        let driver = inner.driver.take();
        for page in &inner.pages {
            // Closed before disarmed: a handle that sees its slot unarmed
            // then sees the page closed too.
            page.closed.store(true, Ordering::Release);
            for slot in &page.slots {
                slot.deadline.store(UNARMED, Ordering::Release);
                wakers.extend(slot.waker.take());
            }
        }
        drop(inner);
        drop(driver);
        wakers.into_iter().for_each(Waker::wake);
    }

    #[cfg(test)]
    pub(super) fn stats(&self) -> Stats {
        let inner = self.lock();
        Stats {
            in_use: inner.in_use,
            armed: inner.queue.len(),
            arms: inner.arms,
        }
    }
}
