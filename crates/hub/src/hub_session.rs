//! `/connection/websocket`: one task per Centrifugo client, driving a
//! hub-core [`Session`] over the WebSocket.
//!
//! One loop, no split halves: the task reads frames, runs the session's
//! actions against the engine, takes the live pushes queued in its
//! [`Mailbox`], writes everything the session transmits (fed one by one,
//! flushed once per turn) and sleeps until the next frame, push (the
//! drain's 3001 comes through the mailbox too) or timer. One task and one future per connection is the cheapest shape
//! for idle connections, and the writes of a turn go out as one batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_sink::Sink;
use futures_util::{FutureExt, StreamExt};
use switchboard::{CloseCode, Message, Utf8Bytes, WebSocket};
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::outbound::OutboundLimits;
use switchboard_hub_core::wire::{Format, MessageKind};
use switchboard_hub_core::Session;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

use crate::app::{App, Hub};
use crate::close::{close_with, linger};
use crate::engine::RedisEngine;
use crate::mailbox::{Control, Delivery, Mailbox, Recipient};

/// How a session ends.
enum End {
    /// The client went away (close frame or end of stream).
    Gone,
    /// The driver reported an error and sent its own close frame.
    Failed,
    /// Close with this code and reason.
    Close(DisconnectCode),
    /// Close with a code and reason the server API chose.
    CloseWith(u16, String),
}

/// Runs one client until it leaves, the session ends it, or the server
/// shuts down; `slot` (its place under `max_connections`) is released at
/// the end.
///
/// A plain function returning an async block, not an `async fn`: an
/// `async fn` copies every argument into a local of its own, so its
/// future would hold the WebSocket twice for the connection's whole life.
/// The block uses its captures in place. The [`Session`] is built before
/// the block, so that the block holds it and not the arguments it is built
/// from (the task's allocation is rounded up to 128 bytes: a few bytes
/// less saved 128 per connection).
#[allow(clippy::manual_async_fn)] // on purpose: see above
pub(crate) fn run<S>(
    mut ws: WebSocket<S>,
    format: Format,
    client: String,
    app: Arc<App>,
    slot: OwnedSemaphorePermit,
) -> impl Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(client, "hub client connected");
    let mut session = Session::new(app.hub.settings.clone(), format, client, Instant::now());
    async move {
        let hub = &app.hub;
        // No locals for the format and the limits: a local lives in the
        // block's state until the block ends, for every idle connection.
        let mailbox = Arc::new(Mailbox::new(
            Recipient::Hub(session.format()),
            OutboundLimits::from_config(hub.settings.config()),
        ));
        let id = hub.engine.register(mailbox.clone());
        // The drain closes the mailbox with 3001 when it is this
        // session's turn: no shutdown future of its own in the loop.
        let drain_place = app.shutdown.enqueue(mailbox.clone());
        let end = drive(&mut ws, &mut session, id, &mailbox, hub).await;
        drop(drain_place);
        hub.engine.disconnect(Instant::now(), id);
        let metrics = hub.engine.metrics();
        metrics.merge(&session.take_counters());
        match &end {
            End::Close(code) if *code == DisconnectCode::SLOW => metrics.slow_disconnect(),
            End::Close(code) if *code == DisconnectCode::SHUTDOWN => metrics.drained_one(),
            _ => {}
        }
        match end {
            End::CloseWith(code, reason) => {
                tracing::debug!(code, reason, "closing the client (server API)");
                close_with(&mut ws, CloseCode(code), reason).await;
            }
            End::Close(code) => {
                tracing::debug!(code = code.code, reason = code.reason, "closing the client");
                close_with(&mut ws, CloseCode(code.code), code.reason).await;
            }
            End::Failed => linger(&mut ws).await,
            End::Gone => {}
        }
        // Held until the session ends: it is what --max-connections counts.
        drop(slot);
        tracing::info!(
            route = "/connection/websocket",
            client = session.client_info().client,
            "websocket session ended"
        );
    }
}

