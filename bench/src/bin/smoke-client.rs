//! Checks that an echo server works: connects to `ws://127.0.0.1:<port>/<path>`
//! with tokio-tungstenite, sends a text message (with non-ASCII text), a
//! binary message, a 1 MiB binary message and a ping, and fails unless each
//! data message comes back unchanged. `--raw` checks the raw TCP echo instead.
//!
//! Usage: smoke-client <port> [--raw]

use anyhow::{bail, ensure, Context as _};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::{Bytes, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .context("usage: smoke-client <port> [--raw]")?
        .parse()
        .context("the port must be a number")?;
    if args.next().as_deref() == Some("--raw") {
        return check_raw(port).await;
    }
    let url = format!("ws://127.0.0.1:{port}/any/path?x=1");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let sent = [
        Message::text("héllo wörld €uro 😀"),
        Message::binary(Bytes::from_static(&[0, 1, 2, 255])),
        Message::binary(big),
    ];
    for message in &sent {
        ws.send(message.clone()).await?;
    }
    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await?;
    let mut echoed = Vec::new();
    let mut pong = false;
    while echoed.len() < sent.len() || !pong {
        match ws.next().await.context("the server closed early")?? {
            Message::Pong(data) => {
                ensure!(&data[..] == b"are you there", "wrong pong payload");
                pong = true;
            }
            message @ (Message::Text(_) | Message::Binary(_)) => echoed.push(message),
            other => bail!("unexpected message {other:?}"),
        }
    }
    ensure!(echoed == sent, "echoed messages differ from the sent ones");
    ws.close(None).await?;
    while ws.next().await.is_some() {}
    println!("ok: {url} echoed text, binary, 1 MiB and answered a ping");
    Ok(())
}

async fn check_raw(port: u16) -> anyhow::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (mut reader, mut writer) = stream.split();
    let mut back = vec![0u8; data.len()];
    let (written, read) = tokio::join!(writer.write_all(&data), reader.read_exact(&mut back));
    written?;
    read?;
    ensure!(back == data, "raw echo differs");
    println!("ok: raw TCP echo on port {port}");
    Ok(())
}
