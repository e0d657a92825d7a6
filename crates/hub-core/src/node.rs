//! The node: the memory engine's state shared by every session of a hub.
//!
//! It composes the namespace table, each channel's stream (positions and
//! history), subscriber index and presence. The runtime keeps it behind a
//! lock and calls it for the actions sessions ask for. Publishing returns
//! the subscribers as a borrowed slice so that fan-out allocates nothing
//! per recipient: the runtime encodes the push once per format and hands
//! the same `Bytes` to every recipient's queue while it still holds the
//! lock, so that every queue receives a channel's offsets in order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::{ChannelOptions, NamespaceId, Namespaces, NodeConfig, Settings};
use crate::counters::Counters;
use crate::error::HubError;
use crate::history::{HistoryQuery, HistoryRead, Publication, Recovery, Stream};
use crate::position::{EpochSource, StreamPosition};
use crate::presence::{ClientInfo, Presence, PresenceStats};
use crate::subscribers::{SessionId, SubscriberSet};

/// What a subscribe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOutcome {
    /// The channel's name as the node holds it. A subscriber that keeps
    /// this `Arc` finds the channel's live pushes (which carry the same
    /// one) by pointer, without comparing names.
    pub channel: Arc<str>,
    /// The channel's current position, when its namespace keeps history
    /// (the subscription is then positioned and recoverable).
    pub position: Option<StreamPosition>,
    /// The recovery decision, when the subscriber asked to recover.
    pub recovery: Option<Recovery>,
    /// The join event to push to the channel's subscribers (see
    /// [`Node::subscribers`]), when the namespace enables join/leave.
    pub join: Option<Arc<ClientInfo>>,
}

/// What an unsubscribe did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubscribeOutcome {
    /// Whether the session was subscribed.
    pub was_subscribed: bool,
    /// The leave event to push to the remaining subscribers, when the
    /// namespace enables join/leave.
    pub leave: Option<Arc<ClientInfo>>,
}

/// A leave event produced by [`Node::disconnect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave {
    /// The channel left.
    pub channel: Arc<str>,
    /// Who left.
    pub info: Arc<ClientInfo>,
}

/// What a publish did. It borrows the node: fan out before the next call.
#[derive(Debug)]
pub struct PublishOutcome<'node> {
    /// The channel's name, shared (put it in every delivery without
    /// copying).
    pub channel: Arc<str>,
    /// The publication with its offset (0 without history).
    pub publication: Publication,
    /// The channel's position after the publish, when it keeps history.
    pub position: Option<StreamPosition>,
    /// The sessions to deliver the publication to.
    pub recipients: &'node [SessionId],
}

/// One channel's state.
#[derive(Debug)]
struct Channel {
    /// The channel's name, shared with the map key and every delivery.
    name: Arc<str>,
    namespace: NamespaceId,
    stream: Option<Stream>,
    subscribers: SubscriberSet,
    /// The subscribers that asked for join and leave pushes.
    join_leave: SubscriberSet,
    presence: Presence,
    /// The deadline this channel has in the node's expiry heap; other heap
    /// entries for it are stale.
    scheduled_at: Option<Instant>,
}

impl Channel {
    fn new(name: Arc<str>, namespace: NamespaceId) -> Self {
        Self {
            name,
            namespace,
            stream: None,
            subscribers: SubscriberSet::default(),
            join_leave: SubscriberSet::default(),
            presence: Presence::default(),
            scheduled_at: None,
        }
    }

    /// Whether the channel holds nothing worth keeping.
    fn is_idle(&self) -> bool {
        self.stream.is_none() && self.subscribers.is_empty() && self.presence.is_empty()
    }
}

/// The memory engine's state: channels, streams, subscribers, presence.
#[derive(Debug)]
pub struct Node {
    settings: Arc<Settings>,
    epochs: EpochSource,
    channels: HashMap<Arc<str>, Channel>,
    sessions: HashMap<SessionId, Vec<Arc<str>>>,
    expiries: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    counters: Counters,
}

const NO_RECIPIENTS: &[SessionId] = &[];

