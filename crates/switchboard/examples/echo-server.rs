//! Echo server: echoes every text and binary message on any path.
//!
//! ```sh
//! cargo run --release -p switchboard --example echo-server -- 9001
//! ```
//!
//! Runs on a `current_thread` runtime (one core per process is how WebSocket
//! servers usually scale out). Replies are batched: while more messages are
//! already buffered they are only fed, and one flush sends the whole batch.

use futures_util::FutureExt;
use switchboard::{Error, Message, WebSocket};
use tokio::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "usage: echo-server [PORT]",
            )
        })?,
        None => 9001,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("echo-server listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Err(error) = handle(tcp).await {
                eprintln!("{peer}: {error}");
            }
        });
    }
}

async fn handle(tcp: TcpStream) -> Result<(), Error> {
    let mut ws = switchboard::accept(tcp).await?;
    echo(&mut ws).await
}

/// Echoes until the client closes. Pings are answered and the close frame is
/// echoed by the library while we keep reading.
async fn echo(ws: &mut WebSocket<TcpStream>) -> Result<(), Error> {
    loop {
        // `recv` is cancel safe, so polling it once and dropping it is fine:
        // when nothing more is buffered, flush the replies fed so far.
        let next = match ws.recv().now_or_never() {
            Some(next) => next,
            None => {
                ws.flush().await?;
                ws.recv().await
            }
        };
        match next {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => ws.feed(message).await?,
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error),
            None => return Ok(()),
        }
    }
}
