//! The poll-based engine shared by [`WebSocket`](crate::WebSocket) and the
//! split halves: one transport, one protocol [`Connection`], one timer.
//!
//! Every method takes the task's `cx` for reads and an optional `aux` waker
//! for writes and timers. Unsplit, `aux` is `None` and everything registers
//! on `cx`. Split, the reader and the writer are different tasks that may
//! both write (the reader flushes automatic pongs); `aux` then wakes both, so
//! neither task can steal the other's write-readiness wakeup.

use std::task::{ready, Context, Poll, Waker};
use std::time::Instant;

use switchboard_proto::{
    self as proto, Chunk, CloseFrame, Connection, DataKind, Event, Message, State,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Error;
use crate::timer::{self, Timer};
use crate::transport;

/// Default for [`Core::write_buffer_limit`]: 128 KiB queued before `send`
/// waits. Enough for a burst of small messages to go out in one write,
/// small enough that a slow reader cannot make us hold much.
pub(crate) const DEFAULT_WRITE_BUFFER_LIMIT: usize = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Running,
    /// An error has been reported; input is drained until EOF or the
    /// wind-down deadline so that closing does not reset the connection.
    Lingering,
    /// The stream has ended.
    Done {
        clean: bool,
    },
}

/// What a connection tracks only while it closes or after it failed.
#[derive(Debug, Default)]
struct Closing {
    /// A failure whose close frame is still being flushed before it is
    /// reported.
    failure: Option<Error>,
}

#[derive(Debug)]
pub(crate) struct Core<S> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    /// In bytes; a `u32` packs beside the small fields below (every
    /// connection holds the core).
    write_buffer_limit: u32,
    timer: Timer,
    end: End,
    /// Exists once the connection is closing or has failed. Boxed: every
    /// open connection carries the slot, and inline it cost 40 bytes.
    closing: Option<Box<Closing>>,
    shutdown_done: bool,
}

/// Runs `f` with the aux waker's context when there is one.
fn with_aux<R>(
    cx: &mut Context<'_>,
    aux: Option<&Waker>,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    match aux {
        Some(waker) => f(&mut Context::from_waker(waker)),
        None => f(cx),
    }
}

impl<S> Core<S> {
    /// How many queued bytes make a send wait.
    pub(crate) fn write_buffer_limit(&self) -> usize {
        usize::try_from(self.write_buffer_limit).unwrap_or(usize::MAX)
    }

