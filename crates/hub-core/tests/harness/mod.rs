//! A two-ended, socket-free harness: one node and several sessions whose
//! frames are exchanged in memory on a virtual clock, like quinn-proto's
//! test pairs. The hub side does what the tokio runtime does (run actions
//! against the node, encode pushes once per format, fan out through
//! bounded outbound queues); the client side decodes every reply.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::history::Recovery;
use switchboard_hub_core::node::SubscribeOutcome;
use switchboard_hub_core::outbound::{OutboundLimits, OutboundQueue};
use switchboard_hub_core::session::{
    encode_join_push, encode_leave_push, encode_publication_push, Action, LiveDelivery,
};
use switchboard_hub_core::wire::{self, Command, Format, Reply};
use switchboard_hub_core::{HubError, Node, NodeConfig, Session, SessionId, Settings};

/// One thing a client saw on a channel, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewEvent {
    /// A publication (live or recovered) with its offset.
    Publication(u64),
    /// A subscribe reply.
    Subscribed {
        /// The client asked to recover.
        recovering: bool,
        /// The server recovered it.
        recovered: bool,
        /// The position's offset in the reply.
        offset: u64,
    },
}

/// What one client saw of one channel.
#[derive(Debug, Default, Clone)]
pub struct ChannelView {
    /// Offsets of publications received (live or recovered), in order.
    pub offsets: Vec<u64>,
    /// Payloads of those publications.
    pub payloads: Vec<Bytes>,
    /// The last position known (from replies and publications).
    pub epoch: String,
    /// The last offset known.
    pub offset: u64,
    /// Every subscribe reply's `(was_recovering, recovered)`.
    pub recoveries: Vec<(bool, bool)>,
    /// Join pushes seen (client ids).
    pub joins: Vec<String>,
    /// Leave pushes seen (client ids).
    pub leaves: Vec<String>,
    /// Unsubscribe pushes seen (codes).
    pub unsubscribes: Vec<u32>,
    /// Publications and subscribe replies, in arrival order.
    pub events: Vec<ViewEvent>,
}

/// One simulated client and its server-side session.
pub struct Client {
    pub session: Session,
    pub format: Format,
    pub outbound: OutboundQueue,
    /// Live pushes waiting in the connection's outbound queue.
    pub queue: VecDeque<LiveDelivery>,
    /// Every reply received, in order (pings, replies, pushes).
    pub replies: Vec<Reply>,
    pub channels: HashMap<String, ChannelView>,
    /// Channels of subscribe commands awaiting their reply, by id.
    pub pending_subscribes: HashMap<u32, String>,
    pub next_id: u32,
    pub open: bool,
    /// Answer pings.
    pub auto_pong: bool,
    /// The code the connection was closed with.
    pub closed_with: Option<DisconnectCode>,
}

/// Encodes commands as one WebSocket message of `format`.
pub fn encode_commands(format: Format, commands: &[Command]) -> Vec<u8> {
    let mut out = Vec::new();
    for command in commands {
        match format {
            Format::Json => {
                if !out.is_empty() {
                    out.push(b'\n');
                }
                out.extend(serde_json::to_vec(command).unwrap());
            }
            Format::Protobuf => command.encode_length_delimited(&mut out).unwrap(),
        }
    }
    out
}

/// Decodes one server message into its replies.
pub fn decode_replies(format: Format, message: &[u8]) -> Vec<Reply> {
    match format {
        Format::Json => message
            .split(|byte| *byte == b'\n')
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect(),
        Format::Protobuf => {
            let mut rest = message;
            let mut replies = Vec::new();
            while !rest.is_empty() {
                replies.push(Reply::decode_length_delimited(&mut rest).unwrap());
            }
            replies
        }
    }
}

/// The hub side plus its clients.
pub struct Sim {
    pub settings: Arc<Settings>,
    pub node: Node,
    pub now: Instant,
    pub clients: Vec<Client>,
    epoch_seed: u64,
    /// Defer subscribe actions (to race publications against them).
    pub deferred: Vec<(usize, Action)>,
    pub defer_subscribes: bool,
}

impl Sim {
    pub fn new(config: NodeConfig) -> Self {
        let settings = Settings::new(config).unwrap();
        Self {
            node: Node::new(settings.clone(), 1),
            settings,
            now: Instant::now(),
            clients: Vec::new(),
            epoch_seed: 1,
            deferred: Vec::new(),
            defer_subscribes: false,
        }
    }