impl Node {
    /// A node with these settings; `epoch_seed` seeds the epochs of its
    /// streams (pass fresh randomness per process so that a restart changes
    /// them).
    pub fn new(settings: Arc<Settings>, epoch_seed: u64) -> Self {
        Self {
            settings,
            epochs: EpochSource::new(epoch_seed),
            channels: HashMap::new(),
            sessions: HashMap::new(),
            expiries: BinaryHeap::new(),
            counters: Counters::default(),
        }
    }

    /// The node's settings.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        self.settings.config()
    }

    /// The namespace table.
    pub fn namespaces(&self) -> &Namespaces {
        self.settings.namespaces()
    }

    /// The node's counters (publications, subscriptions, recovery outcomes).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Channels with any state (subscribers, presence or a stream).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Subscribes `session` to `channel`, registering its presence and, when
    /// `recover` is given, deciding the recovery in the same step, so that no
    /// publication can slip between the decision and the registration.
    pub fn subscribe(
        &mut self,
        now: Instant,
        session: SessionId,
        channel: &str,
        info: Arc<ClientInfo>,
        recover: Option<StreamPosition>,
    ) -> Result<SubscribeOutcome, HubError> {
        let namespace = self.settings.namespaces().resolve(channel)?;
        let options = self.settings.namespaces().options(namespace);
        let name = match self.channels.get_key_value(channel) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = channel.into();
                self.channels
                    .insert(name.clone(), Channel::new(name.clone(), namespace));
                name
            }
        };
        let state = self.channels.get_mut(channel).ok_or(HubError::Internal)?;
        if !state.subscribers.insert(session) {
            return Err(HubError::AlreadySubscribed);
        }
        self.sessions.entry(session).or_default().push(name.clone());
        if options.presence {
            state.presence.insert(session, info.clone());
        }
        let mut position = None;
        let mut recovery = None;
        if options.has_history() {
            let epochs = &mut self.epochs;
            let stream = state
                .stream
                .get_or_insert_with(|| Stream::new(epochs.next_epoch(), now));
            position = Some(stream.position());
            if let Some(requested) = recover {
                let decision = stream.recover(
                    now,
                    requested,
                    self.settings.config().recovery_max_publication_limit,
                );
                match decision {
                    Recovery::Recovered(_) => self.counters.recovered += 1,
                    Recovery::NotRecovered => self.counters.not_recovered += 1,
                }
                recovery = Some(decision);
            }
        }
        self.counters.subscriptions += 1;
        let join = options.join_leave.then_some(info);
        Ok(SubscribeOutcome {
            channel: name,
            position,
            recovery,
            join,
        })
    }

    /// Unsubscribes `session` from `channel`.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        session: SessionId,
        channel: &str,
    ) -> UnsubscribeOutcome {
        if let Some(channels) = self.sessions.get_mut(&session) {
            if let Some(index) = channels.iter().position(|name| &**name == channel) {
                channels.swap_remove(index);
            }
            if channels.is_empty() {
                self.sessions.remove(&session);
            }
        }
        self.remove_subscriber(now, session, channel)
    }

    /// Removes every subscription and presence entry of `session` (its
    /// connection is gone) and returns the leave events to push.
    pub fn disconnect(&mut self, now: Instant, session: SessionId) -> Vec<Leave> {
        let Some(channels) = self.sessions.remove(&session) else {
            return Vec::new();
        };
        let mut leaves = Vec::new();
        for channel in channels {
            if let Some(info) = self.remove_subscriber(now, session, &channel).leave {
                leaves.push(Leave { channel, info });
            }
        }
        leaves
    }

    fn remove_subscriber(
        &mut self,
        now: Instant,
        session: SessionId,
        channel: &str,
    ) -> UnsubscribeOutcome {
        let Some(state) = self.channels.get_mut(channel) else {
            return UnsubscribeOutcome::default();
        };
        if !state.subscribers.remove(session) {
            return UnsubscribeOutcome::default();
        }
        state.join_leave.remove(session);
        let info = state.presence.remove(session);
        let join_leave = self
            .settings
            .namespaces()
            .options(state.namespace)
            .join_leave;
        let leave = if join_leave { info } else { None };
        if state.is_idle() {
            self.channels.remove(channel);
        } else if state.subscribers.is_empty() {
            // The stream's metadata may expire from now on.
            self.schedule(now, channel);
        }
        UnsubscribeOutcome {
            was_subscribed: true,
            leave,
        }
    }

    /// Whether `session` is subscribed to `channel`.
    pub fn is_subscribed(&self, session: SessionId, channel: &str) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|state| state.subscribers.contains(session))
    }

    /// The sessions subscribed to `channel`.
    pub fn subscribers(&self, channel: &str) -> &[SessionId] {
        self.channels
            .get(channel)
            .map_or(NO_RECIPIENTS, |state| state.subscribers.as_slice())
    }

    /// Records that `session`, subscribed to `channel`, asked for join and
    /// leave pushes (the subscribe request's `join_leave`). Call it right
    /// after a successful [`Node::subscribe`]; false when the session is not
    /// subscribed or the namespace does not track joins and leaves.
    pub fn push_join_leave_to(&mut self, session: SessionId, channel: &str) -> bool {
        let Some(state) = self.channels.get_mut(channel) else {
            return false;
        };
        let options = self.settings.namespaces().options(state.namespace);
        if !options.join_leave || !state.subscribers.contains(session) {
            return false;
        }
        state.join_leave.insert(session);
        true
    }

    /// The sessions that get `channel`'s join and leave pushes: those that
    /// asked for them, or every subscriber with `force_push_join_leave`.
    pub fn join_leave_recipients(&self, channel: &str) -> &[SessionId] {
        let Some(state) = self.channels.get(channel) else {
            return NO_RECIPIENTS;
        };
        if self
            .settings
            .namespaces()
            .options(state.namespace)
            .force_push_join_leave
        {
            state.subscribers.as_slice()
        } else {
            state.join_leave.as_slice()
        }
    }

    /// Publishes `data` to `channel`: assigns the next offset together with
    /// the history append and returns the publication and its recipients.
    /// Permissions are the caller's business (the session checks them for
    /// client publishes; server-side publishes skip them).
    pub fn publish(
        &mut self,
        now: Instant,
        channel: &str,
        data: Bytes,
        info: Option<Arc<ClientInfo>>,
    ) -> Result<PublishOutcome<'_>, HubError> {
        let namespace = self.settings.namespaces().resolve(channel)?;
        let options = self.settings.namespaces().options(namespace);
        self.counters.publications += 1;
        let has_history = options.has_history();
        let (history_size, history_ttl) = (options.history_size, options.history_ttl);
        if !self.channels.contains_key(channel) {
            if !has_history {
                // Nobody subscribed and nothing to keep.
                return Ok(PublishOutcome {
                    channel: channel.into(),
                    publication: Publication {
                        offset: 0,
                        data,
                        info,
                    },
                    position: None,
                    recipients: NO_RECIPIENTS,
                });
            }
            let name: Arc<str> = channel.into();
            self.channels
                .insert(name.clone(), Channel::new(name, namespace));
        }
        let state = self.channels.get_mut(channel).ok_or(HubError::Internal)?;
        let (publication, position) = if has_history {
            let epochs = &mut self.epochs;
            let stream = state
                .stream
                .get_or_insert_with(|| Stream::new(epochs.next_epoch(), now));
            let publication = stream.append(now, data, info, history_size, history_ttl);
            let position = stream.position();
            // Cheap when a deadline no later than this one is scheduled.
            let meta_ttl = self.settings.config().history_meta_ttl;
            schedule_channel(&mut self.expiries, meta_ttl, now, state);
            (publication, Some(position))
        } else {
            let publication = Publication {
                offset: 0,
                data,
                info,
            };
            (publication, None)
        };
        Ok(PublishOutcome {
            channel: state.name.clone(),
            publication,
            position,
            recipients: state.subscribers.as_slice(),
        })
    }

    /// Reads `channel`'s history. Refused with 108 "not available" when its
    /// namespace keeps no history.
    pub fn history(
        &mut self,
        now: Instant,
        channel: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryRead, HubError> {
        let namespace = self.settings.namespaces().resolve(channel)?;
        if !self.settings.namespaces().options(namespace).has_history() {
            return Err(HubError::NotAvailable);
        }
        let max_limit = self.settings.config().history_max_publication_limit;
        let fresh = self
            .channels
            .get(channel)
            .is_none_or(|state| state.stream.is_none());
        if fresh {
            // A stream read before its first publication gets its epoch now,
            // so that the position the reader sees stays valid.
            let state = self
                .channels
                .entry(channel.into())
                .or_insert_with_key(|name| Channel::new(name.clone(), namespace));
            state.stream = Some(Stream::new(self.epochs.next_epoch(), now));
            self.schedule(now, channel);
        }
        let stream = self
            .channels
            .get(channel)
            .and_then(|state| state.stream.as_ref())
            .ok_or(HubError::Internal)?;
        stream.read(now, query, max_limit)
    }

    /// Removes `channel`'s kept publications; its position stays, so
    /// offsets continue and subscribers' positions stay valid. Refused with
    /// 108 "not available" when its namespace keeps no history.
    pub fn history_remove(&mut self, channel: &str) -> Result<(), HubError> {
        let namespace = self.settings.namespaces().resolve(channel)?;
        if !self.settings.namespaces().options(namespace).has_history() {
            return Err(HubError::NotAvailable);
        }
        if let Some(stream) = self
            .channels
            .get_mut(channel)
            .and_then(|state| state.stream.as_mut())
        {
            stream.clear();
        }
        Ok(())
    }

    /// Channels with at least one subscriber, with their subscriber
    /// counts (what Centrifugo's `channels` API lists).
    pub fn active_channels(&self) -> impl Iterator<Item = (&str, usize)> {
        self.channels
            .values()
            .filter(|state| !state.subscribers.is_empty())
            .map(|state| (&*state.name, state.subscribers.len()))
    }

    /// Subscriptions held by all sessions together.
    pub fn subscription_total(&self) -> usize {
        self.sessions.values().map(Vec::len).sum()
    }

    /// The channels `session` is subscribed to.
    pub fn session_channels(&self, session: SessionId) -> &[Arc<str>] {
        self.sessions.get(&session).map_or(&[], Vec::as_slice)
    }

    /// The channel's current position, if it has a stream.
    pub fn position(&self, channel: &str) -> Option<StreamPosition> {
        self.channels
            .get(channel)?
            .stream
            .as_ref()
            .map(Stream::position)
    }

    /// Who is subscribed to `channel`. Refused with 108 "not available"
    /// when its namespace keeps no presence.
    pub fn presence(&self, channel: &str) -> Result<Vec<Arc<ClientInfo>>, HubError> {
        self.presence_options(channel)?;
        Ok(self
            .channels
            .get(channel)
            .map(|state| state.presence.clients().cloned().collect())
            .unwrap_or_default())
    }

    /// Counts of `channel`'s presence. Refused like [`Node::presence`].
    pub fn presence_stats(&self, channel: &str) -> Result<PresenceStats, HubError> {
        self.presence_options(channel)?;
        Ok(self
            .channels
            .get(channel)
            .map(|state| state.presence.stats())
            .unwrap_or_default())
    }

    fn presence_options(&self, channel: &str) -> Result<&ChannelOptions, HubError> {
        let options = self.settings.namespaces().channel_options(channel)?;
        if options.presence {
            Ok(options)
        } else {
            Err(HubError::NotAvailable)
        }
    }

    /// When [`Node::handle_timeout`] has work to do (history expiry).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.peek().map(|Reverse((at, _))| *at)
    }

    /// Expires history publications and idle streams due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, channel))) = self.expiries.pop() else {
                break;
            };
            let Some(state) = self.channels.get_mut(&channel) else {
                continue;
            };
            if state.scheduled_at != Some(at) {
                continue;
            }
            state.scheduled_at = None;
            let meta_ttl = self.settings.config().history_meta_ttl;
            if let Some(stream) = &mut state.stream {
                stream.expire(now);
                let meta_expired = now >= stream.last_publish() + meta_ttl;
                if meta_expired && state.subscribers.is_empty() {
                    // History is lost: a later stream gets a new epoch.
                    state.stream = None;
                }
            }
            if state.is_idle() {
                self.channels.remove(&channel);
            } else {
                self.schedule(now, &channel);
            }
        }
    }

    /// Puts `channel`'s next expiry into the heap unless an earlier one is
    /// already there.
    fn schedule(&mut self, now: Instant, channel: &str) {
        let meta_ttl = self.settings.config().history_meta_ttl;
        if let Some(state) = self.channels.get_mut(channel) {
            schedule_channel(&mut self.expiries, meta_ttl, now, state);
        }
    }
}

