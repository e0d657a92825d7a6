//! [`Mailbox`]: one connection's bounded queue of live pushes, filled by
//! publishers under the node lock and drained by the connection's task.
//!
//! The bytes of a push are shared by every recipient of the same format
//! (encoded once); the queue only holds `Bytes` handles. hub-core's
//! [`OutboundQueue`] accounts them: a push that does not fit marks the
//! mailbox as overflowed, and its task closes the connection with 3008
//! "slow" instead of blocking the publisher.
//!
//! With a node-wide memory budget (`HubConfig::memory_budget`), queued
//! bytes are also charged to it, up to three quarters of it (the rest is
//! kept for frames being read): a push the budget cannot take is handed
//! back to the engine, which sheds the largest queues (3008, recoverable)
//! to make room. Charges return when items are taken or dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use switchboard::proto::MemoryBudget;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::outbound::{OutboundLimits, OutboundQueue};
use switchboard_hub_core::position::StreamPosition;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::session::LiveDelivery;
use switchboard_hub_core::wire::Format;

/// What a recipient needs: a Centrifugo push in its wire format, or the
/// raw event for a `/chat` member (which renders it in its subprotocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recipient {
    /// A Centrifugo client speaking this format.
    Hub(Format),
    /// A raw `/chat` member.
    Chat,
}

/// An event in a channel as a raw `/chat` member sees it.
#[derive(Debug, Clone)]
pub(crate) enum ChatEvent {
    /// A publication: its data and its publisher (if a client published).
    Message(Bytes, Option<Arc<ClientInfo>>),
    /// A subscriber joined.
    Join(Arc<ClientInfo>),
    /// A subscriber left.
    Leave(Arc<ClientInfo>),
}

/// What the server API asks of one Centrifugo session, queued in order
/// with its live pushes (the engine already changed the node).
#[derive(Debug, Clone)]
pub(crate) enum Control {
    /// The server subscribed the session: send the `subscribe` push.
    Subscribe {
        /// The channel.
        channel: Arc<str>,
        /// The channel's position, when it keeps history.
        position: Option<StreamPosition>,
        /// Custom data for the push.
        data: Bytes,
    },
    /// The server unsubscribed the session: send the `unsubscribe` push.
    Unsubscribe(Arc<str>),
    /// Close the connection with this code and reason.
    Disconnect {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// One queued item.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    /// For a Centrifugo session.
    Hub(LiveDelivery),
    /// For a raw `/chat` member.
    Chat(ChatEvent),
    /// A server API command for a Centrifugo session. Boxed: commands are
    /// rare, and every mailbox holds room for one delivery inline (see
    /// [`Queued`]), which the largest variant would size.
    Control(Box<Control>),
}

impl Delivery {
    /// The bytes this item holds in a queue.
    pub(crate) fn len(&self) -> usize {
        match self {
            Delivery::Hub(live) => live.frame.len(),
            Delivery::Chat(ChatEvent::Message(data, _)) => data.len(),
            Delivery::Chat(_) | Delivery::Control(_) => 0,
        }
    }
}

/// Queued deliveries, oldest first. The first is held inline, so that the
/// usual wake-up under fan-out (one push, then the task takes it) moves no
/// heap allocation between the publisher and the connection; a deque is
/// allocated only when two or more wait.
#[derive(Debug, Default)]
pub(crate) struct Queued {
    first: Option<Delivery>,
    rest: VecDeque<Delivery>,
}

impl Queued {
    fn push(&mut self, delivery: Delivery) {
        if self.first.is_none() {
            // Empty: `rest` only fills behind a first item.
            self.first = Some(delivery);
        } else {
            self.rest.push_back(delivery);
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// How many are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn iter(&self) -> impl Iterator<Item = &Delivery> {
        self.first.iter().chain(&self.rest)
    }
}

impl IntoIterator for Queued {
    type Item = Delivery;
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<Delivery>,
        std::collections::vec_deque::IntoIter<Delivery>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

#[derive(Debug)]
struct State {
    items: Queued,
    outbound: OutboundQueue,
    /// Set once the connection must close (overflow, or a push its format
    /// cannot carry); nothing more is queued.
    closed: Option<DisconnectCode>,
    /// Bytes of `items` charged to the memory budget.
    charged: usize,
    /// The node's memory budget, set when the engine registers the
    /// mailbox. Under the lock, which every charge and release takes
    /// anyway: a `OnceLock` beside it costs every connection 8 bytes more.
    budget: Option<MemoryBudget>,
    /// The task waiting in [`Mailbox::wait`], woken by the first push
    /// after it started waiting and then forgotten: a burst of pushes to
    /// a task that has not run yet costs one wake-up, not one each.
    waiter: Option<Waker>,
}

/// One connection's queue.
#[derive(Debug)]
pub(crate) struct Mailbox {
    recipient: Recipient,
    state: Mutex<State>,
}

/// The part of the memory budget outbound queues may hold: three
/// quarters. The rest stays for what connections are reading (frames,
/// inflation): with queues allowed the whole budget, a stalled subscriber
/// filled it and the publisher's next message was refused with 1009 before
/// any push found the budget full and shed the subscriber (3008).
fn queue_ceiling(budget: &MemoryBudget) -> usize {
    budget.limit() - budget.limit() / 4
}

/// A push the memory budget could not take; nothing was queued.
#[derive(Debug)]
pub(crate) struct OverBudget(pub(crate) Delivery);

/// What [`Mailbox::take`] found.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// The queued items, oldest first.
    pub(crate) items: Queued,
    /// The code to close with, when the connection must close.
    pub(crate) closed: Option<DisconnectCode>,
}

impl Mailbox {
    pub(crate) fn new(recipient: Recipient, limits: OutboundLimits) -> Self {
        Mailbox {
            recipient,
            state: Mutex::new(State {
                items: Queued::default(),
                outbound: OutboundQueue::new(limits),
                closed: None,
                charged: 0,
                waiter: None,
                budget: None,
            }),
        }
    }

