//! `/echo`: every text and binary message goes back as it came. Pings are
//! answered and close frames echoed by the driver.

use std::future::Future;

use switchboard::{Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;

use crate::close::{going_away, linger};
use crate::shutdown::Shutdown;

/// Echoes until the client leaves or the server shuts down; `slot` (its
/// place under `max_connections`) is released at the end.
///
/// A plain function returning an async block, not an `async fn`: an
/// `async fn` copies every argument into a local of its own, so its
/// future (the task's whole state while idle) would hold the WebSocket
/// twice. The block uses its captures in place.
#[allow(clippy::manual_async_fn)] // on purpose: see above
pub(crate) fn run<S>(
    mut ws: WebSocket<S>,
    mut shutdown: Shutdown,
    slot: OwnedSemaphorePermit,
) -> impl Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async move {
        echo(&mut ws, &mut shutdown).await;
        // Held until the session ends: it is what --max-connections counts.
        drop(slot);
        tracing::info!(route = "/echo", "websocket session ended");
    }
}

async fn echo<S>(ws: &mut WebSocket<S>, shutdown: &mut Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait() => {
                going_away(ws).await;
                return;
            }
            message = ws.recv() => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    if let Err(error) = ws.send(message).await {
                        tracing::debug!(%error, "echo: sending failed");
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    let code = error.close_code().map(|code| code.0);
                    tracing::info!(%error, code, "echo: connection failed");
                    linger(ws).await;
                    return;
                }
                None => return,
            },
        }
    }
}
