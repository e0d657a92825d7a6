//! The task that fires a runtime's shared timer, and the registry that
//! finds the timer of the runtime a connection is polled on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use tokio::runtime::{self, Handle};
use tokio::time::{Instant, Sleep};

use super::shared::Shared;

/// Each live runtime's timer. Weak: the driver task owns the timer, so it
/// goes when the runtime drops the driver. A handful of runtimes per
/// process is typical, so a list beats a map.
static RUNTIMES: Mutex<Vec<(runtime::Id, Weak<Shared>)>> = Mutex::new(Vec::new());

/// The shared timer of the runtime we are polled on, created (and its
/// driver spawned) by the first caller on that runtime.
///
/// # Panics
///
/// Outside a tokio runtime, or on one without timers enabled: the same
/// conditions, and the same messages, as `tokio::time::sleep`.
pub(super) fn for_current_runtime() -> Arc<Shared> {
    let runtime = Handle::current();
    let id = runtime.id();
    let mut runtimes = RUNTIMES.lock().unwrap_or_else(PoisonError::into_inner);
    // Runtime ids are unique only among running runtimes, so an entry
    // whose timer has closed must not be found under a reused id.
    runtimes.retain(|(_, shared)| shared.upgrade().is_some_and(|s| !s.is_closed()));
    if let Some(shared) = runtimes
        .iter()
        .find(|(runtime, _)| *runtime == id)
        .and_then(|(_, shared)| shared.upgrade())
    {
        return shared;
    }
    let shared = Arc::new(Shared::new(super::now()));
    // Made here rather than in the driver, so a runtime without timers
    // panics in the caller, as the per-connection `Sleep` did.
    let sleep = Box::pin(tokio::time::sleep_until(Instant::now()));
    runtimes.push((id, Arc::downgrade(&shared)));
    drop(runtimes);
    // On a runtime that is shutting down the task is dropped at once,
    // which closes the timer; the caller then finds it closed.
    runtime.spawn(Driver {
        shared: Arc::clone(&shared),
        sleep,
        due: Vec::new(),
    });
    shared
}

/// Sleeps until the earliest armed deadline, then wakes the connections
/// that are due. Runs for as long as its runtime.
struct Driver {
    shared: Arc<Shared>,
    /// Boxed so the driver is `Unpin`; there is one per runtime.
    sleep: Pin<Box<Sleep>>,
    /// Wakers taken under the lock and woken after it, kept between turns
    /// so a large batch does not allocate every time.
    due: Vec<Waker>,
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let next = this
                .shared
                .fire_due(super::now(), cx.waker(), &mut this.due);
            this.due.drain(..).for_each(Waker::wake);
            // With nothing armed the driver waits for `Shared::arm` to wake it.
            let Some(next) = next else {
                return Poll::Pending;
            };
            let next = Instant::from_std(next);
            if this.sleep.deadline() != next {
                this.sleep.as_mut().reset(next);
            }
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.shared.close();
    }
}