    /// Sets [`Core::write_buffer_limit`]: at least 1, and at most 4 GiB.
    pub(crate) fn set_write_buffer_limit(&mut self, limit: usize) {
        self.write_buffer_limit = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Core<S> {
    pub(crate) fn new(io: S, mut conn: Connection) -> Self {
        // The core's timers start from the first activity it is told about.
        conn.record_activity(timer::now());
        Core {
            io,
            conn,
            write_buffer_limit: DEFAULT_WRITE_BUFFER_LIMIT as u32,
            timer: Timer::default(),
            end: End::Running,
            closing: None,
            shutdown_done: false,
        }
    }

    /// Whether the stream has ended after a clean close handshake.
    pub(crate) fn ended_cleanly(&self) -> bool {
        self.end == End::Done { clean: true }
    }

    // ------------------------------------------------------------- reading

    /// The next event. Flushes automatic replies (pongs, close echo) and
    /// runs the timers whenever no complete event is buffered.
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Option<Result<Event, Error>>> {
        loop {
            match self.end {
                End::Done { .. } => return Poll::Ready(None),
                End::Lingering => {
                    ready!(self.poll_linger(cx, aux));
                    self.end = End::Done { clean: false };
                    return Poll::Ready(None);
                }
                End::Running => {}
            }
            if self.has_failed() {
                ready!(self.poll_wind_down(cx, aux));
                self.end = End::Lingering;
                let failure = self.closing.as_mut().and_then(|c| c.failure.take());
                return Poll::Ready(failure.map(Err));
            }
            match self.conn.poll_event() {
                Ok(Some(event)) => {
                    if matches!(event, Event::Message(Message::Ping(_) | Message::Close(_))) {
                        // Best effort, so the pong or close echo leaves even
                        // if the application stops reading after this event.
                        self.flush_replies(cx, aux);
                    }
                    return Poll::Ready(Some(Ok(event)));
                }
                Ok(None) => {}
                Err(e) => {
                    self.fail(e.into());
                    continue;
                }
            }
            if self.conn.state() == State::Closed {
                let result = ready!(self.poll_finish(cx, aux));
                self.end = End::Done {
                    clean: result.is_ok(),
                };
                return Poll::Ready(result.err().map(Err));
            }
            // No complete event buffered: send what the decoded batch queued
            // (pongs, close echo) in one write before waiting for input.
            if self.conn.transmit_len() > 0 {
                self.flush_replies(cx, aux);
            }
            match transport::poll_read_into(&mut self.io, &mut self.conn, cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(self.on_eof().map(Err)),
                Poll::Ready(Ok(_)) => self.conn.record_activity(timer::now()),
                Poll::Ready(Err(e)) => {
                    self.end = End::Done { clean: false };
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Pending => {
                    self.conn.receive_idle();
                    match self.poll_timers(cx, aux) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => self.fail(e.into()),
                    }
                }
            }
        }
    }

    /// The next whole message (the `Stream` item).
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Option<Result<Message, Error>>> {
        Poll::Ready(ready!(self.poll_event(cx, aux)).map(|event| match event? {
            Event::Message(message) => Ok(message),
            Event::Chunk(_) => Err(Error::Misuse(crate::Misuse::RecvWithChunkedDelivery)),
        }))
    }

    /// The next piece of a data message; control frames are skipped.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Option<Result<Chunk, Error>>> {
        loop {
            let fragment = match ready!(self.poll_event(cx, aux)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(Event::Chunk(fragment))) => fragment,
                Some(Ok(Event::Message(Message::Text(text)))) => Chunk {
                    kind: DataKind::Text,
                    payload: text.into_bytes(),
                    first: true,
                    fin: true,
                },
                Some(Ok(Event::Message(Message::Binary(payload)))) => Chunk {
                    kind: DataKind::Binary,
                    payload,
                    first: true,
                    fin: true,
                },
                Some(Ok(Event::Message(_))) => continue,
            };
            return Poll::Ready(Some(Ok(fragment)));
        }
    }

    /// Writes queued replies from the read path without waiting. A write
    /// error does not end reading: the peer may have closed its side after
    /// sending frames (its close frame among them) that are still to be
    /// read, and whether the connection ended cleanly is decided by those.
    /// The unsendable bytes are dropped; the application's next send
    /// reports the broken transport.
    fn flush_replies(&mut self, cx: &mut Context<'_>, aux: Option<&Waker>) {
        let flushed = with_aux(cx, aux, |c| {
            transport::poll_write_all(&mut self.io, &mut self.conn, c)
        });
        if let Poll::Ready(Err(error)) = flushed {
            tracing::debug!(%error, "dropping unsendable replies; reading on");
            self.conn.advance_transmit(self.conn.transmit_len());
        }
    }

    /// The transport ended. `None` when that completes a clean close.
    fn on_eof(&mut self) -> Option<Error> {
        match self.conn.receive_eof() {
            Ok(()) => {
                // Best effort: the peer may have half-closed and still read.
                let waker = Waker::noop();
                let mut cx = Context::from_waker(waker);
                let _ = transport::poll_write_all(&mut self.io, &mut self.conn, &mut cx);
                self.end = End::Done { clean: true };
                None
            }
            Err(e) => {
                self.end = End::Done { clean: false };
                Some(e.into())
            }
        }
    }

    /// Records a failure; the connection core has queued the close frame.
    fn fail(&mut self, error: Error) {
        tracing::debug!(%error, "websocket failed");
        self.closing_mut().failure = Some(error);
    }

    /// A failure is waiting to be reported.
    fn has_failed(&self) -> bool {
        self.closing.as_ref().is_some_and(|c| c.failure.is_some())
    }

    fn closing_mut(&mut self) -> &mut Closing {
        self.closing.get_or_insert_with(Box::default)
    }

    /// Bounds flushing a failure's close frame, lingering, and waiting for
    /// the peer's EOF after the close handshake: the core's close deadline
    /// (it started the close timer with the call that started the close).
    fn wind_down_deadline(&self) -> Instant {
        // Every close starts with a time (the core was told the time when
        // it opened), so the fallback only ends a wind-down at once.
        self.conn.close_deadline().unwrap_or_else(timer::now)
    }