    /// Replaces the node with a fresh one (a restart: history lost, new
    /// epochs); every client is dropped.
    pub fn restart_node(&mut self) {
        for index in 0..self.clients.len() {
            self.drop_connection(index);
        }
        self.epoch_seed += 1;
        self.node = Node::new(self.settings.clone(), self.epoch_seed);
    }

    /// Opens a connection (no connect command yet).
    pub fn open(&mut self, format: Format) -> usize {
        let index = self.clients.len();
        let session = Session::new(
            self.settings.clone(),
            format,
            format!("client-{index}"),
            self.now,
        );
        self.clients.push(Client {
            session,
            format,
            outbound: OutboundQueue::new(OutboundLimits::from_config(self.settings.config())),
            queue: VecDeque::new(),
            replies: Vec::new(),
            channels: HashMap::new(),
            pending_subscribes: HashMap::new(),
            next_id: 1,
            open: true,
            auto_pong: true,
            closed_with: None,
        });
        index
    }

    /// Opens a connection and connects; returns the client's index.
    pub fn connect(&mut self, format: Format) -> usize {
        let index = self.open(format);
        let id = self.next_id(index);
        self.send(
            index,
            vec![Command {
                id,
                connect: Some(wire::ConnectRequest::default()),
                ..Command::default()
            }],
        );
        assert!(self.clients[index].session.is_connected());
        index
    }

    pub fn next_id(&mut self, index: usize) -> u32 {
        let client = &mut self.clients[index];
        let id = client.next_id;
        client.next_id += 1;
        id
    }

    /// Sends commands as one message and runs everything they cause.
    pub fn send(&mut self, index: usize, commands: Vec<Command>) {
        for command in &commands {
            if let Some(request) = &command.subscribe {
                self.clients[index]
                    .pending_subscribes
                    .insert(command.id, request.channel.clone());
            }
        }
        let frame = encode_commands(self.clients[index].format, &commands);
        self.send_raw(index, &frame);
    }

    /// Sends raw bytes as one message.
    pub fn send_raw(&mut self, index: usize, frame: &[u8]) {
        if !self.clients[index].open {
            return;
        }
        let now = self.now;
        self.clients[index].session.handle_frame(now, frame);
        self.run(index);
    }

    /// Sends one command and returns the reply to it.
    pub fn request(&mut self, index: usize, mut command: Command) -> Reply {
        let id = self.next_id(index);
        command.id = id;
        let before = self.clients[index].replies.len();
        self.send(index, vec![command]);
        self.clients[index].replies[before..]
            .iter()
            .find(|reply| reply.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("no reply to command {id}"))
    }

    pub fn subscribe_command(channel: &str) -> Command {
        Command {
            subscribe: Some(wire::SubscribeRequest {
                channel: channel.into(),
                ..wire::SubscribeRequest::default()
            }),
            ..Command::default()
        }
    }

    /// Subscribes; resubscribes with recovery when the client has a
    /// position for the channel (as the SDKs do).
    pub fn subscribe(&mut self, index: usize, channel: &str) -> Reply {
        let mut command = Self::subscribe_command(channel);
        if let Some(view) = self.clients[index].channels.get(channel) {
            if !view.epoch.is_empty() {
                let request = command.subscribe.as_mut().unwrap();
                request.recover = true;
                request.epoch = view.epoch.clone();
                request.offset = view.offset;
            }
        }
        self.request(index, command)
    }

    /// Subscribes asking for join and leave pushes (the SDKs' `joinLeave`).
    pub fn subscribe_with_join_leave(&mut self, index: usize, channel: &str) -> Reply {
        let mut command = Self::subscribe_command(channel);
        command.subscribe.as_mut().unwrap().join_leave = true;
        self.request(index, command)
    }

    pub fn unsubscribe(&mut self, index: usize, channel: &str) -> Reply {
        self.request(
            index,
            Command {
                unsubscribe: Some(wire::UnsubscribeRequest {
                    channel: channel.into(),
                }),
                ..Command::default()
            },
        )
    }

