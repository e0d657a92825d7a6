//! The server API on the Redis engine: publishes and reads go to Redis;
//! commands aimed at a user are sent on the control channel, and every
//! node (this one too) applies them to its own connections of that user.

use std::sync::Arc;

use bytes::Bytes;
use switchboard_hub_core::history::{HistoryQuery, HistoryRead};
use switchboard_hub_core::presence::{ClientInfo, PresenceStats};
use switchboard_hub_core::HubError;
use switchboard_hub_redis::{ControlCommand, NodeInfo};

use super::{history_options, RedisEngine};
use crate::engine::{EngineError, PublishResult, Target};

impl RedisEngine {
    /// Publishes; with an idempotency key, a key seen in this channel
    /// within its TTL returns the first result and publishes nothing.
    pub(crate) async fn api_publish(
        &self,
        channel: &str,
        data: Bytes,
        idempotency_key: Option<&str>,
    ) -> Result<PublishResult, EngineError> {
        let inner = &self.inner;
        let history = history_options(inner.settings.channel_options(channel)?);
        let published = inner
            .broker
            .publish(channel, &data, None, history, idempotency_key)
            .await?;
        if !published.duplicate {
            inner.lock().counters.publications += 1;
        }
        Ok(PublishResult {
            offset: published.position.offset,
            epoch: published.position.epoch.as_str().to_owned(),
        })
    }

    /// Reads a channel's history.
    pub(crate) async fn api_history(
        &self,
        channel: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryRead, EngineError> {
        self.inner.history(channel, query).await
    }

    /// Removes a channel's history, keeping its position.
    pub(crate) async fn api_history_remove(&self, channel: &str) -> Result<(), EngineError> {
        let inner = &self.inner;
        history_options(inner.settings.channel_options(channel)?).ok_or(HubError::NotAvailable)?;
        Ok(inner.broker.history_remove(channel).await?)
    }

    /// Who is present in a channel, on every node.
    pub(crate) async fn api_presence(
        &self,
        channel: &str,
    ) -> Result<Vec<Arc<ClientInfo>>, EngineError> {
        self.inner.presence(channel).await
    }

    /// Counts of a channel's presence, on every node.
    pub(crate) async fn api_presence_stats(
        &self,
        channel: &str,
    ) -> Result<PresenceStats, EngineError> {
        self.inner.presence_stats(channel).await
    }

    /// This node's channels with local subscribers and their counts.
    pub(crate) fn api_channels(&self) -> Vec<(String, usize)> {
        self.inner
            .lock()
            .channels
            .active()
            .map(|(name, count)| (name.to_owned(), count))
            .collect()
    }

    /// Every node in the registry.
    pub(crate) async fn nodes(&self) -> Result<Vec<NodeInfo>, EngineError> {
        Ok(self.inner.broker.nodes().await?)
    }

    /// Subscribes the target's connections on every node.
    pub(crate) async fn api_subscribe(
        &self,
        target: Target<'_>,
        channel: &str,
        chan_info: Option<Bytes>,
        data: Bytes,
    ) -> Result<(), EngineError> {
        self.inner.settings.channel_options(channel)?;
        self.control(ControlCommand::Subscribe {
            user: target.user.to_owned(),
            client: target.client.map(str::to_owned),
            channel: channel.to_owned(),
            chan_info: chan_info.map(|bytes| bytes.to_vec()),
            data: data.to_vec(),
        })
        .await
    }

    /// Unsubscribes the target's connections on every node.
    pub(crate) async fn api_unsubscribe(
        &self,
        target: Target<'_>,
        channel: &str,
    ) -> Result<(), EngineError> {
        self.control(ControlCommand::Unsubscribe {
            user: target.user.to_owned(),
            client: target.client.map(str::to_owned),
            channel: channel.to_owned(),
        })
        .await
    }

    /// Disconnects the target's connections on every node.
    pub(crate) async fn api_disconnect(
        &self,
        target: Target<'_>,
        whitelist: &[String],
        code: u16,
        reason: &str,
    ) -> Result<(), EngineError> {
        self.control(ControlCommand::Disconnect {
            user: target.user.to_owned(),
            client: target.client.map(str::to_owned),
            whitelist: whitelist.to_vec(),
            code: u32::from(code),
            reason: reason.to_owned(),
        })
        .await
    }

    async fn control(&self, command: ControlCommand) -> Result<(), EngineError> {
        Ok(self.inner.broker.send_control(command).await?)
    }
}
