//! [`RedisEngine`]: the hub on Redis. Publications, history, positions,
//! presence and the node registry live in Redis ([`RedisBroker`]); this
//! process only keeps its own connections: their mailboxes and which
//! channels they are subscribed to ([`LocalChannels`]).
//!
//! - A session's actions run as awaited futures in its loop (see
//!   `session.rs`); a subscribe registers the local interest (the local
//!   table and the broker's SUBSCRIBE) before it reads the position or
//!   the recovery from Redis, so no publication falls between.
//! - One task consumes the broker's events (see `events.rs`) and fans
//!   each publication out to the local subscribers, encoded once per
//!   format, with the memory engine's own fan-out.
//! - Timers refresh the presence of local members and this node's entry
//!   in the registry (see `tasks.rs`).
//! - The server API goes to Redis; commands aimed at a user travel on the
//!   control channel to whichever node holds the connection (`api.rs`).

mod api;
mod events;
mod local;
mod session;
mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_hub_core::counters::Counters;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::{HubError, SessionId, Settings};
use switchboard_hub_redis::{HistoryOptions, RedisBroker, RedisEngineConfig, RedisEngineError};

use super::{Common, EngineStats};
use crate::mailbox::Mailbox;
use local::{Ended, Features, LocalChannels};

/// How `serve` runs the Redis engine (`--engine redis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// Prefix of every key and pub/sub channel (`--redis-prefix`); nodes
    /// sharing one prefix form one hub. `None`: the engine's default.
    pub prefix: Option<String>,
    /// How long a presence entry lives unless its node refreshes it (the
    /// node refreshes its members every third of it): how long the
    /// members of a dead node stay visible.
    pub presence_ttl: Duration,
    /// How long a node stays in the registry without a heartbeat (sent
    /// every third of it).
    pub node_ttl: Duration,
}

impl RedisOptions {
    /// The defaults for `url`: presence entries live 60 s, registry
    /// entries 30 s without a refresh.
    pub fn new(url: impl Into<String>) -> Self {
        let defaults = RedisEngineConfig::new(String::new(), String::new());
        RedisOptions {
            url: url.into(),
            prefix: None,
            presence_ttl: defaults.presence_ttl,
            node_ttl: defaults.node_ttl,
        }
    }
}

/// The Redis engine of one node. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RedisEngine {
    inner: Arc<Inner>,
}

/// Who this node is in the registry.
#[derive(Debug, Clone)]
pub(crate) struct NodeName {
    /// Unique per process.
    pub(crate) id: String,
    /// For people (`--node-name`, or host name and port).
    pub(crate) name: String,
}

#[derive(Debug)]
struct Inner {
    broker: RedisBroker,
    settings: Arc<Settings>,
    state: Mutex<LocalState>,
    common: Common,
    node: NodeName,
    started: Instant,
}

#[derive(Debug, Default)]
struct LocalState {
    mailboxes: HashMap<SessionId, Arc<Mailbox>>,
    /// Connected Centrifugo sessions and who they are.
    clients: HashMap<SessionId, Arc<ClientInfo>>,
    channels: LocalChannels,
    counters: Counters,
}

impl RedisEngine {
    /// Connects to Redis and starts the node's tasks (event fan-out,
    /// presence refresh, registry heartbeat). Fails when Redis cannot be
    /// reached.
    pub(crate) async fn connect(
        settings: Arc<Settings>,
        options: &RedisOptions,
        node: NodeName,
    ) -> Result<Self, RedisEngineError> {
        let mut config = RedisEngineConfig::new(options.url.clone(), node.id.clone());
        if let Some(prefix) = &options.prefix {
            config.prefix.clone_from(prefix);
        }
        config.presence_ttl = options.presence_ttl;
        config.node_ttl = options.node_ttl;
        config.history_meta_ttl = settings.config().history_meta_ttl;
        let (broker, events) = RedisBroker::connect(config).await?;
        let inner = Arc::new(Inner {
            broker,
            settings,
            state: Mutex::new(LocalState::default()),
            common: Common::new(),
            node,
            started: Instant::now(),
        });
        let engine = RedisEngine { inner };
        tokio::spawn(events::route(Arc::downgrade(&engine.inner), events));
        tokio::spawn(tasks::refresh_presence(Arc::downgrade(&engine.inner)));
        tokio::spawn(tasks::heartbeat(Arc::downgrade(&engine.inner)));
        // Listed in the registry before the first client arrives.
        engine.inner.heartbeat().await;
        Ok(engine)
    }

    pub(super) fn common(&self) -> &Common {
        &self.inner.common
    }

    /// Registers a connection's mailbox under `id`.
    pub(super) fn register(&self, id: SessionId, mailbox: Arc<Mailbox>) {
        self.inner.lock().mailboxes.insert(id, mailbox);
    }

    /// A session finished `connect`: control commands can find it.
    pub(super) fn connected(&self, id: SessionId, info: Arc<ClientInfo>) {
        self.inner.lock().clients.insert(id, info);
    }

    /// The connection of `id` is gone: its subscriptions end here at once,
    /// and in Redis (presence, leave events, interest) in the background.
    pub(super) fn disconnect(&self, id: SessionId) {
        let ended = {
            let mut state = self.inner.lock();
            state.mailboxes.remove(&id);
            state.clients.remove(&id);
            state.channels.remove_session(id)
        };
        self.inner.forget_all(ended);
    }