/// Puts a channel's next expiry (its oldest publication's TTL, or its
/// stream's metadata TTL once nobody is subscribed) into `expiries`,
/// unless an earlier deadline of the channel is already there.
fn schedule_channel(
    expiries: &mut BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    meta_ttl: Duration,
    now: Instant,
    state: &mut Channel,
) {
    let Some(stream) = &state.stream else {
        return;
    };
    let meta_deadline = state
        .subscribers
        .is_empty()
        .then(|| stream.last_publish() + meta_ttl);
    let deadline = match (stream.next_expiry(), meta_deadline) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => match a.or(b) {
            Some(deadline) => deadline,
            None => return,
        },
    };
    let deadline = deadline.max(now);
    if state
        .scheduled_at
        .is_some_and(|scheduled| scheduled <= deadline)
    {
        return;
    }
    state.scheduled_at = Some(deadline);
    expiries.push(Reverse((deadline, state.name.clone())));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::NamespaceConfig;

    fn node() -> Node {
        let config = NodeConfig {
            namespaces: vec![NamespaceConfig {
                name: "plain".into(),
                options: ChannelOptions::restrictive(),
            }],
            ..NodeConfig::default()
        };
        Node::new(Settings::new(config).unwrap(), 42)
    }

    fn info(client: &str) -> Arc<ClientInfo> {
        Arc::new(ClientInfo {
            client: client.into(),
            ..ClientInfo::default()
        })
    }

    #[test]
    fn subscribers_and_publications_share_the_channel_name() {
        let now = Instant::now();
        let mut node = node();
        let first = node
            .subscribe(now, SessionId(1), "room", info("a"), None)
            .unwrap();
        let second = node
            .subscribe(now, SessionId(2), "room", info("b"), None)
            .unwrap();
        assert_eq!(&*first.channel, "room");
        assert!(Arc::ptr_eq(&first.channel, &second.channel));
        let published = node
            .publish(now, "room", Bytes::from_static(b"{}"), None)
            .unwrap();
        assert!(Arc::ptr_eq(&published.channel, &first.channel));
    }

    #[test]
    fn publish_assigns_offsets_and_lists_subscribers() {
        let now = Instant::now();
        let mut node = node();
        let outcome = node
            .subscribe(now, SessionId(1), "room", info("a"), None)
            .unwrap();
        assert_eq!(outcome.position.unwrap().offset, 0);
        assert!(outcome.join.is_some());
        node.subscribe(now, SessionId(2), "room", info("b"), None)
            .unwrap();
        assert_eq!(
            node.subscribe(now, SessionId(2), "room", info("b"), None),
            Err(HubError::AlreadySubscribed)
        );
        for expected in 1..=3 {
            let published = node
                .publish(now, "room", Bytes::from_static(b"{}"), None)
                .unwrap();
            assert_eq!(published.publication.offset, expected);
            let mut recipients = published.recipients.to_vec();
            recipients.sort();
            assert_eq!(recipients, vec![SessionId(1), SessionId(2)]);
        }
        let leaves = node.disconnect(now, SessionId(1));
        assert_eq!(leaves.len(), 1);
        assert_eq!(node.subscribers("room"), &[SessionId(2)]);
        assert_eq!(node.presence_stats("room").unwrap().num_clients, 1);
    }

    #[test]
    fn history_remove_keeps_the_position_and_channels_lists_subscribed_ones() {
        let now = Instant::now();
        let mut node = node();
        node.subscribe(now, SessionId(1), "room", info("a"), None)
            .unwrap();
        node.subscribe(now, SessionId(2), "room", info("b"), None)
            .unwrap();
        node.subscribe(now, SessionId(2), "plain:x", info("b"), None)
            .unwrap();
        node.publish(now, "idle", Bytes::new(), None).unwrap();
        for _ in 0..3 {
            node.publish(now, "room", Bytes::new(), None).unwrap();
        }
        node.history_remove("room").unwrap();
        let read = node.history(now, "room", &HistoryQuery::default()).unwrap();
        assert!(read.publications.is_empty());
        assert_eq!(read.position.offset, 3);
        let next = node.publish(now, "room", Bytes::new(), None).unwrap();
        assert_eq!(next.publication.offset, 4);
        assert_eq!(node.history_remove("plain:x"), Err(HubError::NotAvailable));
        let mut channels: Vec<_> = node.active_channels().collect();
        channels.sort();
        assert_eq!(channels, vec![("plain:x", 1), ("room", 2)]);
        assert_eq!(node.subscription_total(), 3);
        assert_eq!(node.session_channels(SessionId(2)).len(), 2);
    }

    #[test]
    fn namespace_without_history_or_presence() {
        let now = Instant::now();
        let mut node = node();
        let outcome = node
            .subscribe(now, SessionId(1), "plain:x", info("a"), None)
            .unwrap();
        assert_eq!(outcome.position, None);
        assert_eq!(outcome.join, None);
        let published = node.publish(now, "plain:x", Bytes::new(), None).unwrap();
        assert_eq!(published.publication.offset, 0);
        assert_eq!(published.recipients, &[SessionId(1)]);
        assert_eq!(
            node.history(now, "plain:x", &HistoryQuery::default()),
            Err(HubError::NotAvailable)
        );
        assert_eq!(node.presence("plain:x"), Err(HubError::NotAvailable));
        assert_eq!(
            node.subscribe(now, SessionId(1), "other:x", info("a"), None),
            Err(HubError::UnknownChannel)
        );
        assert!(
            node.unsubscribe(now, SessionId(1), "plain:x")
                .was_subscribed
        );
        assert_eq!(node.channel_count(), 0);
    }

    #[test]
    fn publications_of_an_idle_channel_expire_at_their_ttl() {
        let start = Instant::now();
        let mut node = node();
        node.publish(start, "room", Bytes::new(), None).unwrap();
        let ttl = node.config().channel.history_ttl;
        node.handle_timeout(start + ttl);
        // Nobody subscribed: the next deadline is the metadata TTL.
        let later = start + ttl + Duration::from_secs(1);
        node.publish(later, "room", Bytes::new(), None).unwrap();
        assert_eq!(node.poll_timeout(), Some(later + ttl));
        node.handle_timeout(later + ttl);
        let read = node
            .history(later + ttl, "room", &HistoryQuery::default())
            .unwrap();
        assert!(read.publications.is_empty());
        assert_eq!(read.position.offset, 2);
    }

    #[test]
    fn stream_expires_after_meta_ttl_and_gets_a_new_epoch() {
        let start = Instant::now();
        let mut node = node();
        let first = node
            .publish(start, "room", Bytes::new(), None)
            .unwrap()
            .position
            .unwrap();
        let ttl = node.config().channel.history_ttl;
        assert_eq!(node.poll_timeout(), Some(start + ttl));
        node.handle_timeout(start + ttl);
        assert_eq!(node.position("room"), Some(first));
        let meta_deadline = start + node.config().history_meta_ttl;
        assert_eq!(node.poll_timeout(), Some(meta_deadline));
        node.handle_timeout(meta_deadline - Duration::from_secs(1));
        assert_eq!(node.position("room"), Some(first));
        node.handle_timeout(meta_deadline);
        assert_eq!(node.position("room"), None);
        assert_eq!(node.channel_count(), 0);
        let second = node
            .publish(meta_deadline, "room", Bytes::new(), None)
            .unwrap()
            .position
            .unwrap();
        assert_eq!(second.offset, 1);
        assert_ne!(second.epoch, first.epoch);
    }
}
