//! Fan-out wake-ups, deferred until the runtime has polled for I/O once.
//!
//! A publication queues its push in every recipient's mailbox and wakes
//! the recipients' tasks. Woken at once, a subscriber's task runs before
//! the other publishers whose messages already arrived on the same I/O
//! poll, writes its one push, and is woken again for theirs: one `send()`
//! per push. The kernel's send path is most of the hub's CPU under
//! fan-out (61% in the 1,000-channel benchmark), so the wake-ups a fan-out
//! makes are collected instead ([`collect`]) and handed to one task per
//! runtime, which yields once (tokio runs a yielded task after its next
//! I/O poll) and then wakes them all. The publishers read on that poll run
//! first, so a subscriber of two of them writes both pushes in one
//! `send()`.
//!
//! Nothing waits longer than one turn of the runtime: the deferring task
//! is woken by the first wake-up it is handed, and tokio polls the driver
//! without blocking while a yielded task waits. Outside a runtime, or when
//! the runtime's deferring task is gone (the runtime is shutting down),
//! wake-ups happen at once.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use tokio::runtime::{self, Handle};

thread_local! {
    /// The wake-ups of the fan-out running on this thread, if any.
    static COLLECTING: RefCell<Option<Vec<Waker>>> = const { RefCell::new(None) };
    /// The deferring state this thread handed wake-ups to last, so that a
    /// fan-out finds it without taking the process-wide [`RUNTIMES`] lock.
    static LAST: RefCell<Option<(runtime::Id, Weak<Deferred>)>> = const { RefCell::new(None) };
}

/// Each live runtime's deferring task. Weak: the task owns its state and
/// goes with its runtime. A handful of runtimes per process is typical,
/// so a list beats a map.
static RUNTIMES: Mutex<Vec<(runtime::Id, Weak<Deferred>)>> = Mutex::new(Vec::new());

/// Runs `fan_out`, collecting the wake-ups it makes (see [`defer`]) and
/// handing them to the current runtime's deferring task afterwards.
/// Nested calls join the outer collection.
pub(crate) fn collect<R>(fan_out: impl FnOnce() -> R) -> R {
    let nested = COLLECTING.with(|slot| {
        let mut slot = slot.borrow_mut();
        let nested = slot.is_some();
        slot.get_or_insert_with(Vec::new);
        nested
    });
    if nested {
        return fan_out();
    }
    let result = fan_out();
    let wakers = COLLECTING
        .with(|slot| slot.borrow_mut().take())
        .unwrap_or_default();
    if !wakers.is_empty() {
        hand_over(wakers);
    }
    result
}

/// Takes `waker` into the collection of the fan-out running on this
/// thread; gives it back when none is running (wake it at once).
pub(crate) fn defer(waker: Waker) -> Result<(), Waker> {
    COLLECTING.with(|slot| match &mut *slot.borrow_mut() {
        Some(wakers) => {
            wakers.push(waker);
            Ok(())
        }
        None => Err(waker),
    })
}

/// Hands `wakers` to the current runtime's deferring task, or wakes them
/// at once when there is none.
fn hand_over(wakers: Vec<Waker>) {
    let refused = match Handle::try_current() {
        Ok(runtime) => deferred_for(&runtime).push(wakers),
        Err(_) => Some(wakers),
    };
    refused.into_iter().flatten().for_each(Waker::wake);
}

/// `runtime`'s deferring state: this thread's last one when it is still
/// there (a weak reference upgrades only while the runtime's task lives),
/// otherwise the registry's.
fn deferred_for(runtime: &Handle) -> Arc<Deferred> {
    let id = runtime.id();
    let cached = LAST.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|(last_id, _)| *last_id == id)
            .and_then(|(_, deferred)| deferred.upgrade())
    });
    if let Some(deferred) = cached {
        return deferred;
    }
    let deferred = Deferred::for_runtime(runtime);
    LAST.with(|last| *last.borrow_mut() = Some((id, Arc::downgrade(&deferred))));
    deferred
}

/// The wake-ups waiting for a runtime's deferring task.
#[derive(Debug, Default)]
struct Deferred {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    wakers: Vec<Waker>,
    /// The deferring task, while it waits for wake-ups.
    task: Option<Waker>,
    /// False once the task is gone: nothing would wake what is pushed.
    alive: bool,
}