    /// After a failure: flush the close frame and close the transport,
    /// bounded by the close timeout.
    fn poll_wind_down(&mut self, cx: &mut Context<'_>, aux: Option<&Waker>) -> Poll<()> {
        let deadline = self.wind_down_deadline();
        let flushed = with_aux(cx, aux, |c| {
            transport::poll_write_all(&mut self.io, &mut self.conn, c)
        });
        match flushed {
            Poll::Ready(Err(_)) => {
                // The peer is gone; there is nobody to tell.
                self.shutdown_done = true;
                return Poll::Ready(());
            }
            Poll::Pending => {
                return with_aux(cx, aux, |c| self.timer.poll_until(c, deadline));
            }
            Poll::Ready(Ok(())) => {}
        }
        if !self.shutdown_done {
            let io = &mut self.io;
            match with_aux(cx, aux, |c| std::pin::Pin::new(io).poll_shutdown(c)) {
                Poll::Ready(_) => self.shutdown_done = true,
                Poll::Pending => {
                    return with_aux(cx, aux, |c| self.timer.poll_until(c, deadline));
                }
            }
        }
        Poll::Ready(())
    }

    /// After an error was reported: read and discard until the peer's EOF
    /// (or the deadline), so the peer sees our close rather than a reset.
    fn poll_linger(&mut self, cx: &mut Context<'_>, aux: Option<&Waker>) -> Poll<()> {
        let deadline = self.wind_down_deadline();
        loop {
            match transport::poll_read_discard(&mut self.io, cx) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => {
                    if timer::now() >= deadline {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending => {
                    return with_aux(cx, aux, |c| self.timer.poll_until(c, deadline));
                }
            }
        }
    }

    /// The close handshake is complete: flush the echo, then the server
    /// closes the transport (RFC 6455 §7.1.1: the server closes TCP first)
    /// and the client waits for the server's EOF, both bounded by the close
    /// timeout.
    fn poll_finish(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Result<(), Error>> {
        let deadline = self.wind_down_deadline();
        match with_aux(cx, aux, |c| {
            transport::poll_write_all(&mut self.io, &mut self.conn, c)
        }) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
            Poll::Pending => {
                ready!(with_aux(cx, aux, |c| self.timer.poll_until(c, deadline)));
                return Poll::Ready(Err(Error::Connection(proto::Error::CloseTimeout(
                    self.conn.config().close_timeout,
                ))));
            }
        }
        if self.conn.should_close_transport() && !self.shutdown_done {
            let io = &mut self.io;
            match with_aux(cx, aux, |c| std::pin::Pin::new(io).poll_shutdown(c)) {
                Poll::Ready(_) => self.shutdown_done = true,
                Poll::Pending => {
                    ready!(with_aux(cx, aux, |c| self.timer.poll_until(c, deadline)));
                    self.shutdown_done = true;
                }
            }
        }
        if self.shutdown_done {
            return Poll::Ready(Ok(()));
        }
        // The core did not ask us to close the transport: a client waits
        // for the server to close it (RFC 6455 §7.1.1).
        loop {
            match transport::poll_read_discard(&mut self.io, cx) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => break,
                Poll::Ready(Ok(_)) => {
                    if timer::now() >= deadline {
                        break;
                    }
                }
                Poll::Pending => {
                    ready!(with_aux(cx, aux, |c| self.timer.poll_until(c, deadline)));
                    break;
                }
            }
        }
        // The handshake itself completed, so an EOF that never came (or a
        // reset at the very end) does not make the close unclean.
        let _ = self.conn.receive_eof();
        if !self.shutdown_done {
            let waker = Waker::noop();
            let mut noop = Context::from_waker(waker);
            let _ = std::pin::Pin::new(&mut self.io).poll_shutdown(&mut noop);
            self.shutdown_done = true;
        }
        Poll::Ready(Ok(()))
    }

