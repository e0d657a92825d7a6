//! Echo server on tokio-websockets, configured as its own echo example does
//! (`ServerBuilder`, no frame splitting, tasks run `unconstrained` so that
//! tokio's cooperative budget never forces a yield mid-batch), with corked
//! `feed` + `flush` writes (its Sink flushes by itself past 8 KiB queued).

use tokio_websockets::{Config, Limits, Message, ServerBuilder};

fn main() -> anyhow::Result<()> {
    switchboard_bench::serve("tokio-websockets-echo", |stream| {
        tokio::task::unconstrained(async move {
            let Ok((_request, mut ws)) = ServerBuilder::new()
                .config(Config::default().frame_size(usize::MAX))
                .limits(Limits::default())
                .accept(stream)
                .await
            else {
                return;
            };
            switchboard_bench::echo_batched(&mut ws, |message: &Message| {
                message.is_text() || message.is_binary()
            })
            .await;
        })
    })
}