/// The session's loop; returns how it ended.
///
/// One timer, pinned in the loop's state, serves the whole session: it
/// sleeps until the session's next deadline (connect deadline, ping, pong)
/// and, only while a write is stuck, until the write timeout. A write the
/// socket takes at once (the usual case: one per delivery under fan-out)
/// never touches the timer wheel, and a wake-up that leaves the deadline
/// as it was does not re-register the timer either. No write future is
/// kept either: writes are polled through the WebSocket's `Sink`, so the
/// loop's state stays small for every idle connection. (A function
/// returning an async block, like [`run`], so that its arguments are held
/// once.)
#[allow(clippy::manual_async_fn)] // on purpose: see above
fn drive<'a, S>(
    ws: &'a mut WebSocket<S>,
    session: &'a mut Session,
    id: switchboard_hub_core::SessionId,
    mailbox: &'a Mailbox,
    hub: &'a Hub,
) -> impl Future<Output = End> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async move {
        // The server API finds a session by user once it is connected.
        let mut registered = false;
        let merge_clock = hub.engine.metrics().merge_clock();
        merge_clock.ensure_ticking();
        let mut merged_epoch = merge_clock.epoch();
        // A message just arrived: with Redis, read what else did before
        // running its commands (see `read_ahead`).
        let mut read_more = false;
        let mut timer = std::pin::pin!(tokio::time::sleep_until(
            session
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + IDLE_TIMER)
                .into()
        ));
        loop {
            if !registered && session.is_connected() {
                hub.engine.connected(id, session.client_info().clone());
                registered = true;
            }
            let epoch = merge_clock.epoch();
            if epoch != merged_epoch {
                hub.engine.metrics().merge(&session.take_counters());
                merged_epoch = epoch;
            }
            // Actions can queue pushes (to this session too) and pushes
            // can queue actions (a gap unsubscribes): run both until quiet.
            let mut closing = None;
            let mail = loop {
                let busy = match hub.engine.as_redis() {
                    // Boxed: the Redis round trips' future would otherwise
                    // size the loop's state for every idle session.
                    // Only when there is something to do: a delivery turn
                    // allocates nothing.
                    Some(redis) if read_more || session.has_actions() => {
                        let read_more = std::mem::take(&mut read_more);
                        match Box::pin(redis_turn(ws, session, redis, id, read_more)).await {
                            Ok(busy) => busy,
                            Err(end) => return end,
                        }
                    }
                    Some(_) => false,
                    None => {
                        let mut any = false;
                        while let Some(action) = session.poll_action() {
                            hub.engine.execute(Instant::now(), id, session, action);
                            any = true;
                        }
                        any
                    }
                };
                match deliver_mail(session, mailbox) {
                    Mail::Delivered { any, closed } => {
                        // Pushes queued before the mailbox closed (the
                        // drain's 3001, shedding) are still written, ahead
                        // of the close frame.
                        closing = closing.or(closed);
                        if !(busy || any) || closing.is_some() {
                            break Mail::Delivered {
                                any,
                                closed: closing,
                            };
                        }
                    }
                    disconnect @ Mail::Disconnect(..) => break disconnect,
                }
            };
            let closing = match mail {
                Mail::Delivered { closed, .. } => closed,
                Mail::Disconnect(code, reason) => {
                    // The replies encoded so far go out first (bounded by
                    // the write timeout).
                    if write_pending(
                        ws,
                        session,
                        timer.as_mut(),
                        hub.settings.config().write_timeout,
                    )
                    .await
                    .is_err()
                    {
                        tracing::debug!("could not flush before closing");
                    }
                    return End::CloseWith(code, reason);
                }
            };
            match write_pending(
                ws,
                session,
                timer.as_mut(),
                hub.settings.config().write_timeout,
            )
            .await
            {
                Ok(()) => {}
                Err(WriteFailed::Io(error)) => {
                    tracing::debug!(%error, "writing to the client failed");
                    return End::Gone;
                }
                Err(WriteFailed::TimedOut) => {
                    // What was queued stays queued, and the close frame
                    // follows it (a client that reads again within the close
                    // grace gets the code).
                    tracing::info!(
                        client = session.client_info().client,
                        "write timed out: the client is too slow (3008)"
                    );
                    return End::Close(DisconnectCode::SLOW);
                }
            }
            if let Some(code) = closing.or_else(|| session.poll_disconnect()) {
                return End::Close(code);
            }
            let timed = match session.poll_timeout() {
                Some(deadline) => {
                    let deadline = tokio::time::Instant::from_std(deadline);
                    if timer.deadline() != deadline {
                        timer.as_mut().reset(deadline);
                    }
                    true
                }
                None => false,
            };
            match next_event(ws, mailbox, timer.as_mut(), timed).await {
                Event::Received(received) => {
                    if let Some(end) = apply_received(session, received) {
                        return end;
                    }
                    read_more = true;
                }
                Event::Mail => {}
                Event::Timer => session.handle_timeout(Instant::now()),
            }
        }
    }
}