    /// Runs the protocol timers. `Ready(Ok)` when a timer fired and queued
    /// something (a keepalive ping) that the caller should flush; `Pending`
    /// with the waker registered for the next deadline otherwise.
    fn poll_timers(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Result<(), proto::Error>> {
        let Some(deadline) = self.conn.poll_timeout() else {
            return Poll::Pending;
        };
        ready!(with_aux(cx, aux, |c| self.timer.poll_until(c, deadline)));
        self.conn.handle_timeout(timer::now())?;
        Poll::Ready(Ok(()))
    }

    // ------------------------------------------------------------- writing

    fn check_sendable(&self) -> Result<(), Error> {
        if self.end != End::Running || self.has_failed() {
            return Err(Error::ConnectionClosed);
        }
        Ok(())
    }

    /// Ready when the transmit buffer is under the write buffer limit,
    /// writing to get there.
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Result<(), Error>> {
        self.check_sendable()?;
        while self.conn.transmit_len() >= self.write_buffer_limit() {
            let written = with_aux(cx, aux, |c| {
                transport::poll_write_once(&mut self.io, &mut self.conn, c)
            });
            match written {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return self.poll_timers_while_writing(cx, aux),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// While a write waits on the transport, the keepalive and close timers
    /// still run, so a peer that stops reading is detected.
    fn poll_timers_while_writing<T>(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Result<T, Error>> {
        match self.poll_timers(cx, aux) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                // A timer queued a ping; try again right away.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(Err(e)) => {
                self.fail(e.clone().into());
                Poll::Ready(Err(e.into()))
            }
        }
    }

    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.check_sendable()?;
        match message {
            Message::Close(frame) => self.conn.close(timer::now(), frame)?,
            message => self.conn.send(message)?,
        }
        Ok(())
    }

    pub(crate) fn start_send_fragment(
        &mut self,
        kind: DataKind,
        payload: bytes::Bytes,
        first: bool,
        fin: bool,
    ) -> Result<(), Error> {
        self.check_sendable()?;
        self.conn.send_fragment(kind, payload, first, fin)?;
        Ok(())
    }

    /// Writes the whole transmit buffer and flushes the transport.
    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Result<(), Error>> {
        let written = with_aux(cx, aux, |c| {
            ready!(transport::poll_write_all(&mut self.io, &mut self.conn, c))?;
            std::pin::Pin::new(&mut self.io).poll_flush(c)
        });
        match written {
            Poll::Ready(result) => Poll::Ready(result.map_err(Error::from)),
            Poll::Pending => self.poll_timers_while_writing(cx, aux),
        }
    }

    // ------------------------------------------------------------- closing

    /// Queues our close frame (idempotent once closing).
    pub(crate) fn start_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if self.end != End::Running || self.has_failed() {
            return Ok(());
        }
        match self.conn.close(timer::now(), frame) {
            Ok(()) | Err(proto::SendError::Closed) => {}
            Err(e) => return Err(Error::Send(e)),
        }
        Ok(())
    }

    /// Drives the connection until the close handshake and the transport
    /// are finished, discarding messages that arrive meanwhile.
    pub(crate) fn poll_close_handshake(
        &mut self,
        cx: &mut Context<'_>,
        aux: Option<&Waker>,
    ) -> Poll<Result<(), Error>> {
        loop {
            match ready!(self.poll_event(cx, aux)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None if self.ended_cleanly() => return Poll::Ready(Ok(())),
                None => return Poll::Ready(Err(Error::ConnectionClosed)),
            }
        }
    }

    /// Queues a close frame, makes one non-blocking attempt to send it and
    /// closes the transport without waiting for the peer.
    pub(crate) fn close_now(&mut self) {
        if self.end == End::Running && !self.has_failed() {
            let _ = self.conn.close(
                timer::now(),
                Some(CloseFrame::new(
                    proto::CloseCode::NORMAL,
                    proto::Utf8Bytes::new(),
                )),
            );
        }
        if !self.shutdown_done {
            let waker = Waker::noop();
            let mut cx = Context::from_waker(waker);
            let _ = transport::poll_write_all(&mut self.io, &mut self.conn, &mut cx);
            let _ = std::pin::Pin::new(&mut self.io).poll_shutdown(&mut cx);
            self.shutdown_done = true;
        }
        let clean = self.ended_cleanly();
        if let Some(closing) = self.closing.as_mut() {
            closing.failure = None;
        }
        self.end = End::Done { clean };
    }
}
