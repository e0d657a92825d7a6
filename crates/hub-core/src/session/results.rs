//! Outcomes of actions coming back from the runtime, answered as replies.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::push::{wire_client_info, wire_publication};
use super::subscriptions::State;
use super::Session;
use crate::counters::Method;
use crate::error::HubError;
use crate::history::{HistoryRead, Recovery};
use crate::node::SubscribeOutcome;
use crate::presence::{ClientInfo, PresenceStats};
use crate::wire::{
    HistoryResult, PresenceResult, PresenceStatsResult, PublishResult, Reply, SubscribeResult,
};

impl Session {
    /// The outcome of [`Action::Subscribe`](super::Action::Subscribe) for
    /// command `id` on `channel`. Sends the subscribe reply (position,
    /// recovery outcome and recovered publications), then releases the live
    /// pushes that arrived meanwhile, dropping offsets the reply covered.
    pub fn subscribed(
        &mut self,
        id: u32,
        channel: &str,
        result: Result<SubscribeOutcome, HubError>,
    ) {
        if self.is_closed() {
            return;
        }
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                if self.subscriptions.get_mut(channel).is_some_and(
                    |entry| matches!(&entry.state, State::Subscribing(p) if p.id == id),
                ) {
                    self.subscriptions.remove(channel);
                }
                if id == 0 {
                    // A server-side subscription: nobody asked, so there is
                    // no error reply; the connect reply just omits it.
                    self.counters.command(Method::Subscribe, false);
                    return self.server_side_subscribed(channel, None, Vec::new());
                }
                return self.reply_error(id, Method::Subscribe, error);
            }
        };
        let force_recovery = self
            .settings
            .channel_options(channel)
            .is_ok_and(|options| options.force_recovery);
        let subscription = self.subscriptions.get_mut(channel);
        let pending = match subscription {
            Some(entry) if matches!(&entry.state, State::Subscribing(p) if p.id == id) => {
                if outcome.channel == entry.channel {
                    // The node's `Arc`: live pushes then match by pointer.
                    entry.channel = outcome.channel.clone();
                }
                let State::Subscribing(pending) = std::mem::replace(
                    &mut entry.state,
                    State::Subscribed {
                        positioned: outcome.position.is_some(),
                        offset: outcome.position.map_or(0, |position| position.offset),
                    },
                ) else {
                    return;
                };
                Some(pending)
            }
            // The client unsubscribed (or the session ended the
            // subscription) while the action ran: answer, change nothing.
            _ => None,
        };
        let (recoverable, recovering) = pending.as_ref().map_or((false, false), |pending| {
            (pending.recoverable || force_recovery, pending.recovering)
        });
        let mut result = SubscribeResult::default();
        if let Some(pending) = &pending {
            if let Some((ttl, _)) = pending.expiry {
                result.expires = true;
                result.ttl = ttl;
            }
            let deadline = pending.expiry.map(|(_, deadline)| deadline);
            self.set_sub_deadline(channel, deadline);
        }
        if let Some(position) = outcome.position {
            result.positioned = true;
            result.recoverable = recoverable;
            result.epoch = position.epoch.as_str().to_owned();
            result.offset = position.offset;
        }
        if let Some(recovery) = outcome.recovery {
            result.was_recovering = recovering;
            match recovery {
                Recovery::Recovered(publications) => {
                    result.recovered = true;
                    result.publications = publications.iter().map(wire_publication).collect();
                }
                Recovery::NotRecovered => result.recovered = false,
            }
        }
        self.counters.command(Method::Subscribe, true);
        if id == 0 && self.connect_pending() {
            let buffer = pending.map(|pending| pending.buffer).unwrap_or_default();
            return self.server_side_subscribed(channel, Some(result), buffer);
        }
        self.send_reply(&Reply {
            id,
            subscribe: Some(result),
            ..Reply::default()
        });
        if let Some(pending) = pending {
            self.release_buffer(pending.buffer);
        }
    }

    /// The outcome of [`Action::Publish`](super::Action::Publish).
    pub fn published(&mut self, id: u32, result: Result<(), HubError>) {
        if self.is_closed() {
            return;
        }
        match result {
            Ok(()) => {
                self.counters.command(Method::Publish, true);
                self.send_reply(&Reply {
                    id,
                    publish: Some(PublishResult {}),
                    ..Reply::default()
                });
            }
            Err(error) => self.reply_error(id, Method::Publish, error),
        }
    }

    /// The outcome of [`Action::History`](super::Action::History).
    pub fn history_loaded(&mut self, id: u32, result: Result<HistoryRead, HubError>) {
        if self.is_closed() {
            return;
        }
        match result {
            Ok(read) => {
                self.counters.command(Method::History, true);
                self.send_reply(&Reply {
                    id,
                    history: Some(HistoryResult {
                        publications: read.publications.iter().map(wire_publication).collect(),
                        epoch: read.position.epoch.as_str().to_owned(),
                        offset: read.position.offset,
                    }),
                    ..Reply::default()
                });
            }
            Err(error) => self.reply_error(id, Method::History, error),
        }
    }

    /// The outcome of [`Action::Presence`](super::Action::Presence).
    pub fn presence_loaded(&mut self, id: u32, result: Result<Vec<Arc<ClientInfo>>, HubError>) {
        if self.is_closed() {
            return;
        }
        match result {
            Ok(clients) => {
                self.counters.command(Method::Presence, true);
                let presence: BTreeMap<String, _> = clients
                    .iter()
                    .map(|info| (info.client.clone(), wire_client_info(info)))
                    .collect();
                self.send_reply(&Reply {
                    id,
                    presence: Some(PresenceResult { presence }),
                    ..Reply::default()
                });
            }
            Err(error) => self.reply_error(id, Method::Presence, error),
        }
    }

    /// The outcome of [`Action::PresenceStats`](super::Action::PresenceStats).
    pub fn presence_stats_loaded(&mut self, id: u32, result: Result<PresenceStats, HubError>) {
        if self.is_closed() {
            return;
        }
        match result {
            Ok(stats) => {
                self.counters.command(Method::PresenceStats, true);
                self.send_reply(&Reply {
                    id,
                    presence_stats: Some(PresenceStatsResult {
                        num_clients: stats.num_clients,
                        num_users: stats.num_users,
                    }),
                    ..Reply::default()
                });
            }
            Err(error) => self.reply_error(id, Method::PresenceStats, error),
        }
    }
}