    pub fn publish(&mut self, index: usize, channel: &str, data: &str) -> Reply {
        self.request(
            index,
            Command {
                publish: Some(wire::PublishRequest {
                    channel: channel.into(),
                    data: Bytes::copy_from_slice(data.as_bytes()),
                }),
                ..Command::default()
            },
        )
    }

    /// Publishes from the server side (no session), fanning out.
    pub fn server_publish(&mut self, channel: &str, data: &str) -> u64 {
        let now = self.now;
        let outcome = self
            .node
            .publish(now, channel, Bytes::copy_from_slice(data.as_bytes()), None)
            .unwrap();
        let offset = outcome.publication.offset;
        let json = encode_publication_push(Format::Json, channel, &outcome.publication).unwrap();
        let protobuf =
            encode_publication_push(Format::Protobuf, channel, &outcome.publication).unwrap();
        let recipients = outcome.recipients.to_vec();
        let name = outcome.channel.clone();
        self.fan_out(&recipients, &name, offset, &json, &protobuf);
        offset
    }

    /// Appends one push to every recipient's outbound queue (the same
    /// bytes per format), applying the slow-consumer rule.
    fn fan_out(
        &mut self,
        recipients: &[SessionId],
        channel: &Arc<str>,
        offset: u64,
        json: &Bytes,
        protobuf: &Bytes,
    ) {
        for recipient in recipients {
            let index = recipient.0 as usize;
            let client = &mut self.clients[index];
            if !client.open {
                continue;
            }
            let frame = match client.format {
                Format::Json => json.clone(),
                Format::Protobuf => protobuf.clone(),
            };
            match client.outbound.try_push(frame.len()) {
                Ok(()) => client.queue.push_back(LiveDelivery {
                    channel: channel.clone(),
                    offset,
                    frame,
                }),
                Err(_overflow) => {
                    client.closed_with = Some(DisconnectCode::SLOW);
                    self.drop_connection(index);
                }
            }
        }
    }

    fn fan_out_join_leave(
        &mut self,
        channel: &str,
        info: &switchboard_hub_core::presence::ClientInfo,
        join: bool,
    ) {
        let encode = if join {
            encode_join_push
        } else {
            encode_leave_push
        };
        let json = encode(Format::Json, channel, info).unwrap();
        let protobuf = encode(Format::Protobuf, channel, info).unwrap();
        let recipients = self.node.join_leave_recipients(channel).to_vec();
        let name: Arc<str> = channel.into();
        self.fan_out(&recipients, &name, 0, &json, &protobuf);
    }

    /// Runs a session's actions, then writes out what it transmits.
    pub fn run(&mut self, index: usize) {
        while let Some(action) = self.clients[index].session.poll_action() {
            if self.defer_subscribes && matches!(action, Action::Subscribe { .. }) {
                self.deferred.push((index, action));
                continue;
            }
            self.execute(index, action);
        }
        self.flush(index);
    }

    /// Sends a subscribe command (with recovery when the client has a
    /// position) without waiting for a reply.
    pub fn subscribe_command_only(&mut self, index: usize, channel: &str) {
        let mut command = Self::subscribe_command(channel);
        command.id = self.next_id(index);
        if let Some(view) = self.clients[index].channels.get(channel) {
            if !view.epoch.is_empty() {
                let request = command.subscribe.as_mut().unwrap();
                request.recover = true;
                request.epoch = view.epoch.clone();
                request.offset = view.offset;
            }
        }
        self.send(index, vec![command]);
    }

    /// Runs each deferred subscribe action against the node, then `between`
    /// (publications land in queues), and only then reports the outcome to
    /// the session: the window of an engine that answers asynchronously.
    pub fn run_deferred_with(&mut self, mut between: impl FnMut(&mut Sim)) {
        self.defer_subscribes = false;
        for (index, action) in std::mem::take(&mut self.deferred) {
            let Action::Subscribe {
                id,
                channel,
                recover,
                info,
                join_leave,
            } = action
            else {
                continue;
            };
            let now = self.now;
            let session = SessionId(index as u64);
            let result = self.node.subscribe(now, session, &channel, info, recover);
            if join_leave && result.is_ok() {
                self.node.push_join_leave_to(session, &channel);
            }
            between(self);
            // Deliveries queued so far reach the session before its reply.
            while let Some(delivery) = self.clients[index].queue.pop_front() {
                self.clients[index].outbound.pop(delivery.frame.len());
                self.clients[index].session.deliver(&delivery);
            }
            self.clients[index].session.subscribed(id, &channel, result);
            self.run(index);
        }
    }

