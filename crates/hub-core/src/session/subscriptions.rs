//! The session's subscriptions and the delivery rule for live pushes.

use std::sync::Arc;

use bytes::Bytes;

use super::action::{Action, Delivery, LiveDelivery};
use super::Session;
use crate::codes::UnsubscribeCode;
use crate::position::StreamPosition;
use crate::wire::{self, Push};

/// A subscription whose reply has not been sent yet.
#[derive(Debug)]
pub(super) struct Pending {
    /// The subscribe command's id.
    pub(super) id: u32,
    /// The client asked for a recoverable subscription.
    pub(super) recoverable: bool,
    /// The client asked to recover from a position.
    pub(super) recovering: bool,
    /// The subscription token's `ttl` (seconds, for the reply) and when
    /// the subscription expires; `None` when it does not.
    pub(super) expiry: Option<(u32, std::time::Instant)>,
    /// Live pushes that arrived before the reply, in arrival order.
    pub(super) buffer: Vec<LiveDelivery>,
}

/// Where one subscription is.
#[derive(Debug)]
pub(super) enum State {
    /// The subscribe action runs; live pushes are buffered.
    Subscribing(Box<Pending>),
    /// The reply is out; `offset` is the last offset delivered when the
    /// channel is `positioned` (keeps history).
    Subscribed {
        /// Offsets are checked for order and gaps.
        positioned: bool,
        /// The last offset delivered.
        offset: u64,
    },
}

#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) channel: Arc<str>,
    pub(super) state: State,
}

/// The subscriptions of one session, sorted by channel name: no hashing
/// and no allocation until the first subscription.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    entries: Vec<Subscription>,
}

impl Subscriptions {
    fn find(&self, channel: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|entry| (*entry.channel).cmp(channel))
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn contains(&self, channel: &str) -> bool {
        self.find(channel).is_ok()
    }

    pub(super) fn is_established(&self, channel: &str) -> bool {
        self.get_mut_ref(channel)
            .is_some_and(|entry| matches!(entry.state, State::Subscribed { .. }))
    }

    fn get_mut_ref(&self, channel: &str) -> Option<&Subscription> {
        self.find(channel).ok().map(|index| &self.entries[index])
    }

    /// [`Subscriptions::get_mut`] for a name that is likely the very
    /// `Arc` a subscription holds (a live push of a channel the node
    /// named): pointer equality settles each comparison it can, so the
    /// usual lookup reads no channel name.
    fn get_mut_shared(&mut self, channel: &Arc<str>) -> Option<&mut Subscription> {
        self.entries
            .binary_search_by(|entry| {
                if Arc::ptr_eq(&entry.channel, channel) {
                    std::cmp::Ordering::Equal
                } else {
                    (*entry.channel).cmp(channel)
                }
            })
            .ok()
            .map(|index| &mut self.entries[index])
    }

    pub(super) fn get_mut(&mut self, channel: &str) -> Option<&mut Subscription> {
        self.find(channel)
            .ok()
            .map(|index| &mut self.entries[index])
    }

    /// Adds a subscription being set up; false when the channel is taken.
    pub(super) fn insert(&mut self, channel: Arc<str>, pending: Pending) -> bool {
        match self.find(&channel) {
            Ok(_) => false,
            Err(index) => {
                self.make_room();
                self.entries.insert(
                    index,
                    Subscription {
                        channel,
                        state: State::Subscribing(Box::new(pending)),
                    },
                );
                true
            }
        }
    }

    /// Adds an established subscription (made by the server); false when
    /// the channel is taken.
    pub(super) fn insert_established(&mut self, channel: Arc<str>, state: State) -> bool {
        match self.find(&channel) {
            Ok(_) => false,
            Err(index) => {
                self.make_room();
                self.entries.insert(index, Subscription { channel, state });
                true
            }
        }
    }

    /// Room for one more entry. The first takes room for exactly one:
    /// most connections hold a single subscription for their whole life,
    /// and `Vec`'s first growth would keep room for four (96 bytes more
    /// per idle connection). Later ones grow as usual.
    fn make_room(&mut self) {
        if self.entries.is_empty() {
            self.entries.reserve_exact(1);
        }
    }

    pub(super) fn remove(&mut self, channel: &str) -> Option<Subscription> {
        self.find(channel)
            .ok()
            .map(|index| self.entries.remove(index))
    }

    pub(super) fn clear(&mut self) {
        self.entries = Vec::new();
    }
}

impl Session {
    /// Hands the session a live push from its outbound queue and says what
    /// became of it. Publications of positioned channels must arrive in
    /// offset order; an offset already delivered (e.g. covered by the
    /// subscribe reply's recovered publications) is dropped, and a skipped
    /// offset ends the subscription with an `unsubscribe` push (code 2500,
    /// "insufficient state") so that the client resubscribes and recovers,
    /// as Centrifugo does.
    pub fn deliver(&mut self, delivery: &LiveDelivery) -> Delivery {
        if !self.is_connected() {
            return Delivery::Dropped;
        }
        let Some(subscription) = self.subscriptions.get_mut_shared(&delivery.channel) else {
            return Delivery::Dropped;
        };
        match &mut subscription.state {
            State::Subscribing(pending) => {
                pending.buffer.push(delivery.clone());
                Delivery::Buffered
            }
            State::Subscribed { positioned, offset } => {
                if !*positioned || delivery.offset == 0 {
                    self.queue_message(delivery.frame.clone());
                    return Delivery::Queued;
                }
                if delivery.offset <= *offset {
                    return Delivery::Dropped;
                }
                if delivery.offset == *offset + 1 {
                    *offset = delivery.offset;
                    self.queue_message(delivery.frame.clone());
                    return Delivery::Queued;
                }
                self.counters.position_gap();
                let channel = subscription.channel.clone();
                self.end_subscription_for_gap(channel);
                Delivery::Gap
            }
        }
    }

