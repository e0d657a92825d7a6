//! Graceful shutdown: the signal that starts it, the phase every part of
//! the server watches, and the queue that lets the drain close WebSocket
//! sessions a batch at a time.
//!
//! Phases: serving, then draining (from the stop signal: `/ready` says
//! 503, upgrades are refused, sessions are closed in batches by
//! `crate::drain`), then closing (the drain is over: HTTP connections
//! finish the request in progress and close).
//!
//! Every WebSocket session holds its own [`Shutdown`], a clone of the one
//! in `App`: cloning is how a session takes its place in the drain queue,
//! and dropping the clone (the session ended) is how it leaves. Its
//! [`Shutdown::wait`] resolves when the drain has released that session,
//! not when the drain starts, so sessions close at the pace the drain
//! sets without knowing about it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Accepting and serving.
    Serving,
    /// The stop signal came: not ready, no new sessions, sessions closed
    /// in batches.
    Draining,
    /// The drain is over (every session gone, or the deadline passed).
    Closing,
}

/// One session's place in the drain queue.
#[derive(Debug, Default)]
struct Turn {
    /// Set when the drain tells this session to close.
    released: AtomicBool,
    /// Wakes the session's [`Shutdown::wait`].
    wake: Notify,
}

/// The sessions not yet released, oldest first, and the count of those
/// that ended once the drain had started.
#[derive(Debug, Default)]
struct Queue {
    waiting: BTreeMap<u64, Arc<Turn>>,
    /// Sessions registered and not yet ended (released or not).
    open: usize,
}

/// What the trigger, the drain and every handle share.
#[derive(Debug)]
struct Shared {
    phase: watch::Sender<Phase>,
    queue: Mutex<Queue>,
    next_ticket: AtomicU64,
    /// Sessions that ended after the drain started.
    gone_while_draining: AtomicU64,
    /// Wakes the drain when a session ends.
    session_ended: Notify,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The queue is a plain map whose entries stay valid even if a
        // holder panicked mid-update.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn phase(&self) -> Phase {
        *self.phase.borrow()
    }
}

/// Moves the server through its phases and releases sessions; held by
/// the server loop.
#[derive(Debug)]
pub(crate) struct Trigger(Arc<Shared>);

impl Trigger {
    /// Starts the drain: `/ready` turns 503 and upgrades are refused at
    /// once. Sessions stay open until [`Trigger::release`] lets them go.
    pub(crate) fn start_drain(&self) {
        self.0.phase.send_if_modified(|phase| {
            let starting = *phase == Phase::Serving;
            if starting {
                *phase = Phase::Draining;
            }
            starting
        });
    }

    /// Ends the drain: every session still open is released and HTTP
    /// connections close after the request in progress.
    pub(crate) fn close(&self) {
        self.0.phase.send_replace(Phase::Closing);
        self.release(usize::MAX);
    }

    /// Tells up to `count` sessions, oldest first, to close now; returns
    /// how many were told.
    pub(crate) fn release(&self, count: usize) -> usize {
        let released: Vec<Arc<Turn>> = {
            let mut queue = self.0.queue();
            let mut taken = Vec::new();
            while taken.len() < count {
                match queue.waiting.pop_first() {
                    Some((_, turn)) => taken.push(turn),
                    None => break,
                }
            }
            taken
        };
        for turn in &released {
            turn.released.store(true, Ordering::Release);
            turn.wake.notify_waiters();
        }
        released.len()
    }

    /// Sessions still open (released or not).
    pub(crate) fn open_sessions(&self) -> usize {
        self.0.queue().open
    }

    /// Sessions that ended since the drain started.
    pub(crate) fn ended_while_draining(&self) -> u64 {
        self.0.gone_while_draining.load(Ordering::Relaxed)
    }

    /// Resolves when a session ends (or at once if one ended since the
    /// last call returned and nobody was waiting).
    pub(crate) async fn session_ended(&self) {
        self.0.session_ended.notified().await;
    }

    /// A view of the phase for connection tasks.
    pub(crate) fn phase(&self) -> PhaseWatch {
        PhaseWatch(self.0.phase.subscribe())
    }
}

/// A connection task's view of the phase (not a place in the drain).
#[derive(Debug, Clone)]
pub(crate) struct PhaseWatch(watch::Receiver<Phase>);

impl PhaseWatch {
    /// Resolves once the server has reached `phase` (at once if it has).
    /// Cancel safe: it only observes.
    pub(crate) async fn reached(&mut self, phase: Phase) {
        // An error means the trigger is gone, which only happens when the
        // server is exiting anyway: treat it as reached.
        let _ = self.0.wait_for(|now| *now >= phase).await;
    }
}

