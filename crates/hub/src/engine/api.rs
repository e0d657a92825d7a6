//! The server API's entry points on [`Engine`]: the memory engine answers
//! at once, the Redis engine after its round trips to Redis.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use switchboard_hub_core::counters::Counters;
use switchboard_hub_core::history::{HistoryQuery, HistoryRead};
use switchboard_hub_core::presence::{ClientInfo, PresenceStats};
use switchboard_hub_core::SessionId;
use switchboard_hub_redis::NodeInfo;

use super::{Engine, EngineError, EngineStats, PublishResult, Target};

impl Engine {
    /// A session finished `connect`: the server API can now find it by
    /// user and client id.
    pub(crate) fn connected(&self, id: SessionId, info: Arc<ClientInfo>) {
        match self {
            Engine::Memory(engine) => engine.connected(id, info),
            Engine::Redis(engine) => engine.connected(id, info),
        }
    }

    /// Publishes from the server API. With an idempotency key, a key seen
    /// in this channel within its TTL returns the first result and
    /// publishes nothing.
    pub(crate) async fn api_publish(
        &self,
        channel: &str,
        data: Bytes,
        idempotency_key: Option<&str>,
    ) -> Result<PublishResult, EngineError> {
        match self {
            Engine::Memory(engine) => {
                Ok(engine.api_publish(Instant::now(), channel, data, idempotency_key)?)
            }
            Engine::Redis(engine) => engine.api_publish(channel, data, idempotency_key).await,
        }
    }

    /// Reads a channel's history.
    pub(crate) async fn api_history(
        &self,
        channel: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryRead, EngineError> {
        match self {
            Engine::Memory(engine) => Ok(engine.api_history(Instant::now(), channel, query)?),
            Engine::Redis(engine) => engine.api_history(channel, query).await,
        }
    }

    /// Removes a channel's history, keeping its position.
    pub(crate) async fn api_history_remove(&self, channel: &str) -> Result<(), EngineError> {
        match self {
            Engine::Memory(engine) => Ok(engine.api_history_remove(channel)?),
            Engine::Redis(engine) => engine.api_history_remove(channel).await,
        }
    }

    /// Who is subscribed to a channel (on every node).
    pub(crate) async fn api_presence(
        &self,
        channel: &str,
    ) -> Result<Vec<Arc<ClientInfo>>, EngineError> {
        match self {
            Engine::Memory(engine) => Ok(engine.api_presence(channel)?),
            Engine::Redis(engine) => engine.api_presence(channel).await,
        }
    }

    /// Counts of a channel's presence (on every node).
    pub(crate) async fn api_presence_stats(
        &self,
        channel: &str,
    ) -> Result<PresenceStats, EngineError> {
        match self {
            Engine::Memory(engine) => Ok(engine.api_presence_stats(channel)?),
            Engine::Redis(engine) => engine.api_presence_stats(channel).await,
        }
    }

    /// Channels with subscribers and their subscriber counts. With Redis:
    /// this node's channels and local subscriber counts (a cluster-wide
    /// list would need request/response traffic between nodes).
    pub(crate) fn api_channels(&self) -> Vec<(String, usize)> {
        match self {
            Engine::Memory(engine) => engine.api_channels(),
            Engine::Redis(engine) => engine.api_channels(),
        }
    }

    /// This node's counts of clients, users, channels, subscriptions and
    /// queued bytes.
    pub(crate) fn stats(&self) -> EngineStats {
        match self {
            Engine::Memory(engine) => engine.stats(),
            Engine::Redis(engine) => engine.stats(),
        }
    }

    /// Every live node from the Redis registry; `None` with the memory
    /// engine (this process is the only node).
    pub(crate) async fn nodes(&self) -> Option<Result<Vec<NodeInfo>, EngineError>> {
        match self {
            Engine::Memory(_) => None,
            Engine::Redis(engine) => Some(engine.nodes().await),
        }
    }

    /// The node's counters (subscriptions, publications, recoveries).
    pub(crate) fn node_counters(&self) -> Counters {
        match self {
            Engine::Memory(engine) => engine.node_counters(),
            Engine::Redis(engine) => engine.node_counters(),
        }
    }

    /// Whether the engine answers: the memory engine's lock is not held
    /// forever; the Redis engine's pub/sub connection is up and its
    /// liveness probe comes back.
    pub(crate) fn is_healthy(&self) -> bool {
        match self {
            Engine::Memory(engine) => engine.is_healthy(),
            Engine::Redis(engine) => engine.is_healthy(),
        }
    }

    /// Subscribes the target's connections to `channel` (the server API's
    /// `subscribe`), on whichever node holds them.
    pub(crate) async fn api_subscribe(
        &self,
        target: Target<'_>,
        channel: &str,
        chan_info: Option<Bytes>,
        data: Bytes,
    ) -> Result<(), EngineError> {
        match self {
            Engine::Memory(engine) => {
                Ok(engine.api_subscribe(Instant::now(), target, channel, chan_info, data)?)
            }
            Engine::Redis(engine) => engine.api_subscribe(target, channel, chan_info, data).await,
        }
    }

    /// Unsubscribes the target's connections from `channel` (the server
    /// API's `unsubscribe`), on whichever node holds them.
    pub(crate) async fn api_unsubscribe(
        &self,
        target: Target<'_>,
        channel: &str,
    ) -> Result<(), EngineError> {
        match self {
            Engine::Memory(engine) => {
                engine.api_unsubscribe(Instant::now(), target, channel);
                Ok(())
            }
            Engine::Redis(engine) => engine.api_unsubscribe(target, channel).await,
        }
    }

    /// Closes the target's connections (except the client ids in
    /// `whitelist`) with `code` and `reason`, on whichever node holds
    /// them.
    pub(crate) async fn api_disconnect(
        &self,
        target: Target<'_>,
        whitelist: &[String],
        code: u16,
        reason: &str,
    ) -> Result<(), EngineError> {
        match self {
            Engine::Memory(engine) => {
                engine.api_disconnect(target, whitelist, code, reason);
                Ok(())
            }
            Engine::Redis(engine) => engine.api_disconnect(target, whitelist, code, reason).await,
        }
    }
}