    /// Runs deferred subscribe actions.
    pub fn run_deferred(&mut self) {
        self.defer_subscribes = false;
        for (index, action) in std::mem::take(&mut self.deferred) {
            self.execute(index, action);
            self.run(index);
        }
    }

    fn execute(&mut self, index: usize, action: Action) {
        let now = self.now;
        let session_id = SessionId(index as u64);
        match action {
            Action::Subscribe {
                id,
                channel,
                recover,
                info,
                join_leave,
            } => {
                let result: Result<SubscribeOutcome, HubError> = self
                    .node
                    .subscribe(now, session_id, &channel, info, recover);
                if join_leave && result.is_ok() {
                    self.node.push_join_leave_to(session_id, &channel);
                }
                let join = result
                    .as_ref()
                    .ok()
                    .and_then(|outcome| outcome.join.clone());
                self.clients[index].session.subscribed(id, &channel, result);
                if let Some(info) = join {
                    self.fan_out_join_leave(&channel, &info, true);
                }
            }
            Action::Unsubscribe { channel } => {
                let outcome = self.node.unsubscribe(now, session_id, &channel);
                if let Some(info) = outcome.leave {
                    self.fan_out_join_leave(&channel, &info, false);
                }
            }
            Action::Publish {
                id,
                channel,
                data,
                info,
            } => {
                let result = self
                    .node
                    .publish(now, &channel, data, Some(info))
                    .map(|outcome| {
                        let json =
                            encode_publication_push(Format::Json, &channel, &outcome.publication)
                                .ok();
                        let protobuf = encode_publication_push(
                            Format::Protobuf,
                            &channel,
                            &outcome.publication,
                        )
                        .unwrap();
                        (
                            outcome.channel.clone(),
                            outcome.publication.offset,
                            outcome.recipients.to_vec(),
                            json,
                            protobuf,
                        )
                    });
                match result {
                    Ok((name, offset, recipients, json, protobuf)) => {
                        let json = json.unwrap_or_default();
                        self.fan_out(&recipients, &name, offset, &json, &protobuf);
                        self.clients[index].session.published(id, Ok(()));
                    }
                    Err(error) => self.clients[index].session.published(id, Err(error)),
                }
            }
            Action::History { id, channel, query } => {
                let result = self.node.history(now, &channel, &query);
                self.clients[index].session.history_loaded(id, result);
            }
            Action::Presence { id, channel } => {
                let result = self.node.presence(&channel);
                self.clients[index].session.presence_loaded(id, result);
            }
            Action::PresenceStats { id, channel } => {
                let result = self.node.presence_stats(&channel);
                self.clients[index]
                    .session
                    .presence_stats_loaded(id, result);
            }
        }
    }

    /// Writes what a session transmits to its client, which decodes it
    /// (and answers pings), then closes the connection if asked.
    pub fn flush(&mut self, index: usize) {
        loop {
            let client = &mut self.clients[index];
            let Some(message) = client.session.poll_transmit() else {
                break;
            };
            let mut pong = false;
            for reply in decode_replies(client.format, &message) {
                pong |= reply == Reply::default();
                observe(&mut client.channels, &mut client.pending_subscribes, &reply);
                client.replies.push(reply);
            }
            if pong && client.auto_pong && client.open {
                let frame = encode_commands(client.format, &[Command::default()]);
                let now = self.now;
                client.session.handle_frame(now, &frame);
            }
        }
        if let Some(code) = self.clients[index].session.poll_disconnect() {
            if self.clients[index].open {
                self.clients[index].closed_with.get_or_insert(code);
                self.drop_connection(index);
            }
        }
    }

    /// The connection is gone: node cleanup and leave pushes.
    pub fn drop_connection(&mut self, index: usize) {
        if !self.clients[index].open {
            return;
        }
        self.clients[index].open = false;
        self.clients[index].queue.clear();
        let now = self.now;
        for leave in self.node.disconnect(now, SessionId(index as u64)) {
            self.fan_out_join_leave(&leave.channel, &leave.info, false);
        }
    }

