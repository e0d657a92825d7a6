//! Echo server for the Autobahn|Testsuite `fuzzingclient`.
//!
//! ```sh
//! cargo build --release -p switchboard --examples
//! target/release/examples/autobahn-server 9002
//! ```
//!
//! Limits are raised to the suite's largest payloads (16 MiB frames, 64 MiB
//! messages), keepalive is off, so no unsolicited ping disturbs a case, and
//! permessage-deflate is accepted (sections 12 and 13).

#[path = "autobahn_support/echo.rs"]
mod echo;

use switchboard::proto::deflate::DeflateConfig;
use switchboard::{Config, Limits, ServerBuilder};
use tokio::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "usage: autobahn-server [PORT]",
            )
        })?,
        None => 9002,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "autobahn-server listening on ws://{}",
        listener.local_addr()?
    );
    let builder = ServerBuilder::new()
        .config(Config::default().ping_interval(None))
        .limits(
            Limits::default()
                .max_frame_size(16 << 20)
                .max_message_size(64 << 20),
        )
        .deflate(DeflateConfig::default());
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let builder = builder.clone();
        tokio::spawn(async move { echo(&builder, tcp).await });
    }
}

async fn echo(builder: &ServerBuilder, tcp: TcpStream) {
    let mut ws = match builder.accept(tcp).await {
        Ok(ws) => ws,
        Err(error) => return eprintln!("handshake: {error}"),
    };
    echo::echo(&mut ws).await;
}
