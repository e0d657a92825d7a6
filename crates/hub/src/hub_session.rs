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
use std::sync::Arc;
use std::time::Instant;

use switchboard::{CloseCode, Message, Utf8Bytes, WebSocket};
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::outbound::OutboundLimits;
use switchboard_hub_core::wire::{Format, MessageKind};
use switchboard_hub_core::Session;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;

use crate::app::{App, Hub};
use crate::close::{close_with, linger};
use crate::mailbox::{Control, Delivery, Mailbox, Recipient};
use crate::metrics::MERGE_INTERVAL;

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
        let format = session.format();
        let limits = OutboundLimits::from_config(hub.settings.config());
        let mailbox = Arc::new(Mailbox::new(Recipient::Hub(format), limits));
        let id = hub.engine.register(mailbox.clone());
        // The drain closes the mailbox with 3001 when it is this
        // session's turn: no shutdown future of its own in the loop.
        let drain_place = app.shutdown.enqueue(mailbox.clone());
        let end = drive(&mut ws, &mut session, id, &mailbox, hub, limits).await;
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
async fn drive<S>(
    ws: &mut WebSocket<S>,
    session: &mut Session,
    id: switchboard_hub_core::SessionId,
    mailbox: &Mailbox,
    hub: &Hub,
    limits: OutboundLimits,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let format = session.format();
    // The server API finds a session by user once it is connected.
    let mut registered = false;
    let mut merged_at = Instant::now();
    loop {
        if !registered && session.is_connected() {
            hub.engine.connected(id, session.client_info().clone());
            registered = true;
        }
        if merged_at.elapsed() >= MERGE_INTERVAL {
            hub.engine.metrics().merge(&session.take_counters());
            merged_at = Instant::now();
        }
        // Actions can queue pushes (to this session too) and pushes can
        // queue actions (a gap unsubscribes): run both until quiet.
        let mut closing = None;
        loop {
            let mut busy = false;
            while let Some(action) = session.poll_action() {
                match hub.engine.as_redis() {
                    // Boxed: the Redis round trips' future would otherwise
                    // size the loop's state for every idle session.
                    Some(redis) => Box::pin(redis.execute(id, session, action)).await,
                    None => hub.engine.execute(Instant::now(), id, session, action),
                }
                busy = true;
            }
            let taken = mailbox.take();
            // Pushes queued before the mailbox closed (the drain's 3001,
            // shedding) are still written, ahead of the close frame.
            closing = closing.or(taken.closed);
            for item in taken.items {
                match item {
                    Delivery::Hub(live) => {
                        session.deliver(&live);
                    }
                    Delivery::Control(Control::Subscribe {
                        channel,
                        position,
                        data,
                    }) => session.server_subscribed(channel, position, data),
                    Delivery::Control(Control::Unsubscribe(channel)) => {
                        session.server_unsubscribed(&channel)
                    }
                    Delivery::Control(Control::Disconnect { code, reason }) => {
                        // Boxed: this rare path's future would otherwise
                        // size the loop's state for every idle session.
                        Box::pin(flush_replies(ws, session, limits)).await;
                        return End::CloseWith(code, reason);
                    }
                    Delivery::Chat(_) => continue,
                }
                busy = true;
            }
            if !busy || closing.is_some() {
                break;
            }
        }
        let write = async {
            let mut wrote = false;
            while let Some(bytes) = session.poll_transmit() {
                ws.feed(message(format, bytes)).await?;
                wrote = true;
            }
            if wrote {
                ws.flush().await?;
            }
            Ok::<(), switchboard::Error>(())
        };
        match tokio::time::timeout(limits.write_timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, "writing to the client failed");
                return End::Gone;
            }
            Err(_) => {
                // `feed` and `flush` are cancel safe: what was queued stays
                // queued, and the close frame follows it (a client that
                // reads again within the close grace gets the code).
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
        let deadline = session.poll_timeout();
        tokio::select! {
            biased;
            received = ws.recv() => match received {
                Some(Ok(Message::Text(text))) => session.handle_frame(Instant::now(), text.as_bytes()),
                Some(Ok(Message::Binary(bytes))) => session.handle_frame(Instant::now(), &bytes),
                Some(Ok(Message::Close(_))) | None => return End::Gone,
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "client connection failed");
                    return End::Failed;
                }
            },
            () = mailbox.wait() => {}
            () = sleep_until(deadline), if deadline.is_some() => {
                session.handle_timeout(Instant::now());
            }
        }
    }
}

/// Writes what the session still has to send (bounded by the write
/// timeout) before a close the server API asked for.
async fn flush_replies<S>(ws: &mut WebSocket<S>, session: &mut Session, limits: OutboundLimits)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let format = session.format();
    let write = async {
        while let Some(bytes) = session.poll_transmit() {
            ws.feed(message(format, bytes)).await?;
        }
        ws.flush().await
    };
    if tokio::time::timeout(limits.write_timeout, write)
        .await
        .is_err()
    {
        tracing::debug!("could not flush before closing");
    }
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

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline.into()).await;
    }
}
