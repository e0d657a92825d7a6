//! [`Engine`]: where channels live: in memory (hub-core's [`Node`] behind
//! one lock), or in Redis ([`RedisEngine`], see the `redis` module), where
//! this process only keeps its own connections' subscriptions.
//!
//! Fan-out happens while the lock is held: a publication gets its offset,
//! is encoded once per format (JSON, Protobuf; and the raw event for
//! `/chat` members), and the same `Bytes` go to every recipient's
//! [`Mailbox`] before the next publication can be numbered, so every
//! mailbox receives a channel's offsets in order. Mailboxes never block
//! (an overflow marks the connection as slow), so a slow client cannot
//! stall a publisher.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::history::Publication;
use switchboard_hub_core::idempotency::{IdempotencyCache, DEFAULT_IDEMPOTENCY_TTL};
use switchboard_hub_core::position::StreamPosition;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::session::{
    encode_join_push, encode_leave_push, encode_publication_push, Action, LiveDelivery,
};
use switchboard_hub_core::wire::{Format, WireError};
use switchboard_hub_core::{HubError, Node, Session, SessionId, Settings};

use switchboard::proto::MemoryBudget;

use crate::mailbox::{ChatEvent, Delivery, Mailbox, OverBudget, Recipient};
use crate::metrics::Metrics;

mod api;
mod error;
mod redis;
mod server_api;

pub(crate) use error::EngineError;
pub use redis::RedisOptions;
pub(crate) use redis::{NodeName, RedisEngine};
pub(crate) use server_api::{EngineStats, PublishResult, Target};

/// The engine of a hub.
// One per process, inside the hub's `Arc`: boxing the memory engine would
// only add a pointer hop to its hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Engine {
    /// Every channel in this process's memory.
    Memory(MemoryEngine),
    /// Channels, history and presence in Redis, shared by every node.
    Redis(RedisEngine),
}

impl Engine {
    /// An in-memory engine; `epoch_seed` should be fresh randomness so
    /// that a restarted server's streams get new epochs.
    pub(crate) fn memory(settings: Arc<Settings>, epoch_seed: u64) -> Self {
        Engine::Memory(MemoryEngine {
            state: Mutex::new(MemoryState {
                node: Node::new(settings, epoch_seed),
                mailboxes: HashMap::new(),
                clients: HashMap::new(),
                idempotency: IdempotencyCache::new(DEFAULT_IDEMPOTENCY_TTL),
            }),
            common: Common::new(),
        })
    }

    /// Charges every mailbox registered from now on to `budget`; pushes it
    /// cannot take shed the largest queues (3008).
    pub(crate) fn use_memory_budget(&self, budget: MemoryBudget) {
        let _ = self.common().budget.set(budget);
    }

