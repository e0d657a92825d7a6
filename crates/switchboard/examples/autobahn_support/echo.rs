//! The echo loop both Autobahn examples run, shared so the server and client
//! roles are tested with the same behaviour.

use futures_util::FutureExt;
use switchboard::{Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

/// Echoes text and binary messages until the stream ends. Replies are fed
/// while more input is already decoded and flushed once before waiting, so a
/// burst becomes one write. Errors are logged and reading continues: after a
/// protocol error the socket lingers until the peer's EOF, then ends with
/// `None`, which is what the suite checks.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    loop {
        // `recv` is cancel safe, so polling it once and dropping it is fine.
        let next = match ws.recv().now_or_never() {
            Some(next) => next,
            None => {
                if let Err(error) = ws.flush().await {
                    eprintln!("flush: {error}");
                }
                ws.recv().await
            }
        };
        match next {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                if let Err(error) = ws.feed(message).await {
                    eprintln!("send: {error}");
                }
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => eprintln!("{error}"),
            None => return,
        }
    }
}