    /// Counts of this node's clients, users, channels and subscriptions.
    pub(super) fn stats(&self) -> EngineStats {
        self.inner.stats()
    }

    /// This node's counters.
    pub(super) fn node_counters(&self) -> Counters {
        self.inner.lock().counters.clone()
    }

    /// Whether Redis pub/sub is up and probed.
    pub(super) fn is_healthy(&self) -> bool {
        self.inner.broker.is_healthy()
    }

    /// Removes this node from the registry (a clean shutdown).
    pub(crate) async fn leave_registry(&self) {
        if let Err(error) = self.inner.broker.leave_registry().await {
            tracing::warn!(%error, "could not leave the Redis node registry");
        }
    }

    /// Subscribes a raw `/chat` member (no reply: the interest is made in
    /// the background).
    pub(super) fn subscribe_member(
        &self,
        id: SessionId,
        channel: &str,
        info: Arc<ClientInfo>,
    ) -> Result<(), HubError> {
        let features = Features::of(self.inner.settings.channel_options(channel)?);
        self.inner
            .lock()
            .channels
            .add(id, channel, info.clone(), features, true)?;
        let engine = self.clone();
        let channel: Arc<str> = channel.into();
        tokio::spawn(async move {
            if let Err(error) = engine.inner.enter(&channel, &info, features).await {
                tracing::warn!(%error, %channel, "a chat member could not join in Redis");
                engine.inner.lock().channels.remove(id, &channel);
            }
        });
        Ok(())
    }

    /// Publishes a raw `/chat` member's message (in the background: the
    /// member sees it when it comes back from Redis, or not at all).
    pub(super) fn publish_member(
        &self,
        channel: &str,
        data: Bytes,
        info: Option<Arc<ClientInfo>>,
    ) -> Result<(), HubError> {
        let options = self.inner.settings.channel_options(channel)?;
        let history = history_options(options);
        let engine = self.clone();
        let channel = channel.to_owned();
        tokio::spawn(async move {
            let published = engine
                .inner
                .broker
                .publish(&channel, &data, info.as_deref(), history, None)
                .await;
            if let Err(error) = published {
                tracing::warn!(%error, %channel, "a chat message was not published");
            }
        });
        Ok(())
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, LocalState> {
        // Each call keeps the table consistent as a whole; a panic inside
        // one is a bug that poisoning would turn into a crash of every
        // later connection.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stats(&self) -> EngineStats {
        let state = self.lock();
        EngineStats::of(
            &state.clients,
            &state.mailboxes,
            state.channels.active().count(),
            state.channels.subscription_total(),
        )
    }

    /// The member's presence and join event in Redis, once its local
    /// subscription counts. Subscribes the node in Redis first; undone
    /// there when a later step fails.
    async fn enter(
        &self,
        channel: &str,
        info: &ClientInfo,
        features: Features,
    ) -> Result<(), RedisEngineError> {
        self.broker.subscribe(channel).await?;
        let announced = async {
            if features.presence {
                self.broker.presence_add(channel, info).await?;
            }
            if features.join_leave {
                self.broker
                    .publish_presence_event(channel, true, info)
                    .await?;
            }
            Ok(())
        }
        .await;
        if announced.is_err() {
            self.broker.unsubscribe(channel);
        }
        announced
    }

    /// Ends subscriptions in Redis: the interest at once, the presence and
    /// leave events in the background.
    fn forget_all(self: &Arc<Self>, ended: Vec<Ended>) {
        if ended.is_empty() {
            return;
        }
        for subscription in &ended {
            self.broker.unsubscribe(&subscription.channel);
        }
        let inner = self.clone();
        tokio::spawn(async move {
            for subscription in ended {
                inner.leave(&subscription).await;
            }
        });
    }

    /// Removes a member's presence and announces its leave.
    async fn leave(&self, ended: &Ended) {
        let channel = &*ended.channel;
        if ended.features.presence {
            if let Err(error) = self
                .broker
                .presence_remove(channel, &ended.info.client)
                .await
            {
                // It expires within the presence TTL anyway.
                tracing::debug!(%error, channel, "presence entry not removed");
            }
        }
        if ended.features.join_leave {
            if let Err(error) = self
                .broker
                .publish_presence_event(channel, false, &ended.info)
                .await
            {
                tracing::debug!(%error, channel, "leave event not published");
            }
        }
    }

    /// Refreshes this node's registry entry.
    async fn heartbeat(&self) {
        let stats = self.stats();
        let info = switchboard_hub_redis::NodeInfo {
            id: self.node.id.clone(),
            name: self.node.name.clone(),
            version: switchboard_hub_core::session::SERVER_VERSION.to_owned(),
            num_clients: stats.num_clients as u64,
            num_users: stats.num_users as u64,
            num_subs: stats.num_subs as u64,
            num_channels: stats.num_channels as u64,
            uptime: self.started.elapsed().as_secs(),
        };
        if let Err(error) = self.broker.heartbeat(&info).await {
            tracing::warn!(%error, "registry heartbeat failed");
        }
    }
}

/// A channel's history settings for the broker (`None` without history).
fn history_options(options: &switchboard_hub_core::ChannelOptions) -> Option<HistoryOptions> {
    options.has_history().then_some(HistoryOptions {
        size: options.history_size,
        ttl: options.history_ttl,
    })
}

/// The weak handle the node's tasks hold: they end with the engine.
type WeakInner = Weak<Inner>;
