//! [`RedisBroker`]: the engine's operations against Redis (publish,
//! history, recovery, presence, join/leave, the node registry, control
//! messages) and its handle on the pub/sub subscriber task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, Value};
use switchboard_hub_core::history::{
    recovery_decision, HistoryQuery, HistoryRead, Publication, Recovery,
};
use switchboard_hub_core::position::{Epoch, EpochSource, StreamPosition};
use switchboard_hub_core::presence::{ClientInfo, PresenceStats};
use switchboard_hub_core::HubError;
use tokio::sync::{mpsc, oneshot};

use crate::codec;
use crate::config::{millis, HistoryOptions, RedisEngineConfig};
use crate::error::RedisEngineError;
use crate::keys::Keys;
use crate::scripts::{ScriptCall, Scripts, PUBLISH_SOURCE};
use crate::subscriber::{self, BrokerEvent, Interest};

/// One publication for [`RedisBroker::publish_in_order`]: the arguments of
/// [`RedisBroker::publish`].
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The payload.
    pub data: &'a Bytes,
    /// The publisher, if a client.
    pub info: Option<&'a ClientInfo>,
    /// The channel's history settings (`None`: no history, no offsets).
    pub history: Option<HistoryOptions>,
    /// A key that makes a repeated publish return the first result.
    pub idempotency_key: Option<&'a str>,
}

/// The result of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The channel's position after the publish: the publication's offset
    /// and the stream's epoch (offset 0 and an empty epoch without
    /// history).
    pub position: StreamPosition,
    /// Whether an earlier publish with the same idempotency key already
    /// published it: nothing was published now, and `position` is the
    /// first publish's.
    pub duplicate: bool,
}

