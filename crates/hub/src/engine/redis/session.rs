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
use switchboard_hub_redis::{HistoryOptions, PublishRequest, RedisEngineError};

use super::local::Features;
use super::{history_options, Inner, RedisEngine};
use crate::engine::EngineError;

/// A client's publish waiting to go to Redis with the ones around it.
struct PendingPublish {
    /// The command id to answer.
    command: u32,
    channel: String,
    data: Bytes,
    info: Arc<ClientInfo>,
}

/// The publish in an action; any other action comes back.
impl TryFrom<Action> for PendingPublish {
    type Error = Action;

    fn try_from(action: Action) -> Result<Self, Action> {
        match action {
            Action::Publish {
                id,
                channel,
                data,
                info,
            } => Ok(PendingPublish {
                command: id,
                channel,
                data,
                info,
            }),
            other => Err(other),
        }
    }
}

impl RedisEngine {
    /// Runs every action `session` has queued, in order, reporting each
    /// outcome to it; `true` if there was any. The session loop awaits it
    /// (boxed, so that the idle session's future does not grow by this
    /// one's size).
    ///
    /// Consecutive publishes go to Redis together: awaited one by one, a
    /// connection could publish only one per round trip (about 600/s for
    /// two publishing connections on a loaded core, which capped the fan-out
    /// of `bench/hub-redis.sh` at 60k deliveries/s). Sent together, the
    /// scripts travel in one pipeline on the node's multiplexed
    /// connection, Redis runs them in the order they were sent, and their
    /// replies are reported in that order.
    pub(crate) async fn execute_queued(&self, id: SessionId, session: &mut Session) -> bool {
        let mut any = false;
        let mut next = session.poll_action();
        while let Some(action) = next.take() {
            any = true;
            match PendingPublish::try_from(action) {
                Err(action) => {
                    self.execute(id, session, action).await;
                    next = session.poll_action();
                }
                Ok(first) => {
                    let mut publishes = vec![first];
                    while let Some(action) = session.poll_action() {
                        match PendingPublish::try_from(action) {
                            Ok(publish) => publishes.push(publish),
                            Err(other) => {
                                next = Some(other);
                                break;
                            }
                        }
                    }
                    self.publish_together(session, publishes).await;
                }
            }
        }
        any
    }

    /// Publishes `publishes` in one pipeline
    /// (`RedisBroker::publish_in_order`) and reports each result in order.
    async fn publish_together(&self, session: &mut Session, publishes: Vec<PendingPublish>) {
        let inner = &self.inner;
        // A channel the configuration refuses is answered without a call.
        let checked: Vec<Result<Option<HistoryOptions>, EngineError>> = publishes
            .iter()
            .map(|publish| {
                inner
                    .settings
                    .channel_options(&publish.channel)
                    .map(history_options)
                    .map_err(EngineError::from)
            })
            .collect();
        let requests: Vec<PublishRequest<'_>> = publishes
            .iter()
            .zip(&checked)
            .filter_map(|(publish, history)| {
                Some(PublishRequest {
                    channel: &publish.channel,
                    data: &publish.data,
                    info: Some(&*publish.info),
                    history: *history.as_ref().ok()?,
                    idempotency_key: None,
                })
            })
            .collect();
        let mut published = inner.broker.publish_in_order(&requests).await.into_iter();
        let mut count = 0;
        for (publish, history) in publishes.iter().zip(checked) {
            let result = history.and_then(|_| match published.next() {
                Some(result) => result.map(|_| ()).map_err(EngineError::from),
                None => Err(EngineError::from(RedisEngineError::PubSubDown)),
            });
            count += u64::from(result.is_ok());
            session.published(publish.command, result.map_err(EngineError::into_hub_error));
        }
        inner.lock().counters.publications += count;
    }

    /// Runs one of `session`'s actions in Redis and reports the outcome
    /// to it.
    async fn execute(&self, id: SessionId, session: &mut Session, action: Action) {
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
        let name = self
            .lock()
            .channels
            .add(id, channel, info.clone(), features, join_leave)?;
        let subscribed = async {
            self.broker.subscribe(channel).await?;
            let read = async {
                let mut outcome = SubscribeOutcome {
                    channel: name.clone(),
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
