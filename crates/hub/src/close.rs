//! Ending a WebSocket session: bounded close handshakes, and lingering
//! after the driver has already sent its own close.

use std::time::Duration;

use switchboard::{CloseCode, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

/// How long one session's close handshake may take (below the server's
/// shutdown grace, so every session gets its turn).
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// After the driver reported an error (its close frame, e.g. 1009, is
/// already sent): keeps reading until the stream ends, which is when the
/// driver has discarded the peer's remaining input and seen its EOF.
/// Dropping the socket at once instead would reset a connection with
/// unread input, and the peer would lose the close frame that says why.
pub(crate) async fn linger<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async { while ws.recv().await.is_some() {} }).await;
}

/// Closes with 1001 because the server is going away.
pub(crate) async fn going_away<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    close_with(ws, CloseCode::GOING_AWAY, "server shutting down").await;
}

/// Runs the close handshake with `code`, bounded by [`CLOSE_GRACE`].
pub(crate) async fn close_with<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    code: CloseCode,
    reason: impl Into<switchboard::Utf8Bytes>,
) {
    match tokio::time::timeout(CLOSE_GRACE, ws.close(code, reason)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "close handshake failed"),
        Err(_) => tracing::debug!("close handshake timed out"),
    }
}
