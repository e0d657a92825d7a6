//! A Centrifugo session's actions against Redis, awaited in the session's
//! loop and reported to the session as the memory engine reports them.

use std::sync::Arc;

use bytes::Bytes;
use switchboard_hub_core::history::HistoryQuery;
use switchboard_hub_core::node::SubscribeOutcome;
use switchboard_hub_core::position::StreamPosition;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::session::Action;
use switchboard_hub_core::{HubError, Session, SessionId};
use switchboard_hub_redis::RedisEngineError;

use super::local::Features;
use super::{history_options, Inner, RedisEngine};
use crate::engine::EngineError;

impl RedisEngine {
    /// Runs one of `session`'s actions in Redis and reports the outcome
    /// to it. The session loop awaits it (boxed, so that the idle
    /// session's future does not grow by this one's size).
    pub(crate) async fn execute(&self, id: SessionId, session: &mut Session, action: Action) {
        let inner = &self.inner;
        match action {
            Action::Subscribe {
                id: command,
                channel,
                recover,
                info,
                join_leave,
            } => {
                let result = inner
                    .subscribe(id, &channel, info, recover, join_leave)
                    .await
                    .map_err(EngineError::into_hub_error);
                session.subscribed(command, &channel, result);
            }
            Action::Unsubscribe { channel } => {
                let ended = inner.lock().channels.remove(id, &channel);
                if let Some(ended) = ended {
                    inner.broker.unsubscribe(&channel);
                    inner.leave(&ended).await;
                }
            }
            Action::Publish {
                id: command,
                channel,
                data,
                info,
            } => {
                let result = inner.publish(&channel, &data, Some(&info)).await;
                session.published(
                    command,
                    result.map(|_| ()).map_err(EngineError::into_hub_error),
                );
            }
            Action::History {
                id: command,
                channel,
                query,
            } => {
                let result = inner.history(&channel, &query).await;
                session.history_loaded(command, result.map_err(EngineError::into_hub_error));
            }
            Action::Presence {
                id: command,
                channel,
            } => {
                let result = inner.presence(&channel).await;
                session.presence_loaded(command, result.map_err(EngineError::into_hub_error));
            }
            Action::PresenceStats {
                id: command,
                channel,
            } => {
                let result = inner.presence_stats(&channel).await;
                session.presence_stats_loaded(command, result.map_err(EngineError::into_hub_error));
            }
        }
    }
}

impl Inner {
    /// Subscribes `id` to `channel`: local interest first (the fan-out
    /// table, then the node's SUBSCRIBE in Redis, confirmed), then the
    /// position or the recovery read from Redis. Every publication is
    /// either at or below the position read (covered by the reply) or
    /// reaches the session's mailbox live afterwards.
    pub(super) async fn subscribe(
        &self,
        id: SessionId,
        channel: &Arc<str>,
        info: Arc<ClientInfo>,
        recover: Option<StreamPosition>,
        join_leave: bool,
    ) -> Result<SubscribeOutcome, EngineError> {
        let options = self.settings.channel_options(channel)?;
        let features = Features::of(options);
        let history = history_options(options);
        self.lock()
            .channels
            .add(id, channel, info.clone(), features, join_leave)?;
        let subscribed = async {
            self.broker.subscribe(channel).await?;
            let read = async {
                let mut outcome = SubscribeOutcome {
                    position: None,
                    recovery: None,
                    join: None,
                };
                if let Some(history) = history {
                    match recover {
                        Some(since) => {
                            let limit = self.settings.config().recovery_max_publication_limit;
                            let (position, recovery) =
                                self.broker.recover(channel, since, history, limit).await?;
                            outcome.position = Some(position);
                            outcome.recovery = Some(recovery);
                        }
                        None => {
                            outcome.position = Some(self.broker.position(channel, history).await?);
                        }
                    }
                }
                if features.presence {
                    self.broker.presence_add(channel, &info).await?;
                }
                if features.join_leave {
                    self.broker
                        .publish_presence_event(channel, true, &info)
                        .await?;
                }
                Ok::<_, RedisEngineError>(outcome)
            }
            .await;
            if read.is_err() {
                self.broker.unsubscribe(channel);
            }
            read
        }
        .await;
        let mut state = self.lock();
        match subscribed {
            Ok(outcome) => {
                state.counters.subscriptions += 1;
                match &outcome.recovery {
                    Some(switchboard_hub_core::history::Recovery::Recovered(_)) => {
                        state.counters.recovered += 1;
                    }
                    Some(switchboard_hub_core::history::Recovery::NotRecovered) => {
                        state.counters.not_recovered += 1;
                    }
                    None => {}
                }
                Ok(outcome)
            }
            Err(error) => {
                state.channels.remove(id, channel);
                Err(error.into())
            }
        }
    }

    /// Publishes in Redis; an error means nothing was published.
    pub(super) async fn publish(
        &self,
        channel: &str,
        data: &Bytes,
        info: Option<&ClientInfo>,
    ) -> Result<switchboard_hub_redis::Published, EngineError> {
        let history = history_options(self.settings.channel_options(channel)?);
        let published = self
            .broker
            .publish(channel, data, info, history, None)
            .await?;
        self.lock().counters.publications += 1;
        Ok(published)
    }

    /// Reads a channel's history from Redis.
    pub(super) async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
    ) -> Result<switchboard_hub_core::history::HistoryRead, EngineError> {
        let history = history_options(self.settings.channel_options(channel)?)
            .ok_or(HubError::NotAvailable)?;
        let max_limit = self.settings.config().history_max_publication_limit;
        Ok(self
            .broker
            .history(channel, query, history, max_limit)
            .await?)
    }

    /// Who is present in a channel, on every node.
    pub(super) async fn presence(
        &self,
        channel: &str,
    ) -> Result<Vec<Arc<ClientInfo>>, EngineError> {
        self.presence_options(channel)?;
        let members = self.broker.presence(channel).await?;
        Ok(members.into_iter().map(Arc::new).collect())
    }

    /// Counts of a channel's presence, on every node.
    pub(super) async fn presence_stats(
        &self,
        channel: &str,
    ) -> Result<switchboard_hub_core::presence::PresenceStats, EngineError> {
        self.presence_options(channel)?;
        Ok(self.broker.presence_stats(channel).await?)
    }

    fn presence_options(&self, channel: &str) -> Result<(), HubError> {
        if self.settings.channel_options(channel)?.presence {
            Ok(())
        } else {
            Err(HubError::NotAvailable)
        }
    }
}