    /// Charges this mailbox's queued bytes to `budget` from now on.
    pub(crate) fn use_budget(&self, budget: MemoryBudget) {
        self.lock().budget.get_or_insert(budget);
    }

    /// Returns `bytes` of the queue's charge to the budget.
    fn release(state: &mut State, bytes: usize) {
        let bytes = bytes.min(state.charged);
        state.charged -= bytes;
        if let Some(budget) = &state.budget {
            budget.release(bytes);
        }
    }

    /// Drops everything queued, returning its charge.
    fn clear(&self, state: &mut State) {
        state.items = Queued::default();
        let charged = state.charged;
        Self::release(state, charged);
    }

    /// What this mailbox's connection needs.
    pub(crate) fn recipient(&self) -> Recipient {
        self.recipient
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind that is
        // still consistent enough to drain or drop.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `delivery` and wakes the task; an overflow closes the
    /// mailbox with 3008 "slow". When the memory budget cannot take its
    /// bytes, nothing is queued and the delivery comes back for the engine
    /// to shed other queues (see [`Mailbox::shed`]) and retry.
    pub(crate) fn push(&self, delivery: Delivery) -> Result<(), OverBudget> {
        let mut state = self.lock();
        if state.closed.is_some() {
            return Ok(());
        }
        let len = delivery.len();
        if let Some(budget) = &state.budget {
            if !budget.try_charge_within(len, queue_ceiling(budget)) {
                return Err(OverBudget(delivery));
            }
            state.charged += len;
        }
        match state.outbound.try_push(len) {
            Ok(()) => state.items.push(delivery),
            Err(overflow) => {
                tracing::info!(%overflow, "slow consumer: closing with 3008");
                state.closed = Some(DisconnectCode::SLOW);
                self.clear(&mut state);
            }
        }
        Self::wake(state);
        Ok(())
    }

    /// Releases the lock, then wakes the waiting task (if any); during a
    /// fan-out the wake-up is deferred to the runtime's next turn (see
    /// [`crate::wake_batch`]).
    fn wake(mut state: MutexGuard<'_, State>) {
        let waiter = state.waiter.take();
        drop(state);
        if let Some(waiter) = waiter {
            if let Err(waiter) = crate::wake_batch::defer(waiter) {
                waiter.wake();
            }
        }
    }

    /// Queues a server API command (it holds no bytes, so the budget never
    /// refuses it).
    pub(crate) fn push_control(&self, control: Control) {
        if let Err(OverBudget(delivery)) = self.push(Delivery::Control(Box::new(control))) {
            // Unreachable with zero bytes; queued anyway rather than lost.
            self.lock().items.push(delivery);
        }
    }

    /// Closes the connection as slow (3008, the client reconnects and
    /// recovers) and frees its queue: the memory budget is exhausted and
    /// this queue is among the largest. Returns the bytes freed.
    pub(crate) fn shed(&self) -> usize {
        let mut state = self.lock();
        let freed = state.charged;
        if state.closed.is_none() {
            tracing::info!(
                queued_bytes = freed,
                "memory budget exhausted: shedding one of the largest queues with 3008"
            );
            state.closed = Some(DisconnectCode::SLOW);
        }
        self.clear(&mut state);
        Self::wake(state);
        freed
    }

    /// Bytes this mailbox holds charged to the memory budget.
    pub(crate) fn charged_bytes(&self) -> usize {
        self.lock().charged
    }

    /// Closes the mailbox with `code` (e.g. a push the connection's format
    /// cannot carry) and wakes the task.
    pub(crate) fn close(&self, code: DisconnectCode) {
        let mut state = self.lock();
        state.closed.get_or_insert(code);
        Self::wake(state);
    }

    /// Bytes queued and not yet taken (for the outbound-queue metric).
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().outbound.queued_bytes()
    }