    /// The hub's running totals for `/metrics`.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.common().metrics
    }

    fn common(&self) -> &Common {
        match self {
            Engine::Memory(engine) => &engine.common,
            Engine::Redis(engine) => engine.common(),
        }
    }

    /// The Redis engine, when this hub runs on Redis.
    pub(crate) fn as_redis(&self) -> Option<&RedisEngine> {
        match self {
            Engine::Memory(_) => None,
            Engine::Redis(engine) => Some(engine),
        }
    }

    /// Registers a connection's mailbox and returns its session id.
    pub(crate) fn register(&self, mailbox: Arc<Mailbox>) -> SessionId {
        let id = self.common().register(&mailbox);
        match self {
            Engine::Memory(engine) => {
                engine.lock().mailboxes.insert(id, mailbox);
            }
            Engine::Redis(engine) => engine.register(id, mailbox),
        }
        id
    }

    /// Runs one of `session`'s actions against the memory engine and
    /// reports the outcome to it. The Redis engine's actions are
    /// asynchronous: see [`RedisEngine::execute`] (the session loop picks
    /// the engine with [`Engine::as_redis`]).
    pub(crate) fn execute(
        &self,
        now: Instant,
        id: SessionId,
        session: &mut Session,
        action: Action,
    ) {
        let Engine::Memory(engine) = self else {
            // The session loop runs Redis actions through `as_redis`.
            return;
        };
        let mut state = engine.lock();
        let MemoryState {
            node, mailboxes, ..
        } = &mut *state;
        match action {
            Action::Subscribe {
                id: command,
                channel,
                recover,
                info,
                join_leave,
            } => {
                let result = node.subscribe(now, id, &channel, info, recover);
                if join_leave && result.is_ok() {
                    node.push_join_leave_to(id, &channel);
                }
                let join = result
                    .as_ref()
                    .ok()
                    .and_then(|outcome| outcome.join.clone());
                session.subscribed(command, &channel, result);
                if let Some(info) = join {
                    presence_event(node, mailboxes, &channel, &info, Presence::Join);
                }
            }
            Action::Unsubscribe { channel } => {
                let outcome = node.unsubscribe(now, id, &channel);
                if let Some(info) = outcome.leave {
                    presence_event(node, mailboxes, &channel, &info, Presence::Leave);
                }
            }
            Action::Publish {
                id: command,
                channel,
                data,
                info,
            } => {
                let result = publish(node, mailboxes, now, &channel, data, Some(info));
                session.published(command, result.map(|_| ()));
            }
            Action::History {
                id: command,
                channel,
                query,
            } => session.history_loaded(command, node.history(now, &channel, &query)),
            Action::Presence {
                id: command,
                channel,
            } => session.presence_loaded(command, node.presence(&channel)),
            Action::PresenceStats {
                id: command,
                channel,
            } => session.presence_stats_loaded(command, node.presence_stats(&channel)),
        }
    }

    /// Subscribes a raw `/chat` member to `channel` (no recovery, no
    /// reply: the member only receives the channel's events).
    pub(crate) fn subscribe_member(
        &self,
        now: Instant,
        id: SessionId,
        channel: &str,
        info: Arc<ClientInfo>,
    ) -> Result<(), HubError> {
        let engine = match self {
            Engine::Memory(engine) => engine,
            Engine::Redis(engine) => return engine.subscribe_member(id, channel, info),
        };
        let mut state = engine.lock();
        let MemoryState {
            node, mailboxes, ..
        } = &mut *state;
        let outcome = node.subscribe(now, id, channel, info, None)?;
        // The room shows who comes and goes (superchat's join and leave).
        node.push_join_leave_to(id, channel);
        if let Some(info) = outcome.join {
            presence_event(node, mailboxes, channel, &info, Presence::Join);
        }
        Ok(())
    }

    /// Publishes from the server side (a raw `/chat` member's message):
    /// numbered, kept in history and fanned out like a client's.
    pub(crate) fn publish(
        &self,
        now: Instant,
        channel: &str,
        data: Bytes,
        info: Option<Arc<ClientInfo>>,
    ) -> Result<(), HubError> {
        let engine = match self {
            Engine::Memory(engine) => engine,
            Engine::Redis(engine) => return engine.publish_member(channel, data, info),
        };
        let mut state = engine.lock();
        let MemoryState {
            node, mailboxes, ..
        } = &mut *state;
        publish(node, mailboxes, now, channel, data, info).map(|_| ())
    }

    /// The connection of `id` is gone: its subscriptions and presence end
    /// and the remaining subscribers get the leave events.
    pub(crate) fn disconnect(&self, now: Instant, id: SessionId) {
        let engine = match self {
            Engine::Memory(engine) => engine,
            Engine::Redis(engine) => return engine.disconnect(id),
        };
        let mut state = engine.lock();
        let MemoryState {
            node,
            mailboxes,
            clients,
            ..
        } = &mut *state;
        mailboxes.remove(&id);
        clients.remove(&id);
        for leave in node.disconnect(now, id) {
            presence_event(
                node,
                mailboxes,
                &leave.channel,
                &leave.info,
                Presence::Leave,
            );
        }
    }

    /// Expires history due at `now`; returns when to call again.
    pub(crate) fn handle_timeout(&self, now: Instant) -> Option<Instant> {
        // Redis expires its keys itself.
        let Engine::Memory(engine) = self else {
            return None;
        };
        let mut state = engine.lock();
        state.node.handle_timeout(now);
        state.node.poll_timeout()
    }
}

