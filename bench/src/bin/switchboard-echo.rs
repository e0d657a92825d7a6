//! Echo server on Switchboard's tokio driver with its defaults (small
//! buffers, keepalive on): `switchboard::accept` on any path, corked
//! `feed` + `flush` writes (the driver's `Sink` queues into the protocol
//! core's transmit buffer and `flush` sends it with vectored writes).

use switchboard::Message;

fn main() -> anyhow::Result<()> {
    switchboard_bench::serve("switchboard-echo", |stream| async move {
        let Ok(mut ws) = switchboard::accept(stream).await else {
            return;
        };
        switchboard_bench::echo_batched(&mut ws, Message::is_data).await;
    })
}
