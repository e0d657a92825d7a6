//! Graceful shutdown: the signal that starts it, the phase every part of
//! the server watches, and the queue that lets the drain close WebSocket
//! sessions a batch at a time.
//!
//! Phases: serving, then draining (from the stop signal: `/ready` says
//! 503, upgrades are refused, sessions are closed in batches by
//! `crate::drain`), then closing (the drain is over: HTTP connections
//! finish the request in progress and close).
//!
//! Every WebSocket session holds a place in the drain queue: taking it is
//! how a session joins, and dropping it (the session ended) is how it
//! leaves. The drain releases places oldest first, at its own pace, so
//! sessions close at the pace the drain sets without knowing about it.
//! A place is released in one of two ways:
//! * a Centrifugo session's place closes its [`Mailbox`] with 3001
//!   "shutdown" ([`Shutdown::enqueue`]): the session already waits on its
//!   mailbox, so it needs no shutdown future of its own (an idle
//!   connection's task is that much smaller);
//! * an `/echo` or `/chat` session holds a [`Shutdown`] clone whose
//!   [`Shutdown::wait`] resolves when the drain has released it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_hub_core::codes::DisconnectCode;
use tokio::sync::{watch, Notify};

use crate::mailbox::Mailbox;

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

/// How the drain tells one session to close.
trait Release: std::fmt::Debug + Send + Sync {
    /// Tells the session to close now (called once, by the drain).
    fn release(&self);
}

/// The place of a session that waits on [`Shutdown::wait`].
#[derive(Debug, Default)]
struct Turn {
    /// Set when the drain tells this session to close.
    released: AtomicBool,
    /// Wakes the session's [`Shutdown::wait`].
    wake: Notify,
}

impl Release for Turn {
    fn release(&self) {
        self.released.store(true, Ordering::Release);
        self.wake.notify_waiters();
    }
}

impl Release for Mailbox {
    /// The session sees the close code on its next turn, after whatever
    /// its mailbox already held was dropped (as a slow consumer's is).
    fn release(&self) {
        self.close(DisconnectCode::SHUTDOWN);
    }
}

/// The sessions not yet released, oldest first, and the count of those
/// that ended once the drain had started.
#[derive(Debug, Default)]
struct Queue {
    waiting: BTreeMap<u64, Arc<dyn Release>>,
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

    /// Queues `session` for the drain. One that arrives once the drain is
    /// over (nothing will release it any more) is released at once.
    fn join(self: &Arc<Self>, session: Arc<dyn Release>) -> DrainPlace {
        let number = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        {
            let mut queue = self.queue();
            queue.open += 1;
            if self.phase() == Phase::Closing {
                drop(queue);
                session.release();
            } else {
                queue.waiting.insert(number, session);
            }
        }
        DrainPlace {
            shared: self.clone(),
            number,
        }
    }
}

/// One session's place in the drain queue; dropping it (the session
/// ended) leaves the queue and tells the drain.
#[derive(Debug)]
pub(crate) struct DrainPlace {
    shared: Arc<Shared>,
    number: u64,
}

impl Drop for DrainPlace {
    fn drop(&mut self) {
        {
            let mut queue = self.shared.queue();
            queue.waiting.remove(&self.number);
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
        let released: Vec<Arc<dyn Release>> = {
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
        for session in &released {
            session.release();
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
    /// `None` for the template in `App`, which is in no queue. The place
    /// is dropped before the turn it releases (field order).
    ticket: Option<(DrainPlace, Arc<Turn>)>,
}

impl Clone for Shutdown {
    /// Joins the drain queue as a new session. A session that starts
    /// during the drain is queued too and closed in a later batch.
    fn clone(&self) -> Self {
        let turn = Arc::new(Turn::default());
        let place = self.shared.join(turn.clone());
        Shutdown {
            shared: self.shared.clone(),
            ticket: Some((place, turn)),
        }
    }
}

impl Shutdown {
    /// Joins the drain queue as a Centrifugo session whose task waits on
    /// `mailbox`: the drain closes the mailbox with 3001 "shutdown" when
    /// it is this session's turn. Hold the place until the session ends.
    pub(crate) fn enqueue(&self, mailbox: Arc<Mailbox>) -> DrainPlace {
        self.shared.join(mailbox)
    }

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

    fn hub_mailbox() -> Arc<Mailbox> {
        let limits = switchboard_hub_core::outbound::OutboundLimits {
            max_bytes: 1024,
            max_messages: 8,
            write_timeout: std::time::Duration::from_secs(1),
        };
        Arc::new(Mailbox::new(
            crate::mailbox::Recipient::Hub(switchboard_hub_core::wire::Format::Json),
            limits,
        ))
    }

    #[test]
    fn a_hub_session_is_released_through_its_mailbox_in_its_turn() {
        let (trigger, template) = channel();
        let older = template.clone();
        let mailbox = hub_mailbox();
        let place = template.enqueue(mailbox.clone());
        assert_eq!(trigger.open_sessions(), 2);
        trigger.start_drain();
        assert_eq!(
            mailbox.take().closed,
            None,
            "the signal alone closes nothing"
        );
        assert_eq!(trigger.release(1), 1);
        assert_eq!(mailbox.take().closed, None, "the older session went first");
        assert_eq!(trigger.release(1), 1);
        assert_eq!(mailbox.take().closed, Some(DisconnectCode::SHUTDOWN));
        drop(place);
        drop(older);
        assert_eq!(trigger.open_sessions(), 0);
        assert_eq!(trigger.ended_while_draining(), 2);
    }

    #[test]
    fn a_session_that_joins_after_the_drain_is_over_is_released_at_once() {
        let (trigger, template) = channel();
        trigger.start_drain();
        trigger.close();
        let mailbox = hub_mailbox();
        let _place = template.enqueue(mailbox.clone());
        assert_eq!(mailbox.take().closed, Some(DisconnectCode::SHUTDOWN));
        let mut late = template.clone();
        assert!(is_ready(late.wait()));
        assert_eq!(trigger.open_sessions(), 2);
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
