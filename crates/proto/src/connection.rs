//! The sans-I/O connection state machine for an open WebSocket.
//!
//! API CONTRACT (fixed; the driver in `crates/switchboard` is written
//! against it). Bodies are being implemented.

use std::io::IoSlice;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::{
    CloseFrame, Config, DataKind, Error, Event, Extension, Limits, Message, Role, SendError,
};

/// Where the close handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
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
#[derive(Debug)]
pub struct Connection {
    _private: (),
}

impl Connection {
    /// A connection in the given role with default [`Limits`].
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_limits(role, config, Limits::default())
    }

    /// A connection with explicit limits.
    pub fn with_limits(role: Role, config: Config, limits: Limits) -> Self {
        let _ = (role, config, limits);
        todo!()
    }

    /// Plugs in the extension negotiated during the handshake.
    pub fn set_extension(&mut self, extension: Box<dyn Extension>) {
        let _ = extension;
        todo!()
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        todo!()
    }

    /// The behaviour settings.
    pub fn config(&self) -> &Config {
        todo!()
    }

    /// The safety limits.
    pub fn limits(&self) -> &Limits {
        todo!()
    }

    /// Close-handshake state.
    pub fn state(&self) -> State {
        todo!()
    }

    // ----------------------------------------------------------------- input

    /// The receive buffer. The driver appends bytes read from the transport
    /// (e.g. `AsyncReadExt::read_buf`), then calls [`Connection::poll_event`].
    /// Payloads are split off this buffer without copying.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        todo!()
    }

    /// Copies `data` into the receive buffer (tests and simple drivers).
    pub fn receive(&mut self, data: &[u8]) {
        self.read_buf().extend_from_slice(data);
    }

    /// Tells the connection that bytes arrived at `now`; resets the idle and
    /// keepalive timers.
    pub fn record_activity(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// Decodes the next event from the receive buffer. `Ok(None)` means more
    /// bytes are needed. Pings are answered and a peer's close is echoed
    /// automatically (queued in the transmit buffer) before the event is
    /// returned. On `Err`, the connection has queued a close frame with the
    /// error's code where the protocol allows one and is
    /// [`State::Closed`]; later calls return `Ok(None)`.
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        todo!()
    }

    /// The transport reached end of stream. Returns `Ok(())` if the close
    /// handshake had completed (a clean close), or
    /// [`Error::AbnormalClosure`] otherwise.
    pub fn receive_eof(&mut self) -> Result<(), Error> {
        todo!()
    }

    // ---------------------------------------------------------------- output

    /// Queues a message. Text and binary go through the extension and are
    /// split per `Config::max_outgoing_frame_size`; `Close` starts the close
    /// handshake (same as [`Connection::close`]).
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        let _ = message;
        todo!()
    }

    /// Queues one piece of a streamed data message; `first`/`fin` as in
    /// [`crate::Fragment`]. Control frames may be sent between pieces.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Result<(), SendError> {
        let _ = (kind, payload, first, fin);
        todo!()
    }

    /// Starts the close handshake by queueing a close frame (`None`: no
    /// status code). Idempotent once closing.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), SendError> {
        let _ = frame;
        todo!()
    }

    /// Bytes waiting in the transmit buffer.
    pub fn transmit_len(&self) -> usize {
        todo!()
    }

    /// Fills `dst` with slices of the transmit buffer, in order, for one
    /// vectored write; returns how many were filled.
    pub fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let _ = dst;
        todo!()
    }

    /// Drops `n` written bytes from the front of the transmit buffer.
    pub fn advance_transmit(&mut self, n: usize) {
        let _ = n;
        todo!()
    }

    // ------------------------------------------------------------------ time

    /// When [`Connection::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Runs timers due at `now`: queues a keepalive ping, or fails with a
    /// keepalive, idle or close timeout.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let _ = now;
        todo!()
    }

    // ----------------------------------------------------------------- state

    /// Whether the driver should close the transport once the transmit
    /// buffer is empty: the server after the close handshake (RFC 6455 §7.1.1
    /// says the server closes TCP first), either role after a failure or a
    /// close timeout. A client waits for the server to close.
    pub fn should_close_transport(&self) -> bool {
        todo!()
    }

    /// The close frame the peer sent, once received.
    pub fn peer_close(&self) -> Option<&Option<CloseFrame>> {
        todo!()
    }
}
