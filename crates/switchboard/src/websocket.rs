//! [`WebSocket`]: an open connection over any `AsyncRead + AsyncWrite`.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use switchboard_proto::{
    Chunk, CloseCode, CloseFrame, Config, Connection, DataKind, Event, Limits, Message, Role,
    State, Stats, Utf8Bytes,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::core::Core;
use crate::error::Error;
use crate::split::{self, ReadHalf, WriteHalf};

/// An open WebSocket connection over the transport `S` (a `TcpStream`, a TLS
/// stream, an upgraded hyper connection ...).
///
/// Read with [`recv`](WebSocket::recv) or as a [`Stream`] of
/// `Result<Message, Error>`; write with [`send`](WebSocket::send),
/// [`feed`](WebSocket::feed) + [`flush`](WebSocket::flush), or as a
/// [`Sink<Message>`]. Pings are answered and the peer's close frame is echoed
/// automatically while the application keeps reading (see the crate docs).
///
/// `S` must be `Unpin`; wrap other transports in `Box::pin`.
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(crate) core: Core<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a transport on which the opening handshake has already happened
    /// elsewhere (e.g. a hyper or axum upgrade).
    pub fn from_raw(io: S, role: Role, config: Config, limits: Limits) -> Self {
        Self::from_raw_with_buffered(io, role, config, limits, &[])
    }

    /// Like [`WebSocket::from_raw`], with bytes that were read past the end
    /// of the handshake (hyper's `Upgraded` read buffer, for instance); they
    /// are decoded before anything is read from `io`.
    pub fn from_raw_with_buffered(
        io: S,
        role: Role,
        config: Config,
        limits: Limits,
        buffered: &[u8],
    ) -> Self {
        let mut conn = Connection::with_limits(role, config, limits);
        if !buffered.is_empty() {
            conn.receive(buffered);
        }
        Self::from_connection(io, conn)
    }

    pub(crate) fn from_connection(io: S, conn: Connection) -> Self {
        WebSocket {
            core: Core::new(io, conn),
        }
    }

    // ------------------------------------------------------------- receiving

    /// Receives the next message: text, binary, or a ping/pong/close control
    /// frame (pongs to received pings have already been queued). `None` once
    /// the connection has ended; a clean close yields `Message::Close` first,
    /// an abnormal end yields an [`Error`] first.
    ///
    /// With [`Delivery::Chunks`](crate::Delivery::Chunks) data arrives
    /// in pieces: use [`recv_chunk`](WebSocket::recv_chunk) or
    /// [`recv_event`](WebSocket::recv_event); this method then returns
    /// [`Error::Misuse`] for each piece.
    ///
    /// **Cancel safety:** cancel safe. Bytes read from the transport are
    /// stored in the connection as they arrive, so dropping this future (in a
    /// `select!` branch that lost, or on a timeout) loses nothing: the next
    /// call returns the message intact.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.core.poll_message(cx, None)).await
    }

    /// Receives the next protocol event: a whole message or control frame,
    /// or (with [`Delivery::Chunks`](crate::Delivery::Chunks)) one
    /// piece of a data message.
    ///
    /// **Cancel safety:** cancel safe, as [`recv`](WebSocket::recv).
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.core.poll_event(cx, None)).await
    }

    /// Receives the next piece of a data message, for messages of any size
    /// handled chunk by chunk. Ping and pong frames are skipped (pings are
    /// still answered); a close frame ends the sequence with `None` and is
    /// then available from [`peer_close_frame`](WebSocket::peer_close_frame).
    /// In the default [`Delivery::Messages`](crate::Delivery::Messages) mode
    /// each whole message comes as one piece with `first` and `fin` set.
    ///
    /// **Cancel safety:** cancel safe, as [`recv`](WebSocket::recv).
    pub async fn recv_chunk(&mut self) -> Option<Result<Chunk, Error>> {
        poll_fn(|cx| self.core.poll_chunk(cx, None)).await
    }

    // --------------------------------------------------------------- sending

    /// Sends a message and flushes it (and everything fed before it) to the
    /// transport. Waits first while more than the write buffer limit is
    /// queued (backpressure).
    ///
    /// **Cancel safety:** not cancel safe. If the future is dropped before it
    /// completes, the message may or may not have been queued; if it was, it
    /// goes out with the next write. Use [`feed`](WebSocket::feed) +
    /// [`flush`](WebSocket::flush) to tell the two stages apart.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without flushing, after waiting while more than the
    /// write buffer limit is queued. Many `feed`s followed by one `flush`
    /// go out in one vectored write.
    ///
    /// **Cancel safety:** cancel safe. The message is queued only in the
    /// final, synchronous step: if the future is dropped before completing,
    /// the message was not queued (and is dropped with the future).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_ready(cx, None)).await?;
        self.core.start_send(message)
    }

    /// Writes everything queued to the transport and flushes it.
    ///
    /// **Cancel safety:** cancel safe. Progress is kept in the transmit
    /// buffer; calling `flush` again continues where it stopped.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_flush(cx, None)).await
    }

    /// Sends one piece of a data message without holding the whole message:
    /// `first` on the first piece, `fin` on the last (a one-piece message has
    /// both). Each piece becomes one frame; control frames may go out between
    /// pieces. Waits for the write buffer like [`send`](WebSocket::send), then
    /// flushes.
    ///
    /// **Cancel safety:** as [`send`](WebSocket::send): if dropped, the piece
    /// may or may not have been queued.
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_ready(cx, None)).await?;
        self.core.start_send_fragment(kind, payload, first, fin)?;
        self.flush().await
    }

    // --------------------------------------------------------------- closing

    /// Closes the connection cleanly: sends a close frame with `code` and
    /// `reason` (at most 123 bytes), then keeps reading, discarding any data
    /// that still arrives, until the peer's close frame and the end of the
    /// transport. The server closes TCP first (RFC 6455 §7.1.1); a client
    /// waits for that. Both waits are bounded by `Config::close_timeout`.
    ///
    /// Returns `Ok(())` for a clean close (also when the connection had
    /// already closed cleanly), [`Error::Connection`] with
    /// [`CloseTimeout`](switchboard_proto::Error::CloseTimeout) when the peer
    /// did not answer in time or
    /// [`AbnormalClosure`](switchboard_proto::Error::AbnormalClosure) when
    /// the transport ended first.
    ///
    /// **Cancel safety:** cancel safe. The close frame is queued on the first
    /// poll; calling `close` again resumes the wait (and sends no second
    /// frame).
    pub async fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: impl Into<Utf8Bytes>,
    ) -> Result<(), Error> {
        let frame = CloseFrame::new(code, reason);
        self.core.start_close(Some(frame))?;
        poll_fn(|cx| self.core.poll_close_handshake(cx, None)).await
    }

    /// Closes immediately: queues a close frame (1000), makes one
    /// non-blocking attempt to write it, and shuts down the transport's write
    /// side without waiting for the peer. Later reads return `None`.
    ///
    /// Not `async`: it never waits, so there is nothing to cancel.
    pub fn close_now(&mut self) {
        self.core.close_now();
    }

    // ------------------------------------------------------------- splitting

    /// Splits the socket into a reading half (a [`Stream`]) and a writing
    /// half (a [`Sink`]) that can be used from two tasks at once. See the
    /// crate docs for how automatic replies and locking work when split.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split::split(self.core)
    }

    // ---------------------------------------------------------------- access

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.core.conn.role()
    }

    /// The behaviour settings.
    pub fn config(&self) -> &Config {
        self.core.conn.config()
    }

    /// The safety limits.
    pub fn limits(&self) -> &Limits {
        self.core.conn.limits()
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.core.conn.state()
    }

    /// The close frame the peer sent, once received.
    pub fn peer_close_frame(&self) -> Option<switchboard_proto::ReceivedClose<'_>> {
        self.core.conn.peer_close()
    }

    /// Messages, frames and bytes received and sent so far, and how many
    /// messages were compressed each way (permessage-deflate). See [`Stats`].
    pub fn stats(&self) -> Stats {
        self.core.conn.stats()
    }

    /// Bytes queued but not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.core.conn.transmit_len()
    }

    /// How many queued bytes make [`send`](WebSocket::send) and
    /// [`feed`](WebSocket::feed) wait. Default 128 KiB.
    pub fn write_buffer_limit(&self) -> usize {
        self.core.write_buffer_limit()
    }

    /// Sets [`write_buffer_limit`](WebSocket::write_buffer_limit). One
    /// message is always accepted when nothing is queued, whatever its size.
    /// Limits above 4 GiB are taken as 4 GiB.
    pub fn set_write_buffer_limit(&mut self, limit: usize) {
        self.core.set_write_buffer_limit(limit);
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.core.io
    }

    /// The transport, mutably. Reading or writing through it corrupts the
    /// WebSocket stream; use it for socket options.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.core.io
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().core.poll_message(cx, None)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_ready(cx, None)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().core.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_flush(cx, None)
    }

    /// Queues a close frame (1000) if the connection is open and flushes it.
    /// It does not wait for the peer's answer: keep reading the stream, or
    /// use [`WebSocket::close`] for the full close handshake.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let core = &mut self.get_mut().core;
        core.start_close(Some(CloseFrame::new(CloseCode::NORMAL, Utf8Bytes::new())))?;
        ready!(core.poll_flush(cx, None))?;
        Poll::Ready(Ok(()))
    }
}
