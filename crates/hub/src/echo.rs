//! `/echo`: every text and binary message goes back as it came. Pings are
//! answered and close frames echoed by the driver.

use switchboard::{Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::close::{going_away, linger};
use crate::shutdown::Shutdown;

/// Echoes until the client leaves or the server shuts down.
pub(crate) async fn run<S>(mut ws: WebSocket<S>, mut shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait() => {
                going_away(&mut ws).await;
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
                    linger(&mut ws).await;
                    return;
                }
                None => return,
            },
        }
    }
}