    /// Takes everything queued.
    pub(crate) fn take(&self) -> Taken {
        let mut state = self.lock();
        // The queue itself moves out (no copy), and an idle mailbox keeps
        // no buffer: draining would leave every mailbox that ever had two
        // pushes waiting holding the deque's capacity while idle.
        let items = std::mem::take(&mut state.items);
        let mut taken_bytes = 0;
        for item in items.iter() {
            state.outbound.pop(item.len());
            taken_bytes += item.len();
        }
        // Handed to the session: from here the socket's buffers hold them.
        Self::release(&mut state, taken_bytes);
        Taken {
            items,
            closed: state.closed,
        }
    }

    /// Resolves once something is queued or the mailbox is closed (at
    /// once if it already is). Cancel safe: a dropped wait leaves at most
    /// a stale waker, which costs one spurious turn.
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |context| self.poll_wait(context))
    }

    /// [`Mailbox::wait`] as a poll function: ready once something is
    /// queued or the mailbox is closed; otherwise the task in `context` is
    /// woken by the next push.
    pub(crate) fn poll_wait(&self, context: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if !state.items.is_empty() || state.closed.is_some() {
            return Poll::Ready(());
        }
        match &mut state.waiter {
            Some(waiter) if waiter.will_wake(context.waker()) => {}
            slot => *slot = Some(context.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let mut state = self.lock();
        let charged = state.charged;
        Self::release(&mut state, charged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(max_messages: usize) -> OutboundLimits {
        OutboundLimits {
            max_bytes: 1 << 20,
            max_messages,
            write_timeout: Duration::from_secs(1),
        }
    }

    fn message(text: &'static str) -> Delivery {
        Delivery::Chat(ChatEvent::Message(
            Bytes::from_static(text.as_bytes()),
            None,
        ))
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll_wait(mailbox: &Mailbox, waker: &Arc<CountingWaker>) -> Poll<()> {
        let waker = Waker::from(waker.clone());
        let mut context = std::task::Context::from_waker(&waker);
        std::pin::pin!(mailbox.wait()).poll(&mut context)
    }

    fn wakes(waker: &CountingWaker) -> usize {
        waker.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_burst_of_pushes_wakes_a_waiting_task_once() {
        let mailbox = Mailbox::new(Recipient::Chat, limits(100));
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_wait(&mailbox, &waker), Poll::Pending);
        mailbox.push(message("a")).unwrap();
        mailbox.push(message("b")).unwrap();
        assert_eq!(wakes(&waker), 1);
        assert_eq!(poll_wait(&mailbox, &waker), Poll::Ready(()));
        assert_eq!(mailbox.take().items.len(), 2);
        // Empty again: the task waits, and the next push wakes it.
        assert_eq!(poll_wait(&mailbox, &waker), Poll::Pending);
        mailbox.push(message("c")).unwrap();
        assert_eq!(wakes(&waker), 2);
    }

    #[test]
    fn closing_wakes_the_waiting_task_and_wait_stays_ready() {
        let mailbox = Mailbox::new(Recipient::Chat, limits(100));
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_wait(&mailbox, &waker), Poll::Pending);
        mailbox.close(DisconnectCode::SLOW);
        assert_eq!(wakes(&waker), 1);
        assert_eq!(poll_wait(&mailbox, &waker), Poll::Ready(()));
        assert_eq!(mailbox.take().closed, Some(DisconnectCode::SLOW));
        assert_eq!(poll_wait(&mailbox, &waker), Poll::Ready(()));
    }

    fn texts(items: Queued) -> Vec<String> {
        items
            .into_iter()
            .map(|item| match item {
                Delivery::Chat(ChatEvent::Message(data, _)) => {
                    String::from_utf8(data.to_vec()).unwrap()
                }
                other => panic!("not a chat message: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn pushes_come_out_in_order_whether_one_or_many_wait() {
        let mailbox = Mailbox::new(Recipient::Chat, limits(100));
        mailbox.push(message("a")).unwrap();
        assert_eq!(texts(mailbox.take().items), ["a"]);
        for text in ["b", "c", "d", "e", "f"] {
            mailbox.push(message(text)).unwrap();
        }
        assert_eq!(texts(mailbox.take().items), ["b", "c", "d", "e", "f"]);
        assert!(mailbox.take().items.is_empty());
        // A taken mailbox starts inline again, and keeps no deque.
        mailbox.push(message("g")).unwrap();
        let taken = mailbox.take().items;
        assert_eq!(taken.rest.capacity(), 0);
        assert_eq!(texts(taken), ["g"]);
    }

    #[test]
    fn the_inline_delivery_is_no_larger_than_a_live_push() {
        // Commands are boxed so that they do not size the slot every
        // mailbox holds.
        assert!(
            std::mem::size_of::<Delivery>() <= 64,
            "{} bytes",
            std::mem::size_of::<Delivery>()
        );
    }

    #[test]
    fn an_overflow_closes_with_slow_and_drops_the_queue() {
        let mailbox = Mailbox::new(Recipient::Chat, limits(2));
        mailbox.push(message("a")).unwrap();
        mailbox.push(message("b")).unwrap();
        let taken = mailbox.take();
        assert_eq!(taken.items.len(), 2);
        assert_eq!(taken.closed, None);
        // Taking freed the room again.
        mailbox.push(message("c")).unwrap();
        mailbox.push(message("d")).unwrap();
        mailbox.push(message("e")).unwrap();
        let taken = mailbox.take();
        assert!(taken.items.is_empty());
        assert_eq!(taken.closed, Some(DisconnectCode::SLOW));
    }

    #[test]
    fn queued_bytes_are_charged_to_the_budget_until_taken_shed_or_dropped() {
        let budget = MemoryBudget::new(8);
        let mailbox = Mailbox::new(Recipient::Chat, limits(100));
        mailbox.use_budget(budget.clone());
        mailbox.push(message("abc")).unwrap();
        mailbox.push(message("def")).unwrap();
        assert_eq!(budget.used(), 6);
        // Queues stop at three quarters of the budget ...
        let refused = mailbox.push(message("g")).unwrap_err();
        assert_eq!(refused.0.len(), 1);
        // ... and the last quarter is left for frames being read.
        assert!(budget.try_charge(2));
        budget.release(2);
        assert_eq!(mailbox.take().items.len(), 2);
        assert_eq!(budget.used(), 0);
        mailbox.push(message("abc")).unwrap();
        assert_eq!(mailbox.shed(), 3);
        assert_eq!(budget.used(), 0);
        assert_eq!(mailbox.take().closed, Some(DisconnectCode::SLOW));
        let other = Mailbox::new(Recipient::Chat, limits(100));
        other.use_budget(budget.clone());
        other.push(message("abcdef")).unwrap();
        drop(other);
        assert_eq!(budget.used(), 0);
    }
}
