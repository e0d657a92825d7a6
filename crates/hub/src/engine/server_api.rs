//! What the server HTTP API asks of the engine: publishes with
//! idempotency keys, reads, counts, and commands aimed at a user's
//! connections (subscribe, unsubscribe, disconnect), which reach the
//! session tasks as [`Control`] items in their mailboxes, in order with
//! the live pushes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use switchboard_hub_core::counters::Counters;
use switchboard_hub_core::history::{HistoryQuery, HistoryRead};
use switchboard_hub_core::presence::{ClientInfo, PresenceStats};
use switchboard_hub_core::{HubError, SessionId};

use super::{presence_event, publish, MemoryEngine, MemoryState, Presence};
use crate::mailbox::{Control, Mailbox};

/// A server-side publish's result: the publication's position (offset 0
/// and an empty epoch in channels without history).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PublishResult {
    /// The publication's offset.
    pub(crate) offset: u64,
    /// The channel stream's epoch.
    pub(crate) epoch: String,
}

/// Counts for `info` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct EngineStats {
    /// Connected Centrifugo sessions.
    pub(crate) num_clients: usize,
    /// Distinct users among them (anonymous ones count as one).
    pub(crate) num_users: usize,
    /// Channels with at least one subscriber.
    pub(crate) num_channels: usize,
    /// Subscriptions of all sessions together.
    pub(crate) num_subs: usize,
    /// Bytes waiting in outbound queues.
    pub(crate) queued_bytes: usize,
}

impl EngineStats {
    /// Counts `clients` and `mailboxes` (either engine's local tables)
    /// beside the channel and subscription counts the engine keeps.
    pub(crate) fn of(
        clients: &HashMap<SessionId, Arc<ClientInfo>>,
        mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
        num_channels: usize,
        num_subs: usize,
    ) -> Self {
        let mut users: Vec<&str> = clients.values().map(|info| &*info.user).collect();
        users.sort_unstable();
        users.dedup();
        EngineStats {
            num_clients: clients.len(),
            num_users: users.len(),
            num_channels,
            num_subs,
            queued_bytes: mailboxes
                .values()
                .map(|mailbox| mailbox.queued_bytes())
                .sum(),
        }
    }
}

/// Which of a user's connections a command targets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The user id (empty: anonymous connections).
    pub(crate) user: &'a str,
    /// Only this client id, when given.
    pub(crate) client: Option<&'a str>,
}

impl Target<'_> {
    pub(super) fn matches(&self, info: &ClientInfo) -> bool {
        info.user == self.user && self.client.is_none_or(|client| info.client == client)
    }
}

impl MemoryState {
    fn targets(&self, target: Target<'_>) -> Vec<(SessionId, Arc<ClientInfo>)> {
        self.clients
            .iter()
            .filter(|(_, info)| target.matches(info))
            .map(|(id, info)| (*id, info.clone()))
            .collect()
    }
}

/// The memory engine's side of [`Engine`](super::Engine)'s server API
/// methods (see `engine/api.rs`).
impl MemoryEngine {
    /// A session finished `connect`: the server API can now find it by
    /// user and client id.
    pub(crate) fn connected(&self, id: SessionId, info: Arc<ClientInfo>) {
        self.lock().clients.insert(id, info);
    }

    /// Publishes from the server API. With an idempotency key, a key seen
    /// in this channel within its TTL returns the first result and
    /// publishes nothing.
    pub(crate) fn api_publish(
        &self,
        now: Instant,
        channel: &str,
        data: Bytes,
        idempotency_key: Option<&str>,
    ) -> Result<PublishResult, HubError> {
        let mut state = self.lock();
        let MemoryState {
            node,
            mailboxes,
            idempotency,
            ..
        } = &mut *state;
        if let Some(key) = idempotency_key {
            if let Some(first) = idempotency.get(now, channel, key) {
                return Ok(first);
            }
        }
        let position = publish(node, mailboxes, now, channel, data, None)?;
        let result = position.map_or_else(PublishResult::default, |position| PublishResult {
            offset: position.offset,
            epoch: position.epoch.as_str().to_owned(),
        });
        if let Some(key) = idempotency_key {
            idempotency.insert(now, channel, key, result.clone());
        }
        Ok(result)
    }

