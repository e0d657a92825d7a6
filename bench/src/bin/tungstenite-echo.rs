//! Echo server on tokio-tungstenite with its default `WebSocketConfig`
//! (128 KiB read buffer, 128 KiB write buffer: the docs say a large read
//! buffer suits high read load and that buffering writes is "often more
//! optimal"), corked `feed` + `flush` writes.

use tokio_tungstenite::tungstenite::Message;

fn main() -> anyhow::Result<()> {
    switchboard_bench::serve("tungstenite-echo", |stream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        switchboard_bench::echo_batched(&mut ws, |message: &Message| {
            message.is_text() || message.is_binary()
        })
        .await;
    })
}