impl Deferred {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `runtime`'s deferring state, spawning its task on first use.
    fn for_runtime(runtime: &Handle) -> Arc<Deferred> {
        let id = runtime.id();
        let mut runtimes = RUNTIMES.lock().unwrap_or_else(PoisonError::into_inner);
        // Ids are unique among running runtimes only: drop the gone ones
        // before looking, so that a reused id finds nothing stale.
        runtimes.retain(|(_, deferred)| deferred.strong_count() > 0);
        if let Some(deferred) = runtimes
            .iter()
            .find(|(runtime, _)| *runtime == id)
            .and_then(|(_, deferred)| deferred.upgrade())
        {
            return deferred;
        }
        let deferred = Arc::new(Deferred::default());
        deferred.lock().alive = true;
        runtimes.push((id, Arc::downgrade(&deferred)));
        drop(runtimes);
        // On a runtime that is shutting down the task is dropped at once,
        // which marks the state dead; pushes then wake at once.
        runtime.spawn(Waking {
            deferred: deferred.clone(),
            yielded: false,
        });
        deferred
    }

    /// Queues `wakers` for the task; gives them back when it is gone.
    fn push(&self, wakers: Vec<Waker>) -> Option<Vec<Waker>> {
        let mut state = self.lock();
        if !state.alive {
            return Some(wakers);
        }
        if state.wakers.is_empty() {
            state.wakers = wakers;
        } else {
            state.wakers.extend(wakers);
        }
        let task = state.task.take();
        drop(state);
        if let Some(task) = task {
            task.wake();
        }
        None
    }
}

/// The deferring task of one runtime: waits for wake-ups, yields once so
/// that the runtime polls for I/O, then wakes everything queued by then.
struct Waking {
    deferred: Arc<Deferred>,
    /// Whether this turn has yielded already.
    yielded: bool,
}

impl Future for Waking {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if !this.yielded {
                let mut state = this.deferred.lock();
                if state.wakers.is_empty() {
                    match &mut state.task {
                        Some(task) if task.will_wake(context.waker()) => {}
                        slot => *slot = Some(context.waker().clone()),
                    }
                    return Poll::Pending;
                }
                drop(state);
                this.yielded = true;
                // Registers this task to run after the runtime's next I/O
                // poll; the future itself holds nothing.
                if std::pin::pin!(tokio::task::yield_now())
                    .poll(context)
                    .is_pending()
                {
                    return Poll::Pending;
                }
            }
            this.yielded = false;
            let wakers = std::mem::take(&mut this.deferred.lock().wakers);
            wakers.into_iter().for_each(Waker::wake);
        }
    }
}

impl Drop for Waking {
    fn drop(&mut self) {
        // The runtime is going: wake what is queued now, and every later
        // push at once.
        let wakers = {
            let mut state = self.deferred.lock();
            state.alive = false;
            state.task = None;
            std::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn woken(counter: &Counter) -> usize {
        counter.0.load(Ordering::SeqCst)
    }

    fn fan_out_to(counters: &[Arc<Counter>]) {
        collect(|| {
            for counter in counters {
                if let Err(waker) = defer(Waker::from(counter.clone())) {
                    waker.wake();
                }
            }
        });
    }

    #[test]
    fn outside_a_fan_out_nothing_is_deferred() {
        let counter = Arc::new(Counter::default());
        let waker = defer(Waker::from(counter.clone())).expect_err("no fan-out runs");
        waker.wake();
        assert_eq!(woken(&counter), 1);
    }

    #[test]
    fn outside_a_runtime_a_fan_out_wakes_at_once() {
        let counters: Vec<_> = (0..3).map(|_| Arc::new(Counter::default())).collect();
        fan_out_to(&counters);
        assert!(counters.iter().all(|counter| woken(counter) == 1));
    }

    #[test]
    fn in_a_runtime_wakes_come_after_a_turn_and_every_one_comes() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let counters: Vec<_> = (0..5).map(|_| Arc::new(Counter::default())).collect();
            fan_out_to(&counters[..3]);
            // Nested: joins the outer collection.
            collect(|| fan_out_to(&counters[3..]));
            assert!(
                counters.iter().all(|counter| woken(counter) == 0),
                "woken before the runtime had a turn"
            );
            for _ in 0..10 {
                tokio::task::yield_now().await;
                if counters.iter().all(|counter| woken(counter) == 1) {
                    break;
                }
            }
            assert_eq!(
                counters.iter().map(|c| woken(c)).collect::<Vec<_>>(),
                [1; 5]
            );
            // The task waits for the next fan-out and serves it too.
            fan_out_to(&counters[..1]);
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            assert_eq!(woken(&counters[0]), 2);
        });
    }

    #[test]
    fn a_runtime_that_shuts_down_wakes_what_it_held_and_a_new_one_serves_later_fan_outs() {
        let held = Arc::new(Counter::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { fan_out_to(std::slice::from_ref(&held)) });
        // Not yet run: `block_on` returned before the task's turn.
        drop(runtime);
        assert_eq!(woken(&held), 1, "dropped with the runtime, not lost");
        let later = Arc::new(Counter::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            fan_out_to(std::slice::from_ref(&later));
            for _ in 0..100 {
                if woken(&later) == 1 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        });
        assert_eq!(woken(&later), 1);
    }
}