/// At most this many messages already received are read before the
/// commands of the first are run (Redis engine only).
const READ_AHEAD: usize = 32;

/// One turn of a session's commands against Redis: the messages that
/// already arrived (when `read_more`), then every queued action. `Ok`
/// says whether there was any; `Err` that the connection ended.
async fn redis_turn<S>(
    ws: &mut WebSocket<S>,
    session: &mut Session,
    redis: &RedisEngine,
    id: switchboard_hub_core::SessionId,
    read_more: bool,
) -> Result<bool, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if read_more {
        if let Some(end) = read_ahead(ws, session, redis, id).await {
            return Err(end);
        }
    }
    Ok(redis.execute_queued(id, session).await)
}

/// Reads the messages that already arrived (at most [`READ_AHEAD`] in
/// all) before any of their commands is run, so that a run of publishes
/// goes to Redis together (see `RedisEngine::execute_queued`): run one
/// message at a time, a publishing connection waits a round trip per
/// publication. `Some(end)` when the connection ended; what the client
/// sent before it closed or failed is carried out first.
async fn read_ahead<S>(
    ws: &mut WebSocket<S>,
    session: &mut Session,
    redis: &RedisEngine,
    id: switchboard_hub_core::SessionId,
) -> Option<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for _ in 1..READ_AHEAD {
        let received = ws.next().now_or_never()?;
        if !matches!(received, Some(Ok(Message::Text(_) | Message::Binary(_)))) {
            redis.execute_queued(id, session).await;
        }
        if let Some(end) = apply_received(session, received) {
            return Some(end);
        }
    }
    None
}

/// Hands a received message to the session; `Some(end)` when the
/// connection ended.
fn apply_received(
    session: &mut Session,
    received: Option<Result<Message, switchboard::Error>>,
) -> Option<End> {
    match received {
        Some(Ok(Message::Text(text))) => session.handle_frame(Instant::now(), text.as_bytes()),
        Some(Ok(Message::Binary(bytes))) => session.handle_frame(Instant::now(), &bytes),
        Some(Ok(Message::Close(_))) | None => return Some(End::Gone),
        Some(Ok(_)) => {}
        Some(Err(error)) => {
            tracing::debug!(%error, "client connection failed");
            return Some(End::Failed);
        }
    }
    None
}

/// What woke an idle session.
enum Event {
    /// A message from the client (or its end).
    Received(Option<Result<Message, switchboard::Error>>),
    /// Pushes in the mailbox, or the mailbox closed.
    Mail,
    /// The session's deadline passed.
    Timer,
}

/// Waits for the next frame, push or (when `timed`) deadline, in that
/// order of priority. A plain poll function over the three sources: no
/// future of its own per source in the loop's state, which every idle
/// connection holds. Cancel safe (each source keeps its progress).
fn next_event<'a, S>(
    ws: &'a mut WebSocket<S>,
    mailbox: &'a Mailbox,
    mut timer: Pin<&'a mut Sleep>,
    timed: bool,
) -> impl Future<Output = Event> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    std::future::poll_fn(move |context| {
        if let Poll::Ready(received) = Pin::new(&mut *ws).poll_next(context) {
            return Poll::Ready(Event::Received(received));
        }
        if mailbox.poll_wait(context).is_ready() {
            return Poll::Ready(Event::Mail);
        }
        if timed && timer.as_mut().poll(context).is_ready() {
            return Poll::Ready(Event::Timer);
        }
        Poll::Pending
    })
}

