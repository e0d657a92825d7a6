//! Split halves: a reading [`Stream`] and a writing [`Sink`] for two tasks.
//!
//! Both halves share the one [`Core`] behind a `std::sync::Mutex`. The lock
//! is held only inside a `poll_*` call, which never blocks (I/O returns
//! `Pending` instead), and never across an `.await`. Writes and timers use a
//! waker that wakes *both* halves, because either half may write: the reader
//! flushes automatic pongs and the close echo, the writer flushes messages.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::task::AtomicWaker;
use switchboard_proto::{Chunk, CloseCode, CloseFrame, DataKind, Event, Message, Stats, Utf8Bytes};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::core::Core;
use crate::error::Error;
use crate::websocket::WebSocket;

/// Wakes whichever halves are waiting on write readiness or a timer.
#[derive(Debug, Default)]
struct BothHalves {
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl Wake for BothHalves {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reader.wake();
        self.writer.wake();
    }
}

#[derive(Debug)]
struct Shared<S> {
    core: Mutex<Core<S>>,
    halves: Arc<BothHalves>,
    /// A `Waker` for `halves`, made once so polls do not allocate.
    both: Waker,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Core<S>> {
        // A panic while polling leaves the core consistent enough to report
        // errors; don't turn it into a second panic in the other half.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn split<S>(core: Core<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    let halves = Arc::new(BothHalves::default());
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        both: Waker::from(halves.clone()),
        halves,
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

/// The two halves passed to [`ReadHalf::reunite`] came from different sockets.
#[derive(Debug, thiserror::Error)]
#[error(
    "these halves belong to different WebSockets; reunite the halves returned by one split() call"
)]
pub struct ReuniteError<S> {
    /// The reading half, given back.
    pub read: ReadHalf<S>,
    /// The writing half, given back.
    pub write: WriteHalf<S>,
}

/// The reading half of a split [`WebSocket`]: a [`Stream`] of messages.
///
/// It also answers pings and echoes the close frame through the shared
/// transport, so keep polling it even if the task only cares about writing.
/// It runs the keepalive and close timers.
#[derive(Debug)]
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a split [`WebSocket`]: a [`Sink`] of messages.
#[derive(Debug)]
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    fn poll_with<T>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &mut Context<'_>, Option<&Waker>) -> Poll<T>,
    ) -> Poll<T> {
        self.shared.halves.reader.register(cx.waker());
        let mut core = self.shared.lock();
        f(&mut core, cx, Some(&self.shared.both))
    }

    /// Receives the next message; see [`WebSocket::recv`].
    ///
    /// **Cancel safety:** cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_message)).await
    }

    /// Receives the next event; see [`WebSocket::recv_event`].
    ///
    /// **Cancel safety:** cancel safe.
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_event)).await
    }

    /// Receives the next piece of a data message; see
    /// [`WebSocket::recv_chunk`].
    ///
    /// **Cancel safety:** cancel safe.
    pub async fn recv_chunk(&mut self) -> Option<Result<Chunk, Error>> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_chunk)).await
    }

    /// The connection's counters, shared by both halves; see
    /// [`WebSocket::stats`].
    pub fn stats(&self) -> Stats {
        self.shared.lock().conn.stats()
    }

    /// Whether `write` is the other half of this socket.
    pub fn is_pair_of(&self, write: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// Joins the halves back into one [`WebSocket`] (and its lock-free path).
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !self.is_pair_of(&write) {
            return Err(ReuniteError { read: self, write });
        }
        drop(write);
        let shared = Arc::into_inner(self.shared)
            .expect("both halves were given, so no other reference to the shared core exists");
        let core = shared
            .core
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(WebSocket { core })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    fn poll_with<T>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &mut Context<'_>, Option<&Waker>) -> Poll<T>,
    ) -> Poll<T> {
        self.shared.halves.writer.register(cx.waker());
        let mut core = self.shared.lock();
        f(&mut core, cx, Some(&self.shared.both))
    }

    /// The connection's counters, shared by both halves; see
    /// [`WebSocket::stats`].
    pub fn stats(&self) -> Stats {
        self.shared.lock().conn.stats()
    }

    /// Sends a message and flushes; see [`WebSocket::send`].
    ///
    /// **Cancel safety:** not cancel safe: if dropped, the message may or may
    /// not have been queued.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without flushing; see [`WebSocket::feed`].
    ///
    /// **Cancel safety:** cancel safe: the message is queued only when the
    /// future completes.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_ready)).await?;
        self.shared.lock().start_send(message)
    }

    /// Writes everything queued and flushes the transport.
    ///
    /// **Cancel safety:** cancel safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_flush)).await
    }

    /// Sends one piece of a data message; see [`WebSocket::send_fragment`].
    ///
    /// **Cancel safety:** not cancel safe, as [`send`](WriteHalf::send).
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_ready)).await?;
        self.shared
            .lock()
            .start_send_fragment(kind, payload, first, fin)?;
        self.flush().await
    }

    /// Starts the close handshake: sends a close frame and flushes it. The
    /// [`ReadHalf`] then receives the peer's close frame, closes the
    /// transport and ends; the whole exchange is bounded by
    /// `Config::close_timeout`. Keep polling the reading half until it
    /// returns `None`.
    ///
    /// **Cancel safety:** cancel safe: the frame is queued once; calling
    /// again only resumes the flush.
    pub async fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: impl Into<Utf8Bytes>,
    ) -> Result<(), Error> {
        self.shared
            .lock()
            .start_close(Some(CloseFrame::new(code, reason)))?;
        self.flush().await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_with(cx, Core::poll_message)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_with(cx, Core::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.lock().start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_with(cx, Core::poll_flush)
    }

    /// Queues a close frame (1000) and flushes it; the reading half finishes
    /// the handshake.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared
            .lock()
            .start_close(Some(CloseFrame::new(CloseCode::NORMAL, Utf8Bytes::new())))?;
        ready!(self.poll_with(cx, Core::poll_flush))?;
        Poll::Ready(Ok(()))
    }
}
