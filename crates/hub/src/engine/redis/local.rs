//! [`LocalChannels`]: which of this node's sessions are subscribed to
//! which channels (the fan-out table of the Redis engine), and who they
//! are (for presence refreshes and leave events).

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::subscribers::{SessionId, SubscriberSet};
use switchboard_hub_core::{ChannelOptions, HubError};

/// What a channel's namespace asks of the node, read once per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Features {
    /// Publications are numbered (subscriptions are positioned).
    pub(super) history: bool,
    /// Members are kept in Redis presence.
    pub(super) presence: bool,
    /// Joins and leaves are announced.
    pub(super) join_leave: bool,
    /// Every subscriber gets the join and leave pushes.
    pub(super) force_push_join_leave: bool,
}

impl Features {
    pub(super) fn of(options: &ChannelOptions) -> Self {
        Features {
            history: options.has_history(),
            presence: options.presence,
            join_leave: options.join_leave,
            force_push_join_leave: options.force_push_join_leave,
        }
    }
}

/// A subscription that ended: who it was, and what to tell Redis.
#[derive(Debug, Clone)]
pub(super) struct Ended {
    pub(super) channel: Arc<str>,
    pub(super) info: Arc<ClientInfo>,
    pub(super) features: Features,
}

#[derive(Debug)]
struct LocalChannel {
    features: Features,
    subscribers: SubscriberSet,
    /// The subscribers that asked for join and leave pushes.
    join_leave: SubscriberSet,
    /// Each subscriber's info (presence refreshes, leave events).
    infos: HashMap<SessionId, Arc<ClientInfo>>,
}

/// The node's local subscriptions.
#[derive(Debug, Default)]
pub(super) struct LocalChannels {
    channels: HashMap<Arc<str>, LocalChannel>,
    sessions: HashMap<SessionId, Vec<Arc<str>>>,
}

impl LocalChannels {
    /// Adds `session` as a subscriber of `channel`; refused with
    /// [`HubError::AlreadySubscribed`] when it is one. Returns the name as
    /// the table holds it, the `Arc` its live pushes carry.
    pub(super) fn add(
        &mut self,
        session: SessionId,
        channel: &str,
        info: Arc<ClientInfo>,
        features: Features,
        join_leave: bool,
    ) -> Result<Arc<str>, HubError> {
        let name = match self.channels.get_key_value(channel) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = channel.into();
                self.channels.insert(
                    name.clone(),
                    LocalChannel {
                        features,
                        subscribers: SubscriberSet::default(),
                        join_leave: SubscriberSet::default(),
                        infos: HashMap::new(),
                    },
                );
                name
            }
        };
        let state = self.channels.get_mut(channel).ok_or(HubError::Internal)?;
        if !state.subscribers.insert(session) {
            return Err(HubError::AlreadySubscribed);
        }
        if join_leave && state.features.join_leave {
            state.join_leave.insert(session);
        }
        state.infos.insert(session, info);
        self.sessions.entry(session).or_default().push(name.clone());
        Ok(name)
    }

    /// Removes `session`'s subscription to `channel`, if it had one.
    pub(super) fn remove(&mut self, session: SessionId, channel: &str) -> Option<Ended> {
        if let Some(channels) = self.sessions.get_mut(&session) {
            if let Some(index) = channels.iter().position(|name| &**name == channel) {
                channels.swap_remove(index);
            }
            if channels.is_empty() {
                self.sessions.remove(&session);
            }
        }
        self.remove_subscriber(session, channel)
    }

    /// Removes every subscription of `session` (its connection is gone).
    pub(super) fn remove_session(&mut self, session: SessionId) -> Vec<Ended> {
        let Some(channels) = self.sessions.remove(&session) else {
            return Vec::new();
        };
        channels
            .iter()
            .filter_map(|channel| self.remove_subscriber(session, channel))
            .collect()
    }

    fn remove_subscriber(&mut self, session: SessionId, channel: &str) -> Option<Ended> {
        let name = self.channels.get_key_value(channel)?.0.clone();
        let state = self.channels.get_mut(channel)?;
        if !state.subscribers.remove(session) {
            return None;
        }
        state.join_leave.remove(session);
        let info = state.infos.remove(&session)?;
        let features = state.features;
        if state.subscribers.is_empty() {
            self.channels.remove(channel);
        }
        Some(Ended {
            channel: name,
            info,
            features,
        })
    }

    /// Whether `session` is subscribed to `channel`.
    pub(super) fn is_subscribed(&self, session: SessionId, channel: &str) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|state| state.subscribers.contains(session))
    }

    /// The local subscribers of `channel`, with the channel's name as the
    /// table holds it (sessions match pushes that carry it by pointer).
    pub(super) fn subscribers_named(&self, channel: &str) -> Option<(&Arc<str>, &[SessionId])> {
        self.channels
            .get_key_value(channel)
            .map(|(name, state)| (name, state.subscribers.as_slice()))
    }

    /// The local subscribers of `channel`.
    pub(super) fn subscribers(&self, channel: &str) -> &[SessionId] {
        self.channels
            .get(channel)
            .map_or(&[], |state| state.subscribers.as_slice())
    }

    /// The local subscribers that get `channel`'s join and leave pushes.
    pub(super) fn join_leave_recipients(&self, channel: &str) -> &[SessionId] {
        match self.channels.get(channel) {
            Some(state) if state.features.force_push_join_leave => state.subscribers.as_slice(),
            Some(state) => state.join_leave.as_slice(),
            None => &[],
        }
    }

    /// The namespace features of a channel with local subscribers.
    pub(super) fn features(&self, channel: &str) -> Option<Features> {
        self.channels.get(channel).map(|state| state.features)
    }

    /// Every local member of a channel with presence, to refresh.
    pub(super) fn presence_members(&self) -> Vec<(Arc<str>, Arc<ClientInfo>)> {
        self.channels
            .iter()
            .filter(|(_, state)| state.features.presence)
            .flat_map(|(name, state)| {
                state
                    .infos
                    .values()
                    .map(move |info| (name.clone(), info.clone()))
            })
            .collect()
    }

    /// Channels with local subscribers and their counts.
    pub(super) fn active(&self) -> impl Iterator<Item = (&str, usize)> {
        self.channels
            .iter()
            .map(|(name, state)| (&**name, state.subscribers.len()))
    }

    /// Subscriptions of every local session together.
    pub(super) fn subscription_total(&self) -> usize {
        self.sessions.values().map(Vec::len).sum()
    }
}