    /// Reads a channel's history.
    pub(crate) fn api_history(
        &self,
        now: Instant,
        channel: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryRead, HubError> {
        self.lock().node.history(now, channel, query)
    }

    /// Removes a channel's history, keeping its position.
    pub(crate) fn api_history_remove(&self, channel: &str) -> Result<(), HubError> {
        self.lock().node.history_remove(channel)
    }

    /// Who is subscribed to a channel.
    pub(crate) fn api_presence(&self, channel: &str) -> Result<Vec<Arc<ClientInfo>>, HubError> {
        self.lock().node.presence(channel)
    }

    /// Counts of a channel's presence.
    pub(crate) fn api_presence_stats(&self, channel: &str) -> Result<PresenceStats, HubError> {
        self.lock().node.presence_stats(channel)
    }

    /// Channels with subscribers and their subscriber counts.
    pub(crate) fn api_channels(&self) -> Vec<(String, usize)> {
        let state = self.lock();
        state
            .node
            .active_channels()
            .map(|(name, count)| (name.to_owned(), count))
            .collect()
    }

    /// Counts of clients, users, channels, subscriptions and queued bytes.
    pub(crate) fn stats(&self) -> EngineStats {
        let state = self.lock();
        EngineStats::of(
            &state.clients,
            &state.mailboxes,
            state.node.active_channels().count(),
            state.node.subscription_total(),
        )
    }

    /// The node's counters (subscriptions, publications, recoveries).
    pub(crate) fn node_counters(&self) -> Counters {
        self.lock().node.counters().clone()
    }

    /// Whether the engine answers (its lock is not held forever).
    pub(crate) fn is_healthy(&self) -> bool {
        // A poisoned lock is recovered by `lock`; a held one would block
        // here, which is what a readiness probe's timeout is for.
        let _state = self.lock();
        true
    }

    /// Subscribes the target's connections to `channel` (the server API's
    /// `subscribe`): each gets the `subscribe` push and the channel's
    /// publications from then on. Connections already subscribed are left
    /// as they are.
    pub(crate) fn api_subscribe(
        &self,
        now: Instant,
        target: Target<'_>,
        channel: &str,
        chan_info: Option<Bytes>,
        data: Bytes,
    ) -> Result<(), HubError> {
        let mut state = self.lock();
        let targets = state.targets(target);
        let MemoryState {
            node, mailboxes, ..
        } = &mut *state;
        for (id, info) in targets {
            let info = match &chan_info {
                Some(chan_info) => Arc::new(ClientInfo {
                    chan_info: Some(chan_info.clone()),
                    ..(*info).clone()
                }),
                None => info,
            };
            let outcome = match node.subscribe(now, id, channel, info, None) {
                Ok(outcome) => outcome,
                Err(HubError::AlreadySubscribed) => continue,
                Err(error) => return Err(error),
            };
            if let Some(mailbox) = mailboxes.get(&id) {
                mailbox.push_control(Control::Subscribe {
                    channel: channel.into(),
                    position: outcome.position,
                    data: data.clone(),
                });
            }
            if let Some(info) = outcome.join {
                presence_event(node, mailboxes, channel, &info, Presence::Join);
            }
        }
        Ok(())
    }

    /// Unsubscribes the target's connections from `channel` (the server
    /// API's `unsubscribe`): each subscribed one gets the `unsubscribe`
    /// push (2000) and the rest of the channel the leave events.
    pub(crate) fn api_unsubscribe(&self, now: Instant, target: Target<'_>, channel: &str) {
        let mut state = self.lock();
        let targets = state.targets(target);
        let MemoryState {
            node, mailboxes, ..
        } = &mut *state;
        for (id, _) in targets {
            let outcome = node.unsubscribe(now, id, channel);
            if !outcome.was_subscribed {
                continue;
            }
            if let Some(mailbox) = mailboxes.get(&id) {
                mailbox.push_control(Control::Unsubscribe(channel.into()));
            }
            if let Some(info) = outcome.leave {
                presence_event(node, mailboxes, channel, &info, Presence::Leave);
            }
        }
    }

    /// Closes the target's connections (except the client ids in
    /// `whitelist`) with `code` and `reason`.
    pub(crate) fn api_disconnect(
        &self,
        target: Target<'_>,
        whitelist: &[String],
        code: u16,
        reason: &str,
    ) {
        let state = self.lock();
        for (id, info) in state.targets(target) {
            if whitelist.contains(&info.client) {
                continue;
            }
            if let Some(mailbox) = state.mailboxes.get(&id) {
                mailbox.push_control(Control::Disconnect {
                    code,
                    reason: reason.to_owned(),
                });
            }
        }
    }
}
