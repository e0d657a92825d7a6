//! One pub/sub benchmark connection: the WebSocket (the sans-I/O
//! `switchboard_proto::Connection`, driven directly as in echo mode) with a
//! protocol [`Client`] on top. Opening waits until the server confirms the
//! subscription (or the publisher's connection); then the subscriber loop
//! checks every delivery, and the publisher loop publishes at its rate.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use switchboard_proto::{Connection, Event, Message};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::bench::load::{read_once, ReadChunk};
use crate::bench::pubsub::checker::Verdict;
use crate::bench::pubsub::options::Protocol;
use crate::bench::pubsub::payload::Header;
use crate::bench::pubsub::protocol::Client;
use crate::bench::pubsub::shared::{Shared, Stage};
use crate::bench::ws;

/// Slices handed to one vectored write.
const MAX_WRITE_SLICES: usize = 64;
/// Longest wait for the server to confirm a connection or subscription.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a publisher checks what it owes.
const PUBLISH_TICK: Duration = Duration::from_millis(1);
/// Publications one tick may catch up on at most, so that a stalled
/// publisher resumes at its rate instead of bursting its whole backlog.
const MAX_CATCH_UP: u64 = 1000;
/// A publisher whose server stops reading does not queue without bound:
/// past this many unwritten bytes it skips ticks (the report shows the
/// publication rate actually achieved).
const MAX_UNWRITTEN: usize = 4 << 20;

/// What a connection does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role<'a> {
    /// Subscribes to this channel.
    Subscriber(&'a str),
    /// Publishes.
    Publisher,
}

/// An open connection whose setup the server confirmed.
pub(crate) struct PubSubConnection {
    stream: TcpStream,
    connection: Connection,
    client: Box<dyn Client>,
    out: Vec<Message>,
    read_chunk: ReadChunk,
}

/// Opens connection number `index` and sets it up for `role`.
pub(crate) async fn open(
    uri: &http::Uri,
    addr: SocketAddr,
    protocol: Protocol,
    index: usize,
    role: Role<'_>,
    payload_size: usize,
) -> anyhow::Result<PubSubConnection> {
    let (stream, connection) = ws::connect_with(uri, addr, protocol.subprotocol()).await?;
    let mut client = protocol.client(index);
    let mut out = Vec::new();
    match role {
        Role::Subscriber(channel) => client.start_subscriber(channel, &mut out),
        Role::Publisher => client.start_publisher(&mut out),
    }
    // Room for a few publications per read, with protocol overhead.
    let frame = payload_size + 256;
    let mut open = PubSubConnection {
        stream,
        connection,
        client,
        out,
        read_chunk: ReadChunk {
            usual: (4 * frame).clamp(4096, 64 * 1024),
            frame,
        },
    };
    tokio::time::timeout(SETUP_TIMEOUT, open.until_ready())
        .await
        .with_context(|| {
            format!("the server did not confirm the {role:?} setup within {SETUP_TIMEOUT:?}")
        })??;
    Ok(open)
}

impl PubSubConnection {
    async fn until_ready(&mut self) -> anyhow::Result<()> {
        loop {
            self.queue_out()?;
            self.write_pending()?;
            if self.client.is_ready() {
                return Ok(());
            }
            if !self.read_ready().await? {
                continue;
            }
            // Nothing is published before every subscriber is ready.
            self.process(&mut |_| {})?;
        }
    }