/// What every engine keeps the same way: session ids, the metrics and the
/// memory budget of mailboxes.
#[derive(Debug)]
pub(crate) struct Common {
    next_session: AtomicU64,
    metrics: Metrics,
    /// The node's memory budget for mailboxes (`HubConfig::memory_budget`).
    budget: std::sync::OnceLock<MemoryBudget>,
}

impl Common {
    fn new() -> Self {
        Common {
            next_session: AtomicU64::new(1),
            metrics: Metrics::new(),
            budget: std::sync::OnceLock::new(),
        }
    }

    /// A fresh session id; charges `mailbox` to the budget.
    fn register(&self, mailbox: &Mailbox) -> SessionId {
        let id = SessionId(self.next_session.fetch_add(1, Ordering::Relaxed));
        if let Some(budget) = self.budget.get() {
            mailbox.use_budget(budget.clone());
        }
        id
    }
}

/// The in-memory engine's state.
#[derive(Debug)]
pub(crate) struct MemoryEngine {
    state: Mutex<MemoryState>,
    common: Common,
}

impl MemoryEngine {
    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        // The node's invariants are kept by each call as a whole; a panic
        // inside one is a bug that poisoning would only turn into a crash
        // of every later connection.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug)]
struct MemoryState {
    node: Node,
    mailboxes: HashMap<SessionId, Arc<Mailbox>>,
    /// Connected Centrifugo sessions and who they are: the server API
    /// finds a user's connections here.
    clients: HashMap<SessionId, Arc<ClientInfo>>,
    /// Results of server API publishes with an idempotency key.
    idempotency: IdempotencyCache<PublishResult>,
}

/// One push, encoded once per format the recipients need: a format no
/// recipient speaks (Protobuf, usually) is never encoded, nor is anything
/// for a channel without subscribers.
struct Encoded<'a> {
    channel: Arc<str>,
    offset: u64,
    encode: &'a dyn Fn(Format) -> Result<Bytes, WireError>,
    json: OnceCell<Result<Bytes, WireError>>,
    protobuf: OnceCell<Result<Bytes, WireError>>,
    chat: ChatEvent,
}

impl<'a> Encoded<'a> {
    fn new(
        channel: Arc<str>,
        offset: u64,
        encode: &'a dyn Fn(Format) -> Result<Bytes, WireError>,
        chat: ChatEvent,
    ) -> Self {
        Encoded {
            channel,
            offset,
            encode,
            json: OnceCell::new(),
            protobuf: OnceCell::new(),
            chat,
        }
    }

    /// The push in `format`, encoded on first use.
    fn frame(&self, format: Format) -> &Result<Bytes, WireError> {
        let cell = match format {
            Format::Json => &self.json,
            Format::Protobuf => &self.protobuf,
        };
        cell.get_or_init(|| (self.encode)(format))
    }
}

/// Publishes and fans out; the caller holds the node lock. Returns the
/// channel's position after the publish (when it keeps history).
fn publish(
    node: &mut Node,
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    now: Instant,
    channel: &str,
    data: Bytes,
    info: Option<Arc<ClientInfo>>,
) -> Result<Option<StreamPosition>, HubError> {
    let outcome = node.publish(now, channel, data, info)?;
    let encode = |format| encode_publication_push(format, channel, &outcome.publication);
    let Publication { offset, data, info } = &outcome.publication;
    let chat = ChatEvent::Message(data.clone(), info.clone());
    let encoded = Encoded::new(outcome.channel.clone(), *offset, &encode, chat);
    fan_out(mailboxes, outcome.recipients, &encoded);
    Ok(outcome.position)
}

#[derive(Debug, Clone, Copy)]
enum Presence {
    Join,
    Leave,
}

/// Pushes a join or leave event to `channel`'s subscribers.
fn presence_event(
    node: &Node,
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    channel: &str,
    info: &Arc<ClientInfo>,
    presence: Presence,
) {
    let recipients = node.join_leave_recipients(channel);
    presence_push(mailboxes, recipients, channel, info, presence);
}

