//! The sans-I/O connection state machine for an open WebSocket.
//!
//! The public API is a fixed contract: the driver in `crates/switchboard` is
//! written against it. The work is split by direction:
//!
//! - `receive`: frame decoding, reassembly or streaming, UTF-8, control
//!   frames, the peer's side of the close handshake, failure handling;
//! - `transmit`: the transmit queue, masking, fragmentation, our side of the
//!   close handshake;
//! - `timers`: keepalive, idle and close-handshake deadlines on driver time.
//!
//! # Driving a connection
//!
//! 1. Call [`Connection::record_activity`] once when the connection opens,
//!    and whenever bytes arrive: the timers start from the first call (this
//!    crate never reads a clock).
//! 2. Read into [`Connection::receive_space`] when it lends room, or else
//!    into a buffer of [`RECEIVE_CHUNK`] bytes handed over with
//!    [`Connection::receive`]; then call [`Connection::poll_event`] until it
//!    returns `Ok(None)`. When the transport has nothing to read, call
//!    [`Connection::receive_idle`].
//! 3. Write [`Connection::transmit_slices`] with one vectored write and
//!    report progress with [`Connection::advance_transmit`].
//! 4. Sleep until [`Connection::poll_timeout`] and then call
//!    [`Connection::handle_timeout`]. Calls that start a close take the time
//!    ([`Connection::close`]), and [`Connection::close_deadline`] bounds the
//!    rest of the wind-down.
//! 5. Close the transport when [`Connection::should_close_transport`] says so
//!    and the transmit buffer is empty; report the end of stream with
//!    [`Connection::receive_eof`].

mod budget;
mod read_buffer;
mod receive;
mod timers;
mod transmit;

#[cfg(test)]
mod tests;

use std::io::IoSlice;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::stats::Counters;
use crate::{
    CloseFrame, Config, DataKind, Error, Event, Extension, Limits, Message, Role, SendError,
    Settings, Stats,
};

pub use read_buffer::RECEIVE_CHUNK;

use read_buffer::ReadSizing;
use receive::Incoming;
use timers::Timers;
use transmit::{MaskKeys, Outgoing, PongBacklog, TransmitQueue};

/// Where the close handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    ///
    /// Data the peer sent before it saw our close is still delivered: text
    /// and binary messages (and streamed fragments) that arrive now are
    /// checked and reported like in [`State::Open`], so nothing the peer
    /// sent is lost. RFC 6455 §5.5.1 only forbids *sending* data after a
    /// close frame. A message still incomplete when the peer's close
    /// arrives is dropped. Pings are still answered automatically (RFC 6455
    /// §5.5.2 releases an endpoint from answering only once it *received* a
    /// close frame, and §5.5.1 forbids only data frames after ours), so such
    /// a pong follows our close frame on the wire. The application can send
    /// nothing more.
    CloseSent,
    /// The peer sent a close frame; ours (the echo) is queued or sent.
    /// Nothing more will be received.
    CloseReceived,
    /// Both close frames were exchanged, or the connection failed. The
    /// transport may be closed once the transmit buffer is drained (see
    /// [`Connection::should_close_transport`]).
    Closed,
}

/// One WebSocket connection after the opening handshake: frame codec,
/// reassembly, UTF-8 checks, control frames, close handshake, keepalive
/// timers and the transmit buffer. No sockets, no async, no clock.
///
/// See the [module documentation](self) for the driving loop.
///
/// # Timer contract
///
/// The connection never reads a clock; the driver is its clock.
///
/// - Call [`Connection::record_activity`]`(now)` once when the connection
///   opens: keepalive and idle timers count from that first time, and
///   before it (or a first [`Connection::handle_timeout`])
///   [`Connection::poll_timeout`] returns `None`. Call it again whenever
///   bytes arrive.
/// - [`Connection::close`] takes `now`: the close timer starts there, and
///   [`Connection::close_deadline`] says when the close is given up.
/// - Ask [`Connection::poll_timeout`] again after every call that changes
///   state (received bytes, sends, [`Connection::handle_timeout`]): the
///   deadline moves.
///
/// # Automatic pongs under a ping flood
///
/// Every ping is answered with a pong queued in the transmit buffer before
/// the ping's event is returned, so a driver that writes the buffer after
/// each read answers every ping (Autobahn 2.10/2.11 expect that). A peer
/// that keeps sending pings but never reads must not grow that buffer
/// without bound, so at most 16 automatic pongs wait unwritten at a time.
/// A ping that arrives while 16 are waiting is answered by a single held
/// pong carrying the payload of the *most recent* such ping; it is queued
/// as soon as one of the waiting pongs has been written (or just before
/// a close frame). RFC 6455 §5.5.3 allows answering only the most recent
/// ping when several are pending. Every ping is still reported as an
/// event. Pongs sent with [`Connection::send`] are not affected. The same
/// bound holds after our close frame, when pings are still answered (see
/// [`State::CloseSent`]); after the peer's close none are.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    /// Shared with the other connections built from the same settings.
    settings: Arc<Settings>,
    extension: Option<Box<dyn Extension>>,
    state: State,
    /// The connection failed (protocol error, limit, timeout): nothing more
    /// is received or sent except the close frame already queued.
    failed: bool,
    /// The transport reported end of stream.
    eof: bool,
    /// We queued a close frame (ours or the echo).
    close_sent: bool,
    /// The peer's close frame, once received. Boxed: it arrives at most
    /// once, and inline it cost every open connection 56 bytes.
    peer_close: Option<Box<PeerClose>>,
    read_buf: BytesMut,
    /// What the reads have learned about frame sizes.
    sizing: ReadSizing,
    incoming: Incoming,
    outgoing: Outgoing,
    transmit: TransmitQueue,
    /// Allocated while automatic pongs are unwritten or held, released
    /// once they are all written: idle connections do not pay for it.
    pongs: Option<Box<PongBacklog>>,
    masks: MaskKeys,
    timers: Timers,
    counters: Counters,
    /// What the receive side holds charged to `Limits::memory_budget`.
    charges: budget::Charges,
}