/// State shared by the broker's handles and its subscriber task.
pub(crate) struct Shared {
    pub(crate) config: RedisEngineConfig,
    pub(crate) keys: Keys,
    pub(crate) scripts: Scripts,
    pub(crate) commands: ConnectionManager,
    pub(crate) healthy: AtomicBool,
    epochs: Mutex<EpochSource>,
    /// The highest position this node saw in each channel with local
    /// subscribers. Passed to the scripts, which start a new epoch when
    /// Redis's top is below it under the same epoch (Redis went back to
    /// older data): a position never names two publications.
    seen: Mutex<HashMap<String, Option<StreamPosition>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("healthy", &self.healthy)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn seen_positions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<StreamPosition>>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts remembering the positions seen in `channel` (it has local
    /// subscribers now).
    pub(crate) fn track(&self, channel: &str, position: Option<StreamPosition>) {
        self.seen_positions()
            .entry(channel.to_owned())
            .or_insert(None);
        if let Some(position) = position {
            self.saw(channel, position);
        }
    }

    /// Forgets `channel` (its last local subscriber left).
    pub(crate) fn untrack(&self, channel: &str) {
        self.seen_positions().remove(channel);
    }

    /// Records a position of a tracked channel: a newer epoch replaces the
    /// old one, a lower offset of the same epoch is ignored.
    pub(crate) fn saw(&self, channel: &str, position: StreamPosition) {
        if position.epoch.is_empty() {
            return;
        }
        if let Some(highest) = self.seen_positions().get_mut(channel) {
            let higher = highest.is_none_or(|highest| {
                highest.epoch != position.epoch || highest.offset < position.offset
            });
            if higher {
                *highest = Some(position);
            }
        }
    }

    /// The highest position seen in `channel`, as script arguments.
    fn seen_args(&self, channel: &str) -> (String, u64) {
        match self.seen_positions().get(channel) {
            Some(Some(position)) => (position.epoch.as_str().to_owned(), position.offset),
            _ => (String::new(), 0),
        }
    }

    /// A fresh epoch for a channel whose metadata is missing.
    pub(crate) fn next_epoch(&self) -> Epoch {
        self.epochs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next_epoch()
    }

    /// Reads a channel's position and a history range in one step
    /// (`lua/read.lua`); see the script for the arguments.
    pub(crate) async fn read(
        &self,
        channel: &str,
        size: usize,
        limit: usize,
        reverse: bool,
        bound: u64,
    ) -> Result<(StreamPosition, Vec<Publication>), RedisEngineError> {
        let mut connection = self.commands.clone();
        let (seen_epoch, seen_offset) = self.seen_args(channel);
        let values: Vec<Value> = self
            .scripts
            .read
            .key(self.keys.meta(channel))
            .key(self.keys.stream(channel))
            .arg(self.next_epoch().as_str())
            .arg(millis(self.config.history_meta_ttl))
            .arg(size.max(1))
            .arg(limit)
            .arg(if reverse { "r" } else { "f" })
            .arg(bound)
            .arg(seen_epoch)
            .arg(seen_offset)
            .invoke_async(&mut connection)
            .await?;
        let corrupt = |what: &str| RedisEngineError::Corrupt {
            key: self.keys.meta(channel),
            what: what.to_owned(),
        };
        let mut values = values.into_iter();
        let top: u64 = next_value(&mut values).ok_or_else(|| corrupt("no top offset"))?;
        let epoch: String = next_value(&mut values).ok_or_else(|| corrupt("no epoch"))?;
        let epoch = Epoch::parse(&epoch).ok_or_else(|| corrupt("an epoch too long"))?;
        let mut publications = Vec::new();
        while let Some(offset) = next_value::<u64>(&mut values) {
            let body: Vec<u8> =
                next_value(&mut values).ok_or_else(|| corrupt("a stream entry without data"))?;
            let publication = codec::decode_publication(offset, &body)
                .ok_or_else(|| corrupt("a stream entry that is not a publication"))?;
            publications.push(publication);
        }
        let position = StreamPosition::new(top, epoch);
        self.saw(channel, position);
        Ok((position, publications))
    }

    /// The recovery decision for a subscriber that last saw `since`.
    pub(crate) async fn recover(
        &self,
        channel: &str,
        since: StreamPosition,
        history: HistoryOptions,
        max_publications: usize,
    ) -> Result<(StreamPosition, Recovery), RedisEngineError> {
        let (position, window) = self
            .read(
                channel,
                history.size,
                max_publications.max(1),
                false,
                since.offset.saturating_add(1),
            )
            .await?;
        let recovery = recovery_decision(since, position, window.iter(), max_publications);
        Ok((position, recovery))
    }
}

fn next_value<T: redis::FromRedisValue>(values: &mut impl Iterator<Item = Value>) -> Option<T> {
    redis::from_redis_value(&values.next()?).ok()
}

/// The Redis engine of one node. Cheap to clone; every clone talks to the
/// same subscriber task.
#[derive(Debug, Clone)]
pub struct RedisBroker {
    pub(crate) shared: Arc<Shared>,
    interest: mpsc::UnboundedSender<Interest>,
}

impl RedisBroker {
    /// Connects the command connection, starts the pub/sub subscriber task
    /// and returns the broker with the receiver of its events (live
    /// publications, join/leave, gaps, control commands). Must run inside
    /// a tokio runtime.
    pub async fn connect(
        config: RedisEngineConfig,
    ) -> Result<(Self, mpsc::UnboundedReceiver<BrokerEvent>), RedisEngineError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|source| {
            RedisEngineError::InvalidUrl {
                url: config.url.clone(),
                source,
            }
        })?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(config.command_timeout)
            .set_connection_timeout(config.command_timeout)
            .set_number_of_retries(2)
            .set_max_delay(millis(config.reconnect_max));
        let commands = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
        let mut seed = [0u8; 8];
        // Without OS randomness the clock still makes restarts distinct.
        if getrandom::fill(&mut seed).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos() as u64);
            seed = nanos.to_le_bytes();
        }
        let shared = Arc::new(Shared {
            keys: crate::keys::Keys::new(&config.prefix),
            config,
            scripts: Scripts::new(),
            commands,
            healthy: AtomicBool::new(false),
            epochs: Mutex::new(EpochSource::new(u64::from_le_bytes(seed))),
            seen: Mutex::new(HashMap::new()),
        });
        let (interest, events) = subscriber::spawn(client, shared.clone()).await?;
        Ok((Self { shared, interest }, events))
    }

    /// The engine's configuration.
    pub fn config(&self) -> &RedisEngineConfig {
        &self.shared.config
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// Whether the pub/sub connection is up and its last liveness probe
    /// came back (what `/ready` should report).
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }

    /// Publishes to `channel` in one atomic step (`lua/publish.lua`):
    /// with `history`, the next offset (a new epoch when the channel's
    /// metadata is missing), the stream append trimmed to the size and
    /// both TTLs; the idempotency result when `idempotency_key` is given;
    /// the PUBLISH to every node with local subscribers. An error means
    /// nothing was published (Redis does not run half a script).
    pub async fn publish(
        &self,
        channel: &str,
        data: &Bytes,
        info: Option<&ClientInfo>,
        history: Option<HistoryOptions>,
        idempotency_key: Option<&str>,
    ) -> Result<Published, RedisEngineError> {
        let request = PublishRequest {
            channel,
            data,
            info,
            history,
            idempotency_key,
        };
        self.publish_with(ScriptCall::Cached, &request).await
    }

    /// Publishes `requests` as [`RedisBroker::publish`] does, sent together in
    /// one pipeline: Redis runs them in the order given, so their offsets
    /// in a channel follow that order, and only one round trip is waited
    /// for. The results come in the same order. The first call carries the
    /// script's source (EVAL), so the others never meet NOSCRIPT and are
    /// never retried behind the calls after them; a SCRIPT FLUSH between
    /// two of them fails the rest with an error (nothing published).
    pub async fn publish_in_order(
        &self,
        requests: &[PublishRequest<'_>],
    ) -> Vec<Result<Published, RedisEngineError>> {
        // join_all polls the calls in order on their first poll, which is
        // when each enters the connection's pipeline.
        futures_util::future::join_all(requests.iter().enumerate().map(|(index, request)| {
            self.publish_with(ScriptCall::in_run(index, requests.len()), request)
        }))
        .await
    }

    async fn publish_with(
        &self,
        call: ScriptCall,
        request: &PublishRequest<'_>,
    ) -> Result<Published, RedisEngineError> {
        let shared = &self.shared;
        let keys = &shared.keys;
        let channel = request.channel;
        let (size, ttl) = request
            .history
            .map_or((0, 1), |history| (history.size.max(1), millis(history.ttl)));
        let idempotency_ttl = if request.idempotency_key.is_some() {
            millis(shared.config.idempotency_ttl)
        } else {
            0
        };
        let mut connection = shared.commands.clone();
        let (seen_epoch, seen_offset) = shared.seen_args(channel);
        let mut command = call.command(&shared.scripts.publish, PUBLISH_SOURCE);
        command
            .arg(3)
            .arg(keys.meta(channel))
            .arg(keys.stream(channel))
            .arg(keys.idempotency(channel, request.idempotency_key.unwrap_or_default()))
            .arg(codec::encode_publication(request.data, request.info))
            .arg(size)
            .arg(ttl)
            .arg(millis(shared.config.history_meta_ttl))
            .arg(keys.pubsub(channel))
            .arg(shared.next_epoch().as_str())
            .arg(idempotency_ttl)
            .arg(seen_epoch)
            .arg(seen_offset);
        let reply: redis::RedisResult<(u64, String, u8)> =
            command.query_async(&mut connection).await;
        let (offset, epoch, duplicate) = match reply {
            Err(error)
                if call == ScriptCall::Cached
                    && error.kind() == redis::ErrorKind::NoScriptError =>
            {
                shared.scripts.publish.load_async(&mut connection).await?;
                command.query_async(&mut connection).await?
            }
            reply => reply?,
        };
        let epoch = Epoch::parse(&epoch).ok_or_else(|| RedisEngineError::Corrupt {
            key: keys.meta(channel),
            what: "an epoch too long".into(),
        })?;
        let position = StreamPosition::new(offset, epoch);
        shared.saw(channel, position);
        Ok(Published {
            position,
            duplicate: duplicate == 1,
        })
    }

    /// The channel's current position; creates its metadata (a new epoch)
    /// when missing, so that a subscriber's position stays valid.
    pub async fn position(
        &self,
        channel: &str,
        history: HistoryOptions,
    ) -> Result<StreamPosition, RedisEngineError> {
        let (position, _) = self.shared.read(channel, history.size, 0, false, 0).await?;
        Ok(position)
    }

    /// Reads the channel's history like the memory engine does: at most
    /// `max_limit` publications; `since` must be in the current epoch and
    /// not beyond the top (else [`HubError::UnrecoverablePosition`]).
    pub async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
        history: HistoryOptions,
        max_limit: usize,
    ) -> Result<HistoryRead, RedisEngineError> {
        let mut limit = query.limit.map_or(max_limit, |limit| limit.min(max_limit));
        let bound = match (query.since, query.reverse) {
            (None, false) => 1,
            (None, true) => 0,
            (Some(since), false) => since.offset.saturating_add(1),
            (Some(since), true) => {
                if since.offset <= 1 {
                    // Nothing lies before offset 1.
                    limit = 0;
                }
                since.offset.saturating_sub(1)
            }
        };
        let (position, publications) = self
            .shared
            .read(channel, history.size, limit, query.reverse, bound)
            .await?;
        if let Some(since) = query.since {
            if since.epoch != position.epoch || since.offset > position.offset {
                return Err(HubError::UnrecoverablePosition.into());
            }
        }
        Ok(HistoryRead {
            publications,
            position,
        })
    }

    /// The all-or-nothing recovery decision (hub-core's
    /// [`recovery_decision`], the memory engine's too) for a subscriber
    /// that last saw `since`, with the channel's current position.
    pub async fn recover(
        &self,
        channel: &str,
        since: StreamPosition,
        history: HistoryOptions,
        max_publications: usize,
    ) -> Result<(StreamPosition, Recovery), RedisEngineError> {
        self.shared
            .recover(channel, since, history, max_publications)
            .await
    }

    /// Drops the channel's kept publications; its position stays.
    pub async fn history_remove(&self, channel: &str) -> Result<(), RedisEngineError> {
        let mut connection = self.shared.commands.clone();
        let _: () = connection.del(self.shared.keys.stream(channel)).await?;
        Ok(())
    }

    /// Adds or refreshes a presence entry; nodes call this again for
    /// their local members well within the presence TTL, so that the
    /// members of a dead node expire and no ghost stays.
    pub async fn presence_add(
        &self,
        channel: &str,
        info: &ClientInfo,
    ) -> Result<(), RedisEngineError> {
        let shared = &self.shared;
        let mut connection = shared.commands.clone();
        let _: i64 = shared
            .scripts
            .presence_add
            .key(shared.keys.presence_expiries(channel))
            .key(shared.keys.presence_infos(channel))
            .arg(&info.client)
            .arg(codec::encode_info(info))
            .arg(millis(shared.config.presence_ttl))
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    /// Refreshes many presence entries (a node's local members) in one
    /// round trip: what a node runs on a timer well within the presence
    /// TTL.
    pub async fn presence_refresh(
        &self,
        entries: &[(&str, &ClientInfo)],
    ) -> Result<(), RedisEngineError> {
        if entries.is_empty() {
            return Ok(());
        }
        let shared = &self.shared;
        let script = &shared.scripts.presence_add;
        let ttl = millis(shared.config.presence_ttl);
        let mut pipe = redis::pipe();
        // Loaded first on the same connection, so no EVALSHA below can
        // meet NOSCRIPT (pipelines have no EVAL fallback).
        pipe.cmd("SCRIPT")
            .arg("LOAD")
            .arg(include_str!("lua/presence_add.lua"))
            .ignore();
        for (channel, info) in entries {
            pipe.cmd("EVALSHA")
                .arg(script.get_hash())
                .arg(2)
                .arg(shared.keys.presence_expiries(channel))
                .arg(shared.keys.presence_infos(channel))
                .arg(&info.client)
                .arg(codec::encode_info(info))
                .arg(ttl)
                .ignore();
        }
        let mut connection = shared.commands.clone();
        let _: () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    /// Removes a client's presence entry.
    pub async fn presence_remove(
        &self,
        channel: &str,
        client: &str,
    ) -> Result<(), RedisEngineError> {
        let shared = &self.shared;
        let mut connection = shared.commands.clone();
        let _: () = redis::pipe()
            .atomic()
            .zrem(shared.keys.presence_expiries(channel), client)
            .ignore()
            .hdel(shared.keys.presence_infos(channel), client)
            .ignore()
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    /// Who is present in `channel` (expired entries dropped first).
    pub async fn presence(&self, channel: &str) -> Result<Vec<ClientInfo>, RedisEngineError> {
        let shared = &self.shared;
        let mut connection = shared.commands.clone();
        let infos: Vec<Vec<u8>> = shared
            .scripts
            .presence_get
            .key(shared.keys.presence_expiries(channel))
            .key(shared.keys.presence_infos(channel))
            .invoke_async(&mut connection)
            .await?;
        infos
            .iter()
            .map(|bytes| {
                codec::decode_info(bytes).ok_or_else(|| RedisEngineError::Corrupt {
                    key: shared.keys.presence_infos(channel),
                    what: "an entry that is not a client info".into(),
                })
            })
            .collect()
    }

    /// Counts of `channel`'s presence: clients, and distinct users.
    pub async fn presence_stats(&self, channel: &str) -> Result<PresenceStats, RedisEngineError> {
        let clients = self.presence(channel).await?;
        let users: std::collections::HashSet<&str> =
            clients.iter().map(|info| info.user.as_str()).collect();
        Ok(PresenceStats {
            num_clients: clients.len() as u32,
            num_users: users.len() as u32,
        })
    }

    /// Announces a join (`join == true`) or leave to every node with
    /// subscribers of `channel`.
    pub async fn publish_presence_event(
        &self,
        channel: &str,
        join: bool,
        info: &ClientInfo,
    ) -> Result<(), RedisEngineError> {
        let mut connection = self.shared.commands.clone();
        let _: i64 = connection
            .publish(
                self.shared.keys.pubsub(channel),
                codec::encode_presence_event(join, info),
            )
            .await?;
        Ok(())
    }

    /// Starts delivering `channel`'s live messages to this node (one more
    /// local subscriber). Returns once Redis confirmed the subscription, so
    /// a position read afterwards misses nothing. Subscriptions arriving
    /// together share one SUBSCRIBE. Refused with
    /// [`RedisEngineError::PubSubDown`] while the pub/sub connection is
    /// down (nothing is counted then).
    pub async fn subscribe(&self, channel: &str) -> Result<(), RedisEngineError> {
        let (done, confirmed) = oneshot::channel();
        self.interest
            .send(Interest::Subscribe {
                channel: channel.to_owned(),
                done,
            })
            .map_err(|_| RedisEngineError::PubSubDown)?;
        confirmed.await.map_err(|_| RedisEngineError::PubSubDown)?
    }

    /// One local subscriber of `channel` fewer; the node unsubscribes in
    /// Redis when it was the last.
    pub fn unsubscribe(&self, channel: &str) {
        let _ = self.interest.send(Interest::Unsubscribe {
            channel: channel.to_owned(),
        });
    }
}
