//! The pub/sub subscriber task: one Redis pub/sub connection per node,
//! subscribed only to the channels with local subscribers (interest-based
//! routing), plus the node's service channel and the control channel.
//!
//! - Subscriptions that arrive together go out as one SUBSCRIBE (at most
//!   [`RedisEngineConfig::subscribe_batch`] channels each).
//! - The task remembers, per channel, the last position it delivered (or
//!   read right after subscribing). After a reconnect (with backoff) it
//!   resubscribes every channel and checks each against the stream's top:
//!   missed publications are fetched from the stream and delivered in
//!   order, or, when they cannot all be, a [`BrokerEvent::Gap`] tells the
//!   hub to make the channel's subscribers recover (never a silent gap).
//! - A probe published to the node's service channel every
//!   [`RedisEngineConfig::probe_interval`] must come back before the next
//!   one; otherwise the subscription is taken as silently dropped and the
//!   connection is rebuilt.
//!
//! [`RedisEngineConfig::subscribe_batch`]: crate::RedisEngineConfig::subscribe_batch
//! [`RedisEngineConfig::probe_interval`]: crate::RedisEngineConfig::probe_interval

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt as _;
use redis::aio::{PubSubSink, PubSubStream};
use redis::AsyncCommands as _;
use switchboard_hub_core::history::{Publication, Recovery};
use switchboard_hub_core::position::{Epoch, StreamPosition};
use switchboard_hub_core::presence::ClientInfo;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, timeout, Duration, MissedTickBehavior};

use crate::broker::Shared;
use crate::codec::{self, ChannelMessage};
use crate::config::HistoryOptions;
use crate::error::RedisEngineError;
use crate::registry::ControlMessage;

/// What the subscriber task reports to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerEvent {
    /// A publication for the local subscribers of `channel`, with the
    /// channel's position after it. Per channel, offsets arrive in order
    /// and without duplicates.
    Publication {
        /// The hub channel.
        channel: Arc<str>,
        /// The publication (offset 0 without history).
        publication: Publication,
        /// The channel's position after it.
        position: StreamPosition,
    },
    /// A client joined `channel` (on any node).
    Join {
        /// The hub channel.
        channel: Arc<str>,
        /// Who joined.
        info: ClientInfo,
    },
    /// A client left `channel` (on any node).
    Leave {
        /// The hub channel.
        channel: Arc<str>,
        /// Who left.
        info: ClientInfo,
    },
    /// Publications of `channel` were missed and cannot be delivered (the
    /// stream's epoch changed, or they left the history window while the
    /// connection was down): the hub must make the channel's local
    /// subscribers recover from their own positions, e.g. with an
    /// `unsubscribe` push with a reconnect code, so that each gets
    /// `recovered: false` and the current position, never a silent gap.
    Gap {
        /// The hub channel.
        channel: Arc<str>,
        /// The channel's current position (empty epoch when its metadata
        /// is gone).
        position: StreamPosition,
    },
    /// A user-targeted command from some node.
    Control(ControlMessage),
    /// The pub/sub connection went down (`false`) or is subscribed and
    /// probed again (`true`).
    Health(bool),
}

/// A change of local interest in a channel.
#[derive(Debug)]
pub(crate) enum Interest {
    /// One more local subscriber; `done` answers once Redis confirmed.
    Subscribe {
        channel: String,
        done: oneshot::Sender<Result<(), RedisEngineError>>,
    },
    /// One local subscriber fewer.
    Unsubscribe { channel: String },
}

/// What the task knows of one channel.
#[derive(Debug, Default)]
struct Tracked {
    /// Local subscribers.
    refs: usize,
    /// The position read right after subscribing (None: no metadata yet).
    baseline: Option<StreamPosition>,
    /// The position of the last publication delivered.
    delivered: Option<StreamPosition>,
}

impl Tracked {
    /// Where a resync after a reconnect starts.
    fn resume_from(&self) -> Option<StreamPosition> {
        match (self.delivered, self.baseline) {
            (Some(delivered), Some(baseline))
                if delivered.epoch == baseline.epoch && baseline.offset > delivered.offset =>
            {
                Some(baseline)
            }
            (Some(delivered), _) => Some(delivered),
            (None, baseline) => baseline,
        }
    }
}

/// Why a connection's loop ended.
enum Ended {
    /// The connection failed; reconnect.
    Lost,
    /// Every broker handle is gone; stop.
    Shutdown,
}

struct Task {
    client: redis::Client,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<BrokerEvent>,
    interest: mpsc::UnboundedReceiver<Interest>,
    channels: HashMap<String, Tracked>,
    probes_sent: u64,
    probes_seen: u64,
}