/// The peer's close frame and our answer to it.
#[derive(Debug)]
struct PeerClose {
    /// The frame as received (`None`: it had no status code).
    frame: Option<CloseFrame>,
    /// Transmit-stream position just past our close echo; once written, the
    /// state moves from `CloseReceived` to `Closed`. `None` when our own
    /// close went out first.
    echo_end: Option<u64>,
}

impl Connection {
    /// A connection in the given role with default [`Limits`].
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_limits(role, config, Limits::default())
    }

    /// A connection with explicit limits.
    pub fn with_limits(role: Role, config: Config, limits: Limits) -> Self {
        Self::with_settings(role, Arc::new(Settings::new(config, limits)))
    }

    /// A connection that shares `settings` with others: servers build every
    /// accepted connection from one `Arc` so that the settings are stored
    /// once, not per connection.
    pub fn with_settings(role: Role, settings: Arc<Settings>) -> Self {
        Connection {
            role,
            settings,
            extension: None,
            state: State::Open,
            failed: false,
            eof: false,
            close_sent: false,
            peer_close: None,
            read_buf: BytesMut::new(),
            sizing: ReadSizing::default(),
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            transmit: TransmitQueue::default(),
            pongs: None,
            masks: MaskKeys::new(),
            timers: Timers::default(),
            counters: Counters::default(),
            charges: budget::Charges::default(),
        }
    }

    /// Plugs in the extension negotiated during the handshake.
    pub fn set_extension(&mut self, extension: Box<dyn Extension>) {
        self.extension = Some(extension);
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The behaviour settings.
    pub fn config(&self) -> &Config {
        &self.settings.config
    }

    /// The safety limits.
    pub fn limits(&self) -> &Limits {
        &self.settings.limits
    }

    /// The settings this connection shares with others built from them.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// Close-handshake state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Data messages received and sent so far, how many of them went
    /// through the extension (compressed) each way, and wire bytes sent.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot(self.transmit.queued())
    }

    // ----------------------------------------------------------------- input

    /// Tells the connection that bytes arrived at `now`; resets the idle
    /// timer and the received side of the keepalive timer (a ping is also
    /// due when nothing has been *sent* for `Config::ping_interval`). Any
    /// bytes count as the answer to a keepalive ping.
    pub fn record_activity(&mut self, now: Instant) {
        self.timers.record_activity(now);
    }

    /// Decodes the next event from the receive buffer. `Ok(None)` means more
    /// bytes are needed. Pings are answered and a peer's close is echoed
    /// automatically (queued in the transmit buffer) before the event is
    /// returned. On `Err`, the connection has queued a close frame with the
    /// error's code where the protocol allows one and is
    /// [`State::Closed`]; later calls return `Ok(None)`.
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        self.poll_event_inner()
    }

    /// The transport reached end of stream. Returns `Ok(())` if the close
    /// handshake had completed (a clean close), or
    /// [`Error::AbnormalClosure`] otherwise.
    ///
    /// "Completed" means the peer's close frame was received (ours is then
    /// queued or sent as well).
    pub fn receive_eof(&mut self) -> Result<(), Error> {
        self.eof = true;
        self.state = State::Closed;
        self.drop_read_buf();
        self.incoming = Incoming::default();
        if self.peer_close.is_some() {
            Ok(())
        } else {
            Err(Error::AbnormalClosure)
        }
    }

    // ---------------------------------------------------------------- output

    /// Queues a message. Text and binary go through the extension and are
    /// split per `Config::max_outgoing_frame_size`; `Close` starts the close
    /// handshake like [`Connection::close`] at the latest time the driver
    /// passed in (prefer [`Connection::close`], which takes the time).
    ///
    /// # Panics
    ///
    /// A client panics if the operating system's random number generator
    /// fails (needed for mask keys, RFC 6455 §5.3); on supported platforms it
    /// does not fail once the system has booted.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.send_message(message)
    }

    /// Queues one piece of a streamed data message; `first`/`fin` as in
    /// [`crate::Chunk`]. Control frames may be sent between pieces.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Result<(), SendError> {
        self.send_piece(kind, payload, first, fin)
    }

    /// Starts the close handshake at `now` by queueing a close frame
    /// (`None`: no status code); the close timer starts then (see
    /// [`Connection::close_deadline`]). Idempotent once closing.
    pub fn close(&mut self, now: Instant, frame: Option<CloseFrame>) -> Result<(), SendError> {
        self.start_close(Some(now), frame)
    }

    /// Bytes waiting in the transmit buffer.
    pub fn transmit_len(&self) -> usize {
        self.transmit.len()
    }

    /// Fills `dst` with slices of the transmit buffer, in order, for one
    /// vectored write; returns how many were filled.
    pub fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.transmit.slices(dst)
    }

    /// Gives back the transmit buffer's memory when everything queued has
    /// been written. The buffer is kept between writes while the
    /// connection is busy (a drained buffer is reused for the next frames);
    /// a driver calls this when the connection goes idle, so that an idle
    /// connection holds no buffer. [`Connection::receive_idle`] calls it.
    pub fn transmit_idle(&mut self) {
        self.transmit.release_if_drained();
    }

    /// Drops `n` written bytes from the front of the transmit buffer.
    /// `n` larger than [`Connection::transmit_len`] drains everything.
    pub fn advance_transmit(&mut self, n: usize) {
        self.transmit.advance(n);
        self.pongs_written();
        if self.state == State::CloseReceived
            && self
                .peer_close
                .as_ref()
                .and_then(|close| close.echo_end)
                .is_some_and(|end| self.transmit.written() >= end)
        {
            self.state = State::Closed;
        }
    }

    // ------------------------------------------------------------------ time

    /// When [`Connection::handle_timeout`] must next be called, if ever.
    ///
    /// Timers run on the times the driver passes in; before the first
    /// [`Connection::record_activity`] or [`Connection::handle_timeout`]
    /// there is no deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    /// Runs timers due at `now`: queues a keepalive ping, or fails with a
    /// keepalive, idle or close timeout.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.run_timers(now)
    }

    /// When the close is given up, once one started (our
    /// [`Connection::close`], the peer's close frame, or a failure):
    /// `Config::close_timeout` after its start. While waiting for the
    /// peer's close frame [`Connection::poll_timeout`] returns it too; a
    /// driver also bounds by it what proto cannot see: flushing the last
    /// frames, closing the transport, and waiting for the peer's end of
    /// stream (after a failure, or as a client after the handshake).
    pub fn close_deadline(&self) -> Option<Instant> {
        self.close_deadline_inner()
    }

    // ----------------------------------------------------------------- state

    /// Whether the driver should close the transport once the transmit
    /// buffer is empty: the server after the close handshake (RFC 6455 §7.1.1
    /// says the server closes TCP first), either role after a failure or a
    /// close timeout. A client waits for the server to close.
    pub fn should_close_transport(&self) -> bool {
        if self.failed || self.eof {
            return true;
        }
        match self.role {
            // RFC 6455 §7.1.1: the server SHOULD close the TCP connection
            // first, once the close handshake is complete.
            Role::Server => self.peer_close.is_some() && self.close_sent,
            Role::Client => false,
        }
    }

    /// The close frame the peer sent, once received.
    pub fn peer_close(&self) -> Option<crate::ReceivedClose<'_>> {
        self.peer_close
            .as_deref()
            .map(|close| (&close.frame).into())
    }

    /// Whether the connection failed (protocol error, limit or timeout).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Ends the connection after `error`: queues a close frame with the
    /// error's code (if we have not sent one and the code may go on the
    /// wire) and stops receiving.
    fn fail(&mut self, error: &Error) {
        let code = error.close_code();
        if !self.close_sent && self.state == State::Open {
            let frame = code
                .is_valid_on_wire()
                .then(|| CloseFrame::new(code, crate::Utf8Bytes::new()));
            self.queue_close_frame(frame.as_ref());
            self.close_sent = true;
        }
        self.failed = true;
        self.state = State::Closed;
        // The failure came from bytes just recorded or a timer just run.
        self.timers.close_started(self.timers.now());
        // Nothing more is decoded: the buffer's memory goes back now, not
        // when the driver stops lingering for the peer's end of stream.
        self.drop_read_buf();
        self.incoming = Incoming::default();
        self.release_message_charge();
    }
}