/// A WebSocket session's view of the shutdown: the handle in `App` is the
/// template, and each clone is one session's place in the drain queue
/// (see the module documentation).
#[derive(Debug)]
pub(crate) struct Shutdown {
    shared: Arc<Shared>,
    /// `None` for the template in `App`, which is in no queue.
    ticket: Option<(u64, Arc<Turn>)>,
}

impl Clone for Shutdown {
    /// Joins the drain queue as a new session. A session that starts
    /// during the drain is queued too and closed in a later batch.
    fn clone(&self) -> Self {
        let number = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let turn = Arc::new(Turn::default());
        {
            let mut queue = self.shared.queue();
            queue.waiting.insert(number, turn.clone());
            queue.open += 1;
        }
        Shutdown {
            shared: self.shared.clone(),
            ticket: Some((number, turn)),
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        let Some((number, _)) = &self.ticket else {
            return;
        };
        {
            let mut queue = self.shared.queue();
            queue.waiting.remove(number);
            queue.open -= 1;
        }
        if self.shared.phase() != Phase::Serving {
            self.shared
                .gone_while_draining
                .fetch_add(1, Ordering::Relaxed);
        }
        self.shared.session_ended.notify_one();
    }
}

impl Shutdown {
    /// Resolves once this session should close: the drain released it.
    /// For the template, once the drain is over. Cancel safe: it only
    /// observes.
    pub(crate) async fn wait(&mut self) {
        let Some((_, turn)) = &self.ticket else {
            let _ = self
                .shared
                .phase
                .subscribe()
                .wait_for(|phase| *phase == Phase::Closing)
                .await;
            return;
        };
        loop {
            // Registered before the check, so a release in between is
            // not missed.
            let woken = turn.wake.notified();
            if turn.released.load(Ordering::Acquire) {
                return;
            }
            woken.await;
        }
    }

    /// Whether the stop signal has come (draining or closing).
    pub(crate) fn is_stopping(&self) -> bool {
        self.shared.phase() != Phase::Serving
    }
}

/// The trigger and the template handle for `App`.
pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (phase, _) = watch::channel(Phase::Serving);
    let shared = Arc::new(Shared {
        phase,
        queue: Mutex::new(Queue::default()),
        next_ticket: AtomicU64::new(0),
        gone_while_draining: AtomicU64::new(0),
        session_ended: Notify::new(),
    });
    (
        Trigger(shared.clone()),
        Shutdown {
            shared,
            ticket: None,
        },
    )
}

/// The process signals that stop the server: Ctrl-C (SIGINT) and SIGTERM.
/// The handlers are installed when this is built, before the server
/// announces itself, so a signal sent right after `listening on` is never
/// lost to the default action.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers.
    pub(crate) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next stop signal and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn is_ready(future: impl Future<Output = ()>) -> bool {
        let mut future = pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        future.as_mut().poll(&mut context) == Poll::Ready(())
    }

    #[test]
    fn sessions_are_released_oldest_first_and_counted_when_they_end() {
        let (trigger, template) = channel();
        let mut first = template.clone();
        let mut second = template.clone();
        let mut third = template.clone();
        assert_eq!(trigger.open_sessions(), 3);
        assert!(!template.is_stopping());

        trigger.start_drain();
        assert!(first.is_stopping());
        assert!(!is_ready(first.wait()), "the signal alone releases nobody");

        assert_eq!(trigger.release(2), 2);
        assert!(is_ready(first.wait()));
        assert!(is_ready(second.wait()));
        assert!(!is_ready(third.wait()));

        drop(first);
        drop(second);
        assert_eq!(trigger.open_sessions(), 1);
        assert_eq!(trigger.ended_while_draining(), 2);
        assert_eq!(trigger.release(5), 1, "only the third was still waiting");
        assert!(is_ready(third.wait()));
    }

    #[test]
    fn a_session_that_ends_before_its_turn_leaves_the_queue() {
        let (trigger, template) = channel();
        let early = template.clone();
        let mut late = template.clone();
        drop(early);
        assert_eq!(trigger.ended_while_draining(), 0, "not draining yet");
        trigger.start_drain();
        assert_eq!(trigger.release(1), 1);
        assert!(is_ready(late.wait()));
    }

    #[test]
    fn closing_releases_everyone_and_the_template() {
        let (trigger, mut template) = channel();
        let mut session = template.clone();
        trigger.start_drain();
        assert!(!is_ready(template.wait()));
        trigger.close();
        assert!(is_ready(session.wait()));
        assert!(is_ready(template.wait()));
    }
}