    /// The server subscribed this connection to `channel` (the server
    /// API's `subscribe`; the node already holds the subscription): sends
    /// the `subscribe` push with the channel's position, as Centrifugo
    /// does, and delivers the channel's live pushes from then on. Ignored
    /// when the connection is not connected or already subscribed.
    pub fn server_subscribed(
        &mut self,
        channel: Arc<str>,
        position: Option<StreamPosition>,
        data: Bytes,
    ) {
        if !self.is_connected() {
            return;
        }
        let state = State::Subscribed {
            positioned: position.is_some(),
            offset: position.as_ref().map_or(0, |position| position.offset),
        };
        if !self
            .subscriptions
            .insert_established(channel.clone(), state)
        {
            return;
        }
        let push = Push {
            channel: channel.to_string(),
            subscribe: Some(wire::Subscribe {
                recoverable: position.is_some(),
                positioned: position.is_some(),
                epoch: position
                    .as_ref()
                    .map(|position| position.epoch.as_str().to_owned())
                    .unwrap_or_default(),
                offset: position.as_ref().map_or(0, |position| position.offset),
                data,
            }),
            ..Push::default()
        };
        self.queue_push(push);
    }

    /// The server unsubscribed this connection from `channel` (the server
    /// API's `unsubscribe`; the node already dropped the subscription):
    /// sends the `unsubscribe` push with code 2000 "server unsubscribe",
    /// which SDKs treat as final (no resubscribe). Ignored when the
    /// connection is not subscribed to the channel.
    pub fn server_unsubscribed(&mut self, channel: &str) {
        if !self.is_connected() || self.subscriptions.remove(channel).is_none() {
            return;
        }
        let push = Push {
            channel: channel.to_owned(),
            unsubscribe: Some(UnsubscribeCode::SERVER.to_unsubscribe()),
            ..Push::default()
        };
        self.queue_push(push);
    }

    /// Queues a push as its own message; a push the format cannot carry
    /// closes the connection with the code the wire error names.
    fn queue_push(&mut self, push: Push) {
        match self.format.encode_push(push) {
            Ok(message) => self.queue_message(message),
            Err(error) => self.close(error.disconnect_code()),
        }
    }

    /// Sends the `unsubscribe` push (2500) for a channel whose stream
    /// skipped offsets and tells the runtime to unsubscribe it.
    fn end_subscription_for_gap(&mut self, channel: Arc<str>) {
        self.subscriptions.remove(&channel);
        let push = Push {
            channel: channel.to_string(),
            unsubscribe: Some(UnsubscribeCode::INSUFFICIENT_STATE.to_unsubscribe()),
            ..Push::default()
        };
        match self.format.encode_push(push) {
            Ok(message) => self.queue_message(message),
            Err(error) => self.close(error.disconnect_code()),
        }
        self.actions.push_back(Action::Unsubscribe { channel });
    }

    /// The subscription's reply is out: releases the buffered pushes
    /// through the normal delivery rule.
    pub(super) fn release_buffer(&mut self, buffer: Vec<LiveDelivery>) {
        for delivery in &buffer {
            if self.deliver(delivery) == Delivery::Gap {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed() -> State {
        State::Subscribed {
            positioned: true,
            offset: 0,
        }
    }

    #[test]
    fn the_first_subscription_takes_room_for_one_and_later_ones_keep_the_order() {
        let mut subscriptions = Subscriptions::default();
        assert!(subscriptions.insert_established("news:b".into(), subscribed()));
        assert_eq!(subscriptions.entries.capacity(), 1);
        assert!(!subscriptions.insert_established("news:b".into(), subscribed()));
        assert!(subscriptions.insert_established("news:c".into(), subscribed()));
        assert!(subscriptions.insert_established("news:a".into(), subscribed()));
        let channels: Vec<&str> = subscriptions
            .entries
            .iter()
            .map(|entry| &*entry.channel)
            .collect();
        assert_eq!(channels, ["news:a", "news:b", "news:c"]);
        assert!(subscriptions.remove("news:b").is_some());
        assert!(!subscriptions.contains("news:b"));
        assert_eq!(subscriptions.len(), 2);
    }

    #[test]
    fn a_live_push_finds_its_subscription_by_pointer_or_by_name() {
        let mut subscriptions = Subscriptions::default();
        let held: Vec<Arc<str>> = ["news:a", "news:b", "news:c"]
            .into_iter()
            .map(Arc::from)
            .collect();
        for channel in &held {
            assert!(subscriptions.insert_established(channel.clone(), subscribed()));
        }
        for channel in &held {
            // The very `Arc` the subscription holds (the node's) ...
            let found = subscriptions.get_mut_shared(channel).unwrap();
            assert!(Arc::ptr_eq(&found.channel, channel));
            // ... or another with the same name (the Redis engine's).
            let copy: Arc<str> = Arc::from(&**channel);
            let found = subscriptions.get_mut_shared(&copy).unwrap();
            assert_eq!(found.channel, *channel);
        }
        assert!(subscriptions.get_mut_shared(&Arc::from("news:d")).is_none());
        assert!(subscriptions.get_mut_shared(&Arc::from("news:0")).is_none());
    }
}