/// Connects the pub/sub connection and starts its task.
pub(crate) async fn spawn(
    client: redis::Client,
    shared: Arc<Shared>,
) -> Result<
    (
        mpsc::UnboundedSender<Interest>,
        mpsc::UnboundedReceiver<BrokerEvent>,
    ),
    RedisEngineError,
> {
    let (interest_sender, interest) = mpsc::unbounded_channel();
    let (events, event_receiver) = mpsc::unbounded_channel();
    let mut task = Task {
        client,
        shared,
        events,
        interest,
        channels: HashMap::new(),
        probes_sent: 0,
        probes_seen: 0,
    };
    let connection = task.connect().await?;
    tokio::spawn(task.run(connection));
    Ok((interest_sender, event_receiver))
}

impl Task {
    fn command_timeout(&self) -> Duration {
        self.shared.config.command_timeout
    }

    /// Opens the pub/sub connection and subscribes the service and
    /// control channels and every channel with local subscribers.
    async fn connect(&mut self) -> Result<(PubSubSink, PubSubStream), RedisEngineError> {
        let limit = self.command_timeout();
        let pubsub = timeout(limit, self.client.get_async_pubsub())
            .await
            .map_err(|_| timed_out("connecting the pub/sub connection"))??;
        let (mut sink, stream) = pubsub.split();
        let keys = &self.shared.keys;
        let own = [
            keys.node_channel(&self.shared.config.node_id),
            keys.control_channel(),
        ];
        timeout(limit, sink.subscribe(&own[..]))
            .await
            .map_err(|_| timed_out("SUBSCRIBE"))??;
        let names: Vec<String> = self.channels.keys().map(|name| keys.pubsub(name)).collect();
        for batch in names.chunks(self.shared.config.subscribe_batch.max(1)) {
            timeout(limit, sink.subscribe(batch))
                .await
                .map_err(|_| timed_out("SUBSCRIBE"))??;
        }
        // A fresh connection starts a fresh probe sequence.
        self.probes_seen = self.probes_sent;
        Ok((sink, stream))
    }

    async fn run(mut self, first: (PubSubSink, PubSubStream)) {
        let mut connection = Some(first);
        let mut delay = self.shared.config.reconnect_min;
        loop {
            let (sink, stream) = match connection.take() {
                Some(connected) => connected,
                None => match self.connect().await {
                    Ok(connected) => {
                        if let Err(error) = self.resync().await {
                            tracing::warn!(%error, "resync after a Redis reconnect failed");
                            continue;
                        }
                        connected
                    }
                    Err(error) => {
                        tracing::warn!(%error, ?delay, "Redis pub/sub reconnect failed");
                        if let Ended::Shutdown = self.wait_disconnected(delay).await {
                            return;
                        }
                        delay = (delay * 2).min(self.shared.config.reconnect_max);
                        continue;
                    }
                },
            };
            delay = self.shared.config.reconnect_min;
            self.set_health(true);
            let ended = self.serve(sink, stream).await;
            self.set_health(false);
            if let Ended::Shutdown = ended {
                return;
            }
            if let Ended::Shutdown = self.wait_disconnected(delay).await {
                return;
            }
        }
    }

    fn set_health(&self, healthy: bool) {
        let before = self.shared.healthy.swap(healthy, Ordering::AcqRel);
        if before != healthy {
            let _ = self.events.send(BrokerEvent::Health(healthy));
        }
    }