/// Where the timer sleeps while the session has no deadline (it is only
/// polled when there is one).
const IDLE_TIMER: Duration = Duration::from_secs(3600);

/// What [`deliver_mail`] found in the mailbox.
enum Mail {
    /// Everything queued was handed to the session.
    Delivered {
        /// Whether anything was queued.
        any: bool,
        /// The code the mailbox was closed with, if it was.
        closed: Option<DisconnectCode>,
    },
    /// The server API asked to close with this code and reason (the items
    /// queued after it are dropped: the connection closes).
    Disconnect(u16, String),
}

/// Hands the session everything queued in its mailbox.
fn deliver_mail(session: &mut Session, mailbox: &Mailbox) -> Mail {
    let taken = mailbox.take();
    let mut any = false;
    for item in taken.items {
        match item {
            Delivery::Hub(live) => {
                session.deliver(&live);
            }
            Delivery::Control(control) => match *control {
                Control::Subscribe {
                    channel,
                    position,
                    data,
                } => session.server_subscribed(channel, position, data),
                Control::Unsubscribe(channel) => session.server_unsubscribed(&channel),
                Control::Disconnect { code, reason } => return Mail::Disconnect(code, reason),
            },
            Delivery::Chat(_) => continue,
        }
        any = true;
    }
    Mail::Delivered {
        any,
        closed: taken.closed,
    }
}

/// Why [`write_pending`] failed.
enum WriteFailed {
    /// The socket failed.
    Io(switchboard::Error),
    /// The write did not finish within the write timeout.
    TimedOut,
}

/// Writes what the session has to send: fed one by one, flushed once.
/// The write is tried without a timer first; only one the socket cannot
/// take at once arms `timer` for the write timeout (the loop sets it back
/// to the session's deadline afterwards). Cancel safe: what was fed stays
/// in the WebSocket's buffer.
fn write_pending<'a, S>(
    ws: &'a mut WebSocket<S>,
    session: &'a mut Session,
    mut timer: Pin<&'a mut Sleep>,
    write_timeout: Duration,
) -> impl Future<Output = Result<(), WriteFailed>> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let format = session.format();
    let mut wrote = false;
    let mut armed = false;
    std::future::poll_fn(move |context| {
        if let Poll::Ready(written) = poll_write(ws, session, format, &mut wrote, context) {
            return Poll::Ready(written.map_err(WriteFailed::Io));
        }
        if !armed {
            timer
                .as_mut()
                .reset(tokio::time::Instant::now() + write_timeout);
            armed = true;
        }
        ready!(timer.as_mut().poll(context));
        Poll::Ready(Err(WriteFailed::TimedOut))
    })
}

/// Feeds the session's messages to the WebSocket while it takes them,
/// then flushes if anything was fed (`wrote` remembers it across polls).
fn poll_write<S>(
    ws: &mut WebSocket<S>,
    session: &mut Session,
    format: Format,
    wrote: &mut bool,
    context: &mut Context<'_>,
) -> Poll<Result<(), switchboard::Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = Pin::new(ws);
    loop {
        // Ready before taking a message, so that none is taken and lost
        // while the WebSocket's buffer is full.
        ready!(ws.as_mut().poll_ready(context))?;
        let Some(bytes) = session.poll_transmit() else {
            break;
        };
        ws.as_mut().start_send(message(format, bytes))?;
        *wrote = true;
    }
    if *wrote {
        ready!(ws.as_mut().poll_flush(context))?;
    }
    Poll::Ready(Ok(()))
}

/// One server message in the format's message type.
fn message(format: Format, bytes: bytes::Bytes) -> Message {
    match format.message_kind() {
        // JSON encoders write UTF-8; the check only guards the invariant.
        MessageKind::Text => match Utf8Bytes::try_from_bytes(bytes) {
            Ok(text) => Message::Text(text),
            Err(bytes) => Message::Binary(bytes),
        },
        MessageKind::Binary => Message::Binary(bytes),
    }
}
