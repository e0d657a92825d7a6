//! Load client for any echo server: one connection, a window of messages in
//! flight, reports messages per second.
//!
//! ```sh
//! cargo run --release -p switchboard --example echo-load -- ws://127.0.0.1:9001/ [SIZE] [MESSAGES] [IN_FLIGHT]
//! ```
//!
//! The client is the same whatever the server, so servers can be compared
//! side by side (e.g. `echo-server` against a tokio-tungstenite echo).

use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use switchboard::{ClientBuilder, CloseCode, Config, Error, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let messages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);

    let (mut ws, _) = ClientBuilder::new(&url)
        .config(Config::default().ping_interval(None))
        .connect()
        .await?;
    let payload = Bytes::from(vec![0x42u8; size]);
    let start = Instant::now();
    let (mut sent, mut received) = (0, 0);
    while sent < in_flight.min(messages) {
        ws.feed(Message::Binary(payload.clone())).await?;
        sent += 1;
    }
    ws.flush().await?;
    while received < messages {
        let next = match ws.recv().now_or_never() {
            Some(next) => next,
            None => {
                ws.flush().await?;
                ws.recv().await
            }
        };
        match next.ok_or(Error::ConnectionClosed)?? {
            Message::Binary(data) if data.len() == size => received += 1,
            Message::Binary(_) => {
                let changed = "the echo server changed the message size; check the server";
                return Err(Error::Io(std::io::Error::other(changed)));
            }
            _ => continue,
        }
        if sent < messages {
            ws.feed(Message::Binary(payload.clone())).await?;
            sent += 1;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{url}: {size} B x {messages}, {in_flight} in flight: {:.0} msgs/s",
        messages as f64 / elapsed.as_secs_f64()
    );
    ws.close(CloseCode::NORMAL, "").await
}