/// Pushes a join or leave event to `recipients`.
fn presence_push(
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    recipients: &[SessionId],
    channel: &str,
    info: &Arc<ClientInfo>,
    presence: Presence,
) {
    if recipients.is_empty() {
        return;
    }
    let (encode_push, chat): (fn(Format, &str, &ClientInfo) -> _, _) = match presence {
        Presence::Join => (encode_join_push, ChatEvent::Join(info.clone())),
        Presence::Leave => (encode_leave_push, ChatEvent::Leave(info.clone())),
    };
    let encode = |format| encode_push(format, channel, info);
    let encoded = Encoded::new(channel.into(), 0, &encode, chat);
    fan_out(mailboxes, recipients, &encoded);
}

/// Hands the same bytes to every recipient's mailbox. A recipient whose
/// format cannot carry the push (a JSON client and binary data) is closed
/// with 3506 "inappropriate protocol", as Centrifugo does. The recipients'
/// tasks are woken after the runtime's next I/O poll (see
/// [`crate::wake_batch`]), so that the pushes of the publishers read on
/// that poll leave in the same writes.
fn fan_out(
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    recipients: &[SessionId],
    encoded: &Encoded,
) {
    crate::wake_batch::collect(|| fan_out_now(mailboxes, recipients, encoded));
}

/// Recipients whose mailboxes are looked up before any is pushed to.
const LOOKUP_AHEAD: usize = 16;

/// [`fan_out`]'s queueing.
///
/// Each recipient costs two cache misses before its push (the map's
/// entry, then the mailbox), and under fan-out nearly every recipient
/// misses. Looking a chunk of them up first, in a loop whose iterations
/// do not depend on each other, lets the processor wait for those misses
/// together instead of one push at a time.
fn fan_out_now(
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    recipients: &[SessionId],
    encoded: &Encoded,
) {
    for chunk in recipients.chunks(LOOKUP_AHEAD) {
        let mut found: [Option<(&Mailbox, Recipient)>; LOOKUP_AHEAD] = [None; LOOKUP_AHEAD];
        for (slot, recipient) in found.iter_mut().zip(chunk) {
            *slot = mailboxes
                .get(recipient)
                .map(|mailbox| (&**mailbox, mailbox.recipient()));
        }
        for (mailbox, recipient) in found.into_iter().flatten() {
            queue_for(mailboxes, mailbox, recipient, encoded);
        }
    }
}

/// Queues `encoded` for one recipient, in what it needs.
fn queue_for(
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    mailbox: &Mailbox,
    recipient: Recipient,
    encoded: &Encoded,
) {
    let format = match recipient {
        Recipient::Chat => {
            push_or_shed(mailboxes, mailbox, Delivery::Chat(encoded.chat.clone()));
            return;
        }
        Recipient::Hub(format) => format,
    };
    match encoded.frame(format) {
        Ok(frame) => push_or_shed(
            mailboxes,
            mailbox,
            Delivery::Hub(LiveDelivery {
                channel: encoded.channel.clone(),
                offset: encoded.offset,
                frame: frame.clone(),
            }),
        ),
        Err(error) => {
            tracing::debug!(%error, "a push this client's format cannot carry");
            mailbox.close(DisconnectCode::INAPPROPRIATE_PROTOCOL);
        }
    }
}

/// Queues `delivery` for `mailbox`; when the memory budget cannot take
/// it, sheds the largest queues (3008 "slow", the clients reconnect and
/// recover) until it can, and as a last resort `mailbox` itself.
fn push_or_shed(
    mailboxes: &HashMap<SessionId, Arc<Mailbox>>,
    mailbox: &Mailbox,
    delivery: Delivery,
) {
    let Err(OverBudget(delivery)) = mailbox.push(delivery) else {
        return;
    };
    let needed = delivery.len();
    let mut largest: Vec<(usize, &Arc<Mailbox>)> = mailboxes
        .values()
        .map(|other| (other.charged_bytes(), other))
        .filter(|(charged, _)| *charged > 0)
        .collect();
    largest.sort_unstable_by_key(|(charged, _)| std::cmp::Reverse(*charged));
    let mut freed = 0;
    for (_, other) in largest {
        freed += other.shed();
        // Shed at least what the push needs, and at least one queue.
        if freed >= needed {
            break;
        }
    }
    if mailbox.push(delivery).is_err() {
        mailbox.shed();
    }
}
