//! Shared plumbing for the benchmark echo servers.
//!
//! Every server is a binary that takes the TCP port as its only argument,
//! listens on 127.0.0.1, runs on a single-threaded (current_thread) tokio
//! runtime and sets `TCP_NODELAY` on each accepted socket, so that the
//! servers differ only in the WebSocket library they use.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;

use anyhow::Context as _;
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// Listen backlog: the RSS measurement opens 10,000 connections in bursts,
/// and tokio's default backlog (1,024) would drop SYNs and add retransmit
/// delays that have nothing to do with the server under test.
const LISTEN_BACKLOG: u32 = 4096;

/// Parses the port from the command line, binds 127.0.0.1:port on a
/// current_thread runtime and spawns `handle` for every accepted socket
/// (with `TCP_NODELAY` already set). Never returns unless binding fails.
pub fn serve<F, Fut>(name: &str, handle: F) -> anyhow::Result<()>
where
    F: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let port: u16 = std::env::args()
        .nth(1)
        .with_context(|| format!("usage: {name} <port>"))?
        .parse()
        .with_context(|| format!("usage: {name} <port> (the port must be a number 1-65535)"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
        let listener = socket
            .listen(LISTEN_BACKLOG)
            .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
        println!("{name} listening on 127.0.0.1:{port}");
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                // EMFILE and friends: keep serving the connections we have.
                Err(error) => {
                    eprintln!("{name}: accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            if stream.set_nodelay(true).is_err() {
                continue;
            }
            tokio::task::spawn_local(handle(stream));
        }
    })
}

/// Echoes every data message of a `Stream + Sink` WebSocket back to the peer
/// with corked writes: each message is handed to the sink (`poll_ready` +
/// `start_send`), every further message that is already decodable is added
/// too, and one `poll_flush` sends the batch once the stream has nothing
/// more without waiting. This is the batching pattern the `futures` Sink
/// docs and tungstenite's write-buffer docs describe; a plain `send` per
/// message would flush (one syscall) per message.
///
/// Control frames are left to the library (they answer pings and closes
/// themselves); the loop ends when the stream ends or fails, after sending
/// what it already accepted.
///
/// It is a hand-written poll loop rather than an `async` block over `next`,
/// `feed` and `flush`: a task parks in this future for the connection's
/// whole life, and the `async` version's state was 288 bytes (each awaited
/// combinator and message kept its own slot), against 64 here. The
/// difference is memory per idle connection, for every server alike.
///
/// It borrows the socket: a future that took it by value would hold it in
/// its own state while the caller's future keeps the moved-from slot, so
/// every idle connection would carry the socket's size twice.
pub fn echo_batched<'a, W, M, E>(
    ws: &'a mut W,
    is_data: impl Fn(&M) -> bool + 'a,
) -> impl Future<Output = ()> + 'a
where
    W: Stream<Item = Result<M, E>> + Sink<M> + Unpin,
    M: 'a,
{
    // A message waiting for the sink to have room.
    let mut waiting: Option<M> = None;
    // Messages accepted by the sink since the last completed flush.
    let mut unflushed = false;
    // The stream ended or failed: flush what was accepted, then stop.
    let mut finishing = false;
    std::future::poll_fn(move |cx| loop {
        if finishing {
            return Pin::new(&mut *ws).poll_flush(cx).map(|_| ());
        }
        if let Some(message) = waiting.take() {
            match Pin::new(&mut *ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {
                    waiting = Some(message);
                    return Poll::Pending;
                }
            }
            if Pin::new(&mut *ws).start_send(message).is_err() {
                return Poll::Ready(());
            }
            unflushed = true;
        }
        match Pin::new(&mut *ws).poll_next(cx) {
            Poll::Ready(Some(Ok(message))) => {
                if is_data(&message) {
                    waiting = Some(message);
                }
            }
            Poll::Ready(_) if unflushed => finishing = true,
            Poll::Ready(_) => return Poll::Ready(()),
            // Nothing more without waiting: send the batch. The read side
            // is registered for a wake-up by the `Pending` above.
            Poll::Pending if unflushed => match Pin::new(&mut *ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    unflushed = false;
                    return Poll::Pending;
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            },
            Poll::Pending => return Poll::Pending,
        }
    })
}

/// Checks a WebSocket echo server on `127.0.0.1:port` with tokio-tungstenite
/// as the client: a text message with non-ASCII characters, a small binary
/// message and a 1 MiB binary message must come back unchanged, and a ping
/// must be answered with its payload. Returns a one-line summary.
pub async fn check_websocket_echo(port: u16) -> anyhow::Result<String> {
    use anyhow::{bail, ensure};
    use tokio_tungstenite::tungstenite::{Bytes, Message};

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
    Ok(format!(
        "ok: {url} echoed text, binary, 1 MiB and answered a ping"
    ))
}

/// Checks a plain TCP echo server on `127.0.0.1:port`: 300,000 bytes written
/// while reading must all come back unchanged. Returns a one-line summary.
pub async fn check_raw_echo(port: u16) -> anyhow::Result<String> {
    use anyhow::ensure;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (mut reader, mut writer) = stream.split();
    let mut back = vec![0u8; data.len()];
    let (written, read) = tokio::join!(writer.write_all(&data), reader.read_exact(&mut back));
    written?;
    read?;
    ensure!(back == data, "raw echo differs");
    Ok(format!("ok: raw TCP echo on port {port}"))
}
