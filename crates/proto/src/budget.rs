//! [`MemoryBudget`]: one bound on the bytes many connections hold for their
//! peers, shared through [`Limits::memory_budget`](crate::Limits).
//!
//! Per-connection limits bound one peer; a budget bounds all of them
//! together. A thousand peers that each stay under `max_message_size` can
//! still claim a thousand times it; with a budget, the connection whose
//! charge would cross it fails with 1009 (message too big) instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A node-wide byte budget: an `Arc` around two numbers, cheap to clone
/// and to share between threads. Clones share the same account.
///
/// The connection charges it for bytes it holds on the peer's behalf (a
/// frame being read beyond the small default buffer, fragments being
/// assembled, inflated output) and releases them when the message is
/// delivered or the connection fails or is dropped. Applications may charge
/// it for their own buffers (the hub charges its outbound queues) with
/// [`MemoryBudget::try_charge`] and [`MemoryBudget::release`].
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    inner: Arc<Account>,
}

#[derive(Debug)]
struct Account {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, none used.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Account {
                limit,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// The budget's size in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Bytes left.
    pub fn available(&self) -> usize {
        self.limit().saturating_sub(self.used())
    }

    /// Charges `bytes` if they fit; `false` (and nothing charged) if they
    /// would cross the limit.
    pub fn try_charge(&self, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let limit = self.inner.limit;
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            })
            .is_ok()
    }

    /// Charges `bytes` if the total stays within `ceiling` (and the
    /// limit); `false` (and nothing charged) otherwise. Lets one kind of
    /// holder use only part of the budget: the hub's outbound queues stop
    /// at three quarters, so that the frames connections are reading still
    /// find room and a slow consumer is shed before a publisher is refused.
    pub fn try_charge_within(&self, bytes: usize, ceiling: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let ceiling = ceiling.min(self.inner.limit);
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= ceiling)
            })
            .is_ok()
    }

    /// Charges `bytes` whether or not they fit (for memory already held
    /// that must be accounted for); `true` if the budget is still within
    /// its limit afterwards.
    pub fn force_charge(&self, bytes: usize) -> bool {
        let total = self
            .inner
            .used
            .fetch_add(bytes, Ordering::AcqRel)
            .saturating_add(bytes);
        total <= self.inner.limit
    }

    /// Returns `bytes` charged earlier.
    pub fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let previous = self.inner.used.fetch_sub(bytes, Ordering::AcqRel);
        debug_assert!(previous >= bytes, "released more than was charged");
    }

    /// Whether `self` and `other` are the same account.
    pub fn same_as(&self, other: &MemoryBudget) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Two budgets are equal when they are the same account.
impl PartialEq for MemoryBudget {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl Eq for MemoryBudget {}

/// What one holder (a connection's receive side) has charged to a budget,
/// so that it can move the charge to a new total and give it all back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Charge {
    bytes: usize,
}

impl Charge {
    /// Bytes charged.
    pub(crate) fn bytes(self) -> usize {
        self.bytes
    }

    /// Moves the charge to `total` bytes: charges the growth if it fits
    /// (`false` and no change when it does not), releases any shrink.
    pub(crate) fn set(&mut self, budget: &MemoryBudget, total: usize) -> bool {
        if total > self.bytes {
            if !budget.try_charge(total - self.bytes) {
                return false;
            }
        } else {
            budget.release(self.bytes - total);
        }
        self.bytes = total;
        true
    }

    /// Gives everything back.
    pub(crate) fn clear(&mut self, budget: &MemoryBudget) {
        budget.release(self.bytes);
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceiling_stops_charges_below_the_limit() {
        let budget = MemoryBudget::new(100);
        assert!(budget.try_charge_within(75, 75));
        assert!(!budget.try_charge_within(1, 75));
        assert_eq!(budget.used(), 75);
        // The rest of the budget is still there for other charges.
        assert!(budget.try_charge(25));
        assert!(!budget.try_charge_within(1, 1_000));
        budget.release(100);
        assert!(
            !budget.try_charge_within(101, 1_000),
            "the limit still holds"
        );
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn charges_fit_or_change_nothing() {
        let budget = MemoryBudget::new(100);
        assert!(budget.try_charge(60));
        assert!(!budget.try_charge(41));
        assert_eq!(budget.used(), 60);
        assert!(budget.try_charge(40));
        assert_eq!(budget.available(), 0);
        budget.release(100);
        assert_eq!(budget.used(), 0);
        assert!(!budget.force_charge(101));
        budget.release(101);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_charge_moves_to_a_total_and_clears() {
        let budget = MemoryBudget::new(100);
        let mut charge = Charge::default();
        assert!(charge.set(&budget, 30));
        assert!(charge.set(&budget, 80));
        assert!(!charge.set(&budget, 101));
        assert_eq!((charge.bytes(), budget.used()), (80, 80));
        assert!(charge.set(&budget, 10));
        assert_eq!(budget.used(), 10);
        charge.clear(&budget);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn clones_share_one_account() {
        let budget = MemoryBudget::new(10);
        let clone = budget.clone();
        assert!(clone.try_charge(10));
        assert!(!budget.try_charge(1));
        assert_eq!(budget, clone);
        assert_ne!(budget, MemoryBudget::new(10));
    }
}