    /// Waits for readability (and writability while bytes are pending) and
    /// reads once; `false` when nothing was read.
    async fn read_ready(&mut self) -> anyhow::Result<bool> {
        let interest = if self.connection.transmit_len() > 0 {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let ready = self.stream.ready(interest).await?;
        if !ready.is_readable() {
            return Ok(false);
        }
        match read_once(&self.stream, &mut self.connection, self.read_chunk) {
            Ok(0) => bail!("the server closed the TCP connection"),
            Ok(_) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Hands every complete message received to the protocol client.
    fn process(&mut self, deliver: &mut dyn FnMut(&[u8])) -> anyhow::Result<()> {
        loop {
            let event = self
                .connection
                .poll_event()
                .context("the server broke the WebSocket protocol")?;
            let (message, text) = match &event {
                None => return Ok(()),
                Some(Event::Message(Message::Binary(bytes))) => (&bytes[..], false),
                Some(Event::Message(Message::Text(text))) => (text.as_bytes(), true),
                // Pings are answered by the connection itself.
                Some(Event::Message(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Event::Message(Message::Close(frame))) => {
                    bail!("the server closed the WebSocket connection ({frame:?})")
                }
                Some(Event::Chunk(_)) => {
                    bail!("received a fragment although whole messages were configured (a bug)")
                }
            };
            self.client.receive(message, text, &mut self.out, deliver)?;
        }
    }

    /// Moves the protocol's outgoing messages into the WebSocket.
    fn queue_out(&mut self) -> anyhow::Result<()> {
        for message in self.out.drain(..) {
            self.connection
                .send(message)
                .context("queueing a message on the WebSocket connection")?;
        }
        Ok(())
    }

    /// Writes as much as the socket takes right now.
    fn write_pending(&mut self) -> io::Result<()> {
        while self.connection.transmit_len() > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
            let filled = self.connection.transmit_slices(&mut slices);
            match self.stream.try_write_vectored(&slices[..filled]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.connection.advance_transmit(written),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Receives and checks deliveries for subscriber `subscriber` until
    /// the connection fails or the task is aborted.
    pub(crate) async fn run_subscriber(
        mut self,
        subscriber: usize,
        shared: &Shared,
    ) -> anyhow::Result<()> {
        loop {
            self.queue_out()?;
            self.write_pending()?;
            if !self.read_ready().await? {
                continue;
            }
            let arrived = shared.nanos_since_start(Instant::now());
            let measuring = shared.stage.get() == Stage::Measure;
            let mut check = shared.checks[subscriber].borrow_mut();
            self.process(&mut |payload| {
                let header = match shared.pattern.parse(payload) {
                    Ok(header) => header,
                    Err(_) => return check.record_corrupt(),
                };
                if let Verdict::InOrder | Verdict::Late = check.record(&header) {
                    shared.record_delivery(measuring, arrived.saturating_sub(header.sent_nanos));
                }
            })?;
        }
    }

    /// Publishes at `rate` per second, to every channel in turn, until the
    /// measurement ends; then keeps answering the server until aborted.
    pub(crate) async fn run_publisher(
        mut self,
        publisher: u16,
        rate: f64,
        shared: &Shared,
    ) -> anyhow::Result<()> {
        let channels = shared.channel_names.len();
        let started = Instant::now();
        let mut next_tick = tokio::time::Instant::now();
        let mut owed_from = 0u64;
        let mut next_channel = usize::from(publisher) % channels;
        let mut payload = Vec::with_capacity(shared.pattern.size());
        loop {
            let publishing = shared.stage.get() <= Stage::Measure;
            let now = tokio::time::Instant::now();
            if publishing && now >= next_tick {
                // A late tick is not made up by ticking faster: `owed` catches up.
                next_tick = (next_tick + PUBLISH_TICK).max(now);
                let due = (started.elapsed().as_secs_f64() * rate) as u64;
                let mut owed = due.saturating_sub(owed_from).min(MAX_CATCH_UP);
                owed_from = due;
                if self.connection.transmit_len() > MAX_UNWRITTEN {
                    owed = 0;
                }
                let measuring = shared.stage.get() == Stage::Measure;
                for _ in 0..owed {
                    let sequence = shared.next_sequence(publisher, next_channel, measuring);
                    let header = Header {
                        publisher,
                        channel: next_channel as u32,
                        sequence,
                        sent_nanos: shared.nanos_since_start(Instant::now()),
                    };
                    payload.clear();
                    shared.pattern.write_to(&header, &mut payload);
                    self.client.publish(
                        &shared.channel_names[next_channel],
                        &payload,
                        &mut self.out,
                    );
                    next_channel = (next_channel + 1) % channels;
                }
            }
            self.queue_out()?;
            self.write_pending()?;
            let read = if publishing {
                match tokio::time::timeout_at(next_tick, self.read_ready()).await {
                    Ok(read) => read?,
                    Err(_tick_due) => false,
                }
            } else {
                self.read_ready().await?
            };
            if read {
                // A publisher subscribes to nothing: deliveries are ignored.
                self.process(&mut |_| {})?;
                shared.set_publish_errors(usize::from(publisher), self.client.publish_errors());
            }
        }
    }
}