    /// Waits `delay` before the next attempt, refusing subscriptions
    /// meanwhile (they could not be confirmed).
    async fn wait_disconnected(&mut self, delay: Duration) -> Ended {
        let wake = sleep(delay);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => return Ended::Lost,
                interest = self.interest.recv() => match interest {
                    None => return Ended::Shutdown,
                    Some(Interest::Subscribe { done, .. }) => {
                        let _ = done.send(Err(RedisEngineError::PubSubDown));
                    }
                    Some(Interest::Unsubscribe { channel }) => {
                        self.release(&channel);
                    }
                },
            }
        }
    }

    /// One fewer local subscriber; true when it was the last.
    fn release(&mut self, channel: &str) -> bool {
        let Some(tracked) = self.channels.get_mut(channel) else {
            return false;
        };
        tracked.refs = tracked.refs.saturating_sub(1);
        if tracked.refs == 0 {
            self.channels.remove(channel);
            self.shared.untrack(channel);
            return true;
        }
        false
    }

    /// Serves one connection until it fails or the broker is dropped.
    async fn serve(&mut self, mut sink: PubSubSink, mut stream: PubSubStream) -> Ended {
        let mut probe = tokio::time::interval(self.shared.config.probe_interval);
        probe.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => self.on_message(&message),
                    None => {
                        tracing::warn!("the Redis pub/sub connection closed");
                        return Ended::Lost;
                    }
                },
                interest = self.interest.recv() => match interest {
                    None => return Ended::Shutdown,
                    Some(first) => {
                        if let Err(error) = self.on_interest(&mut sink, first).await {
                            tracing::warn!(%error, "Redis SUBSCRIBE failed");
                            return Ended::Lost;
                        }
                    }
                },
                _ = probe.tick() => {
                    if self.probes_seen < self.probes_sent {
                        tracing::warn!("the pub/sub liveness probe did not come back: reconnecting");
                        return Ended::Lost;
                    }
                    if let Err(error) = self.send_probe().await {
                        tracing::warn!(%error, "the pub/sub liveness probe could not be sent");
                        return Ended::Lost;
                    }
                },
            }
        }
    }

    async fn send_probe(&mut self) -> Result<(), RedisEngineError> {
        self.probes_sent += 1;
        let channel = self.shared.keys.node_channel(&self.shared.config.node_id);
        let mut commands = self.shared.commands.clone();
        let _: i64 = commands
            .publish(channel, format!("probe:{}", self.probes_sent))
            .await?;
        Ok(())
    }

    /// Applies every interest change waiting, with one SUBSCRIBE and one
    /// UNSUBSCRIBE per batch.
    async fn on_interest(
        &mut self,
        sink: &mut PubSubSink,
        first: Interest,
    ) -> Result<(), RedisEngineError> {
        let mut changes = vec![first];
        while let Ok(more) = self.interest.try_recv() {
            changes.push(more);
        }
        let mut subscribe = Vec::new();
        let mut unsubscribe = Vec::new();
        let mut waiting = Vec::new();
        for change in changes {
            match change {
                Interest::Subscribe { channel, done } => {
                    let tracked = self.channels.entry(channel.clone()).or_default();
                    tracked.refs += 1;
                    if tracked.refs == 1 {
                        subscribe.push(channel.clone());
                    }
                    waiting.push((channel, done));
                }
                Interest::Unsubscribe { channel } => {
                    if self.release(&channel) {
                        unsubscribe.push(channel);
                    }
                }
            }
        }
        let result = self.apply(sink, &subscribe, &unsubscribe).await;
        for (channel, done) in waiting {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(_) => {
                    // Not counted: the caller saw the subscription fail.
                    self.release(&channel);
                    Err(RedisEngineError::PubSubDown)
                }
            };
            let _ = done.send(answer);
        }
        result
    }

    async fn apply(
        &mut self,
        sink: &mut PubSubSink,
        subscribe: &[String],
        unsubscribe: &[String],
    ) -> Result<(), RedisEngineError> {
        let limit = self.command_timeout();
        let batch = self.shared.config.subscribe_batch.max(1);
        let keys = &self.shared.keys;
        for channels in subscribe.chunks(batch) {
            let names: Vec<String> = channels.iter().map(|name| keys.pubsub(name)).collect();
            timeout(limit, sink.subscribe(&names))
                .await
                .map_err(|_| timed_out("SUBSCRIBE"))??;
        }
        for channels in unsubscribe.chunks(batch) {
            let names: Vec<String> = channels.iter().map(|name| keys.pubsub(name)).collect();
            timeout(limit, sink.unsubscribe(&names))
                .await
                .map_err(|_| timed_out("UNSUBSCRIBE"))??;
        }
        if !subscribe.is_empty() {
            let positions = self.positions(subscribe).await?;
            for (channel, position) in subscribe.iter().zip(positions) {
                if let Some(tracked) = self.channels.get_mut(channel) {
                    tracked.baseline = position;
                    self.shared.track(channel, position);
                }
            }
        }
        Ok(())
    }

    /// The current positions of `channels` (None where the metadata is
    /// missing), in one round trip; nothing is created.
    async fn positions(
        &self,
        channels: &[String],
    ) -> Result<Vec<Option<StreamPosition>>, RedisEngineError> {
        let mut pipe = redis::pipe();
        for channel in channels {
            pipe.cmd("HMGET")
                .arg(self.shared.keys.meta(channel))
                .arg("e")
                .arg("t");
        }
        let mut commands = self.shared.commands.clone();
        let replies: Vec<(Option<String>, Option<u64>)> = pipe.query_async(&mut commands).await?;
        Ok(replies
            .into_iter()
            .map(|(epoch, top)| {
                let epoch = Epoch::parse(&epoch?)?;
                Some(StreamPosition::new(top.unwrap_or(0), epoch))
            })
            .collect())
    }

    /// After a reconnect: checks every channel against its stream's top,
    /// delivering what was missed or reporting a gap.
    async fn resync(&mut self) -> Result<(), RedisEngineError> {
        let names: Vec<String> = self.channels.keys().cloned().collect();
        for batch in names.chunks(self.shared.config.subscribe_batch.max(1)) {
            let positions = self.positions(batch).await?;
            for (channel, current) in batch.iter().zip(positions) {
                self.resync_channel(channel, current).await?;
            }
        }
        Ok(())
    }

    async fn resync_channel(
        &mut self,
        channel: &str,
        current: Option<StreamPosition>,
    ) -> Result<(), RedisEngineError> {
        let Some(tracked) = self.channels.get(channel) else {
            return Ok(());
        };
        let known = tracked.resume_from();
        let name: Arc<str> = channel.into();
        let Some(current) = current else {
            if known.is_some() {
                // The metadata is gone: the old epoch's offsets mean nothing.
                self.gap(&name, StreamPosition::default());
            }
            return Ok(());
        };
        // Metadata created after the subscription started at offset 0.
        let from = known.unwrap_or(StreamPosition::new(0, current.epoch));
        if from == current {
            return Ok(());
        }
        let history = HistoryOptions {
            size: usize::MAX / 2,
            ttl: Duration::ZERO,
        };
        let max = self.shared.config.resync_max_publications;
        let (position, recovery) = self.shared.recover(channel, from, history, max).await?;
        match recovery {
            Recovery::Recovered(publications) => {
                for publication in publications {
                    let at = StreamPosition::new(publication.offset, position.epoch);
                    self.deliver(&name, publication, at);
                }
            }
            Recovery::NotRecovered => self.gap(&name, position),
        }
        Ok(())
    }

    fn gap(&mut self, channel: &Arc<str>, position: StreamPosition) {
        if let Some(tracked) = self.channels.get_mut(&**channel) {
            tracked.delivered = Some(position);
            tracked.baseline = None;
        }
        let _ = self.events.send(BrokerEvent::Gap {
            channel: channel.clone(),
            position,
        });
    }

    /// Delivers a publication unless it was delivered already; reports a
    /// gap when offsets jump or the epoch changed.
    fn deliver(&mut self, channel: &Arc<str>, publication: Publication, position: StreamPosition) {
        if position.offset == 0 {
            let _ = self.events.send(BrokerEvent::Publication {
                channel: channel.clone(),
                publication,
                position,
            });
            return;
        }
        let Some(tracked) = self.channels.get_mut(&**channel) else {
            return;
        };
        let reference = tracked.delivered.or(tracked.baseline);
        if let Some(last) = reference {
            if last.epoch != position.epoch && !last.epoch.is_empty() {
                self.gap(channel, position);
                return;
            }
            if let Some(delivered) = tracked.delivered {
                if position.offset <= delivered.offset {
                    return;
                }
                if position.offset > delivered.offset + 1 {
                    self.gap(channel, position);
                    return;
                }
            }
        }
        tracked.delivered = Some(position);
        self.shared.saw(channel, position);
        let _ = self.events.send(BrokerEvent::Publication {
            channel: channel.clone(),
            publication,
            position,
        });
    }

    fn on_message(&mut self, message: &redis::Msg) {
        let name = message.get_channel_name();
        let payload = message.get_payload_bytes();
        let keys = &self.shared.keys;
        if let Some(channel) = keys.channel_of(name) {
            let channel: Arc<str> = channel.into();
            match codec::decode_channel_message(payload) {
                Some(ChannelMessage::Publication(publication, position)) => {
                    self.deliver(&channel, publication, position)
                }
                Some(ChannelMessage::Join(info)) => {
                    let _ = self.events.send(BrokerEvent::Join { channel, info });
                }
                Some(ChannelMessage::Leave(info)) => {
                    let _ = self.events.send(BrokerEvent::Leave { channel, info });
                }
                None => tracing::warn!(channel = %channel, "an undecodable pub/sub message"),
            }
        } else if name == keys.control_channel() {
            match serde_json::from_slice::<ControlMessage>(payload) {
                Ok(control) => {
                    let _ = self.events.send(BrokerEvent::Control(control));
                }
                Err(error) => tracing::warn!(%error, "an undecodable control message"),
            }
        } else if let Some(sequence) = std::str::from_utf8(payload)
            .ok()
            .and_then(|text| text.strip_prefix("probe:"))
            .and_then(|number| number.parse::<u64>().ok())
        {
            self.probes_seen = self.probes_seen.max(sequence);
        }
    }
}

fn timed_out(what: &str) -> RedisEngineError {
    RedisEngineError::Unavailable(redis::RedisError::from((
        redis::ErrorKind::IoError,
        "timed out",
        what.to_owned(),
    )))
}
