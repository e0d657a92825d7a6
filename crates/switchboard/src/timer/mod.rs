//! Connections' keepalive and close deadlines on one shared timer per tokio
//! runtime, instead of a `tokio::time::Sleep` per connection.
//!
//! A `Sleep` is a 112-byte allocation that every idle connection with
//! keepalive keeps for its whole life. Here each connection holds a 16-byte
//! [`Timer`] handle: a reference to a page of slots plus its slot's index.
//! The slot (32 bytes: the armed deadline and an `AtomicWaker`) lives in
//! the runtime's [`shared::Shared`] timer, which also keeps the armed
//! deadlines in a sorted set. One driver task per runtime ([`driver`])
//! sleeps on a single `Sleep` until the earliest deadline and wakes the
//! connections whose deadlines have passed; because that is an ordinary
//! tokio `Sleep`, `tokio::time::pause()` and `advance()` drive it as before.
//!
//! # Which runtime
//!
//! The shared timer is found through a registry keyed by
//! [`tokio::runtime::Handle::id`] (stable since tokio 1.49): the first
//! connection that arms a deadline on a runtime creates the timer and spawns
//! its driver there. When the runtime shuts down, the driver task is dropped,
//! which closes the timer: every slot is disarmed and woken, and a handle
//! that is polled again registers on the runtime it is polled on then.
//!
//! # Granularity
//!
//! Deadlines are rounded *up* to [`TICK`] (4 ms) since the timer's creation,
//! so a deadline never fires early and deadlines a few milliseconds apart
//! share one wakeup of the driver. Keepalive intervals and close timeouts
//! are seconds, so the rounding is invisible to the protocol.
//!
//! # Cost per poll
//!
//! The protocol core moves its keepalive deadline later on every read. The
//! timer only moves a registration *earlier* eagerly; a later deadline is
//! picked up when the armed one fires, which costs one spurious wakeup per
//! ping interval instead of one re-sort per read. A poll whose armed
//! deadline is at or before the requested one takes no lock at all: it
//! registers the waker in the slot's `AtomicWaker` (which keeps the stored
//! waker when it `will_wake` the new one) and re-reads the slot's deadline.

mod driver;
mod shared;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use tokio::time::Instant;

use self::shared::Page;

/// Resolution of the shared timer: deadlines are rounded up to a multiple
/// of this since the timer was created.
pub(crate) const TICK: Duration = Duration::from_millis(4);

/// The current time on tokio's clock (honours paused time in tests), as the
/// `std` instant the protocol core works with.
pub(crate) fn now() -> StdInstant {
    Instant::now().into_std()
}

/// A connection's handle on its runtime's shared timer. Empty until the
/// connection first waits for a deadline, so connections without deadlines
/// never register.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    entry: Option<Entry>,
}

/// A slot in a shared timer, released when dropped. The page reference is
/// what lets a poll reach its slot without the timer's lock.
#[derive(Debug)]
struct Entry {
    page: Arc<Page>,
    /// The slot's index in the whole timer (not just in its page).
    slot: u32,
}

impl Timer {
    /// `Ready` once `deadline` has passed and its slot has fired (at most
    /// one [`TICK`] after it); otherwise registers `cx` to be woken then.
    ///
    /// The armed slot is checked before the clock: a slot still armed no
    /// later than `deadline` means there is nothing to do yet, so the usual
    /// poll (a connection going idle again, with its deadline unchanged)
    /// reads no clock. A slot that fired, or the closed timer of a runtime
    /// that shut down, reads unarmed, and then the clock decides.
    pub(crate) fn poll_until(&mut self, cx: &mut Context<'_>, deadline: StdInstant) -> Poll<()> {
        loop {
            if let Some(entry) = &self.entry {
                if entry.page.holds(entry.slot, deadline, cx.waker()) {
                    return Poll::Pending;
                }
            }
            if now() >= deadline {
                return Poll::Ready(());
            }
            // Not armed, armed too late, fired, or the runtime's timer has
            // closed: place the deadline under the lock, then take the
            // lock-free path above to register the waker. That path
            // re-checks after registering, so a deadline that fires in
            // between is seen on the next turn (and then `now()` has passed
            // it, because slots never fire before their deadline).
            if !self.arm(deadline) {
                // The runtime is shutting down; nothing will run us again.
                return Poll::Pending;
            }
        }
    }

    /// Arms `deadline` in the current runtime's shared timer. False when no
    /// timer can take it (the runtime is shutting down).
    fn arm(&mut self, deadline: StdInstant) -> bool {
        if self.entry.as_ref().is_some_and(|e| e.page.is_closed()) {
            // Its runtime has shut down; re-register on the one polling us.
            self.entry = None;
        }
        let entry = match &mut self.entry {
            Some(entry) => entry,
            None => match driver::for_current_runtime().acquire() {
                Some(entry) => self.entry.insert(entry),
                None => return false,
            },
        };
        match entry.page.shared() {
            Some(shared) => shared.arm(&entry.page, entry.slot, deadline),
            None => false,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Without the shared timer (its runtime is gone) there is nothing
        // to remove: the page goes with the last handle that refers to it.
        if let Some(shared) = self.page.shared() {
            shared.release(&self.page, self.slot);
        }
    }
}