    /// Reconnects a dropped client with a fresh session, keeping what it
    /// knows of its channels (positions), like an SDK.
    pub fn reconnect(&mut self, index: usize) {
        let format = self.clients[index].format;
        let session = Session::new(
            self.settings.clone(),
            format,
            format!("client-{index}-again"),
            self.now,
        );
        let client = &mut self.clients[index];
        client.session = session;
        client.outbound = OutboundQueue::new(OutboundLimits::from_config(self.settings.config()));
        client.queue.clear();
        client.open = true;
        client.closed_with = None;
        let id = self.next_id(index);
        self.send(
            index,
            vec![Command {
                id,
                connect: Some(wire::ConnectRequest::default()),
                ..Command::default()
            }],
        );
    }

    /// Hands every queued live push to its session and writes the results.
    pub fn pump(&mut self) {
        for index in 0..self.clients.len() {
            self.pump_one(index);
        }
    }

    pub fn pump_one(&mut self, index: usize) {
        while let Some(delivery) = self.clients[index].queue.pop_front() {
            let client = &mut self.clients[index];
            client.outbound.pop(delivery.frame.len());
            client.session.deliver(&delivery);
        }
        self.run(index);
    }

    /// Advances the virtual clock, running every timer due on the way.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = self
                .clients
                .iter()
                .filter(|client| client.open)
                .filter_map(|client| client.session.poll_timeout())
                .chain(self.node.poll_timeout())
                .filter(|at| *at <= end)
                .min();
            let Some(at) = next else {
                break;
            };
            self.now = self.now.max(at);
            let now = self.now;
            self.node.handle_timeout(now);
            for index in 0..self.clients.len() {
                if self.clients[index].open
                    && self.clients[index]
                        .session
                        .poll_timeout()
                        .is_some_and(|due| due <= now)
                {
                    self.clients[index].session.handle_timeout(now);
                    self.run(index);
                }
            }
        }
        self.now = end;
        self.node.handle_timeout(end);
    }

    pub fn view(&self, index: usize, channel: &str) -> ChannelView {
        self.clients[index]
            .channels
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }
}

/// Records what a reply tells the client about its channels.
fn observe(
    channels: &mut HashMap<String, ChannelView>,
    pending_subscribes: &mut HashMap<u32, String>,
    reply: &Reply,
) {
    if reply.id != 0 {
        if let Some(channel) = pending_subscribes.remove(&reply.id) {
            if let Some(result) = &reply.subscribe {
                observe_subscribe(channels.entry(channel).or_default(), result);
            }
        }
    }
    if let Some(push) = &reply.push {
        let view = channels.entry(push.channel.clone()).or_default();
        if let Some(publication) = &push.publication {
            view.offsets.push(publication.offset);
            view.payloads.push(publication.data.clone());
            view.events.push(ViewEvent::Publication(publication.offset));
            if publication.offset > 0 {
                view.offset = publication.offset;
            }
        }
        if let Some(join) = &push.join {
            view.joins
                .push(join.info.clone().unwrap_or_default().client);
        }
        if let Some(leave) = &push.leave {
            view.leaves
                .push(leave.info.clone().unwrap_or_default().client);
        }
        if let Some(unsubscribe) = &push.unsubscribe {
            view.unsubscribes.push(unsubscribe.code);
        }
    }
}

/// Records a subscribe reply in the channel's view.
fn observe_subscribe(view: &mut ChannelView, result: &wire::SubscribeResult) {
    view.recoveries
        .push((result.was_recovering, result.recovered));
    view.events.push(ViewEvent::Subscribed {
        recovering: result.was_recovering,
        recovered: result.recovered,
        offset: result.offset,
    });
    for publication in &result.publications {
        view.events.push(ViewEvent::Publication(publication.offset));
        view.offsets.push(publication.offset);
        view.payloads.push(publication.data.clone());
    }
    if result.positioned || result.recoverable {
        view.epoch = result.epoch.clone();
        view.offset = result.offset;
    }
}

/// The recovery decision as the node made it (for assertions on
/// `SubscribeOutcome`s).
pub fn recovered(outcome: &SubscribeOutcome) -> Option<bool> {
    outcome
        .recovery
        .as_ref()
        .map(|recovery| matches!(recovery, Recovery::Recovered(_)))
}
