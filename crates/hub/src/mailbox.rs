//! [`Mailbox`]: one connection's bounded queue of live pushes, filled by
//! publishers under the node lock and drained by the connection's task.
//!
//! The bytes of a push are shared by every recipient of the same format
//! (encoded once); the queue only holds `Bytes` handles. hub-core's
//! [`OutboundQueue`] accounts them: a push that does not fit marks the
//! mailbox as overflowed, and its task closes the connection with 3008
//! "slow" instead of blocking the publisher.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::outbound::{OutboundLimits, OutboundQueue};
use switchboard_hub_core::position::StreamPosition;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::session::LiveDelivery;
use switchboard_hub_core::wire::Format;
use tokio::sync::Notify;

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
    /// A server API command for a Centrifugo session.
    Control(Control),
}

impl Delivery {
    fn len(&self) -> usize {
        match self {
            Delivery::Hub(live) => live.frame.len(),
            Delivery::Chat(ChatEvent::Message(data, _)) => data.len(),
            Delivery::Chat(_) | Delivery::Control(_) => 0,
        }
    }
}

#[derive(Debug)]
struct State {
    items: VecDeque<Delivery>,
    outbound: OutboundQueue,
    /// Set once the connection must close (overflow, or a push its format
    /// cannot carry); nothing more is queued.
    closed: Option<DisconnectCode>,
}

/// One connection's queue.
#[derive(Debug)]
pub(crate) struct Mailbox {
    recipient: Recipient,
    state: Mutex<State>,
    wake: Notify,
}

/// What [`Mailbox::take`] found.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// The queued items, oldest first.
    pub(crate) items: Vec<Delivery>,
    /// The code to close with, when the connection must close.
    pub(crate) closed: Option<DisconnectCode>,
}

impl Mailbox {
    pub(crate) fn new(recipient: Recipient, limits: OutboundLimits) -> Self {
        Mailbox {
            recipient,
            state: Mutex::new(State {
                items: VecDeque::new(),
                outbound: OutboundQueue::new(limits),
                closed: None,
            }),
            wake: Notify::new(),
        }
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
    /// mailbox with 3008 "slow".
    pub(crate) fn push(&self, delivery: Delivery) {
        let mut state = self.lock();
        if state.closed.is_some() {
            return;
        }
        match state.outbound.try_push(delivery.len()) {
            Ok(()) => state.items.push_back(delivery),
            Err(overflow) => {
                tracing::info!(%overflow, "slow consumer: closing with 3008");
                state.closed = Some(DisconnectCode::SLOW);
                state.items.clear();
            }
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Closes the mailbox with `code` (e.g. a push the connection's format
    /// cannot carry) and wakes the task.
    pub(crate) fn close(&self, code: DisconnectCode) {
        self.lock().closed.get_or_insert(code);
        self.wake.notify_one();
    }

    /// Bytes queued and not yet taken (for the outbound-queue metric).
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().outbound.queued_bytes()
    }

    /// Takes everything queued.
    pub(crate) fn take(&self) -> Taken {
        let mut state = self.lock();
        let items: Vec<Delivery> = state.items.drain(..).collect();
        for item in &items {
            state.outbound.pop(item.len());
        }
        Taken {
            items,
            closed: state.closed,
        }
    }

    /// Resolves when something was queued since the last call (at once if
    /// a wake-up is pending). Cancel safe.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
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

    #[test]
    fn an_overflow_closes_with_slow_and_drops_the_queue() {
        let mailbox = Mailbox::new(Recipient::Chat, limits(2));
        mailbox.push(message("a"));
        mailbox.push(message("b"));
        let taken = mailbox.take();
        assert_eq!(taken.items.len(), 2);
        assert_eq!(taken.closed, None);
        // Taking freed the room again.
        mailbox.push(message("c"));
        mailbox.push(message("d"));
        mailbox.push(message("e"));
        let taken = mailbox.take();
        assert!(taken.items.is_empty());
        assert_eq!(taken.closed, Some(DisconnectCode::SLOW));
    }
}
