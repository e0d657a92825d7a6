//! Measures what splitting costs: echo throughput of a server that uses one
//! `WebSocket` against one that uses `split()` halves (same task, so the
//! difference is the shared-core mutex and the waker bookkeeping), and one
//! that uses the halves from two tasks joined by a channel.
//!
//! ```sh
//! cargo run --release -p switchboard --example split-overhead -- [SIZE] [MESSAGES]
//! ```
//!
//! Each run: one client, 8 messages in flight, SIZE-byte binary messages,
//! server and client on separate current_thread runtimes (separate
//! threads), over 127.0.0.1.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use switchboard::{ClientBuilder, CloseCode, Config, Message, ServerBuilder, WebSocket};
use tokio::net::{TcpListener, TcpStream};

const IN_FLIGHT: usize = 8;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Unsplit,
    SplitOneTask,
    SplitTwoTasks,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let messages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    println!("echo, {size}-byte messages, {IN_FLIGHT} in flight, {messages} messages per run");
    for round in 0..2 {
        for mode in [Mode::Unsplit, Mode::SplitOneTask, Mode::SplitTwoTasks] {
            let elapsed = run(mode, size, messages);
            let rate = messages as f64 / elapsed.as_secs_f64();
            if round > 0 {
                println!("{mode:>14?}: {rate:>10.0} msgs/s ({elapsed:.2?})");
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn run(mode: Mode, size: usize, messages: usize) -> Duration {
    let listener = runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.into_std().unwrap()
    });
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let ws = ServerBuilder::new()
                .config(Config::default().ping_interval(None))
                .accept(tcp)
                .await
                .unwrap();
            match mode {
                Mode::Unsplit => echo_unsplit(ws).await,
                Mode::SplitOneTask => echo_split_one_task(ws).await,
                Mode::SplitTwoTasks => echo_split_two_tasks(ws).await,
            }
        })
    });
    let elapsed = runtime().block_on(client(addr, size, messages));
    server.join().unwrap();
    elapsed
}

async fn client(addr: std::net::SocketAddr, size: usize, messages: usize) -> Duration {
    let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/"))
        .config(Config::default().ping_interval(None))
        .connect()
        .await
        .unwrap();
    let payload = Bytes::from(vec![0x42u8; size]);
    let start = Instant::now();
    let mut sent = 0;
    let mut received = 0;
    while sent < IN_FLIGHT.min(messages) {
        ws.feed(Message::Binary(payload.clone())).await.unwrap();
        sent += 1;
    }
    ws.flush().await.unwrap();
    while received < messages {
        let next = match ws.recv().now_or_never() {
            Some(next) => next,
            None => {
                ws.flush().await.unwrap();
                ws.recv().await
            }
        };
        match next.unwrap().unwrap() {
            Message::Binary(data) => assert_eq!(data.len(), size),
            other => panic!("{other:?}"),
        }
        received += 1;
        if sent < messages {
            ws.feed(Message::Binary(payload.clone())).await.unwrap();
            sent += 1;
        }
    }
    let elapsed = start.elapsed();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    elapsed
}

async fn echo_unsplit(mut ws: WebSocket<TcpStream>) {
    loop {
        let next = match ws.recv().now_or_never() {
            Some(next) => next,
            None => {
                ws.flush().await.unwrap();
                ws.recv().await
            }
        };
        match next {
            Some(Ok(message)) if message.is_data() => ws.feed(message).await.unwrap(),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("{error}"),
            None => return,
        }
    }
}

async fn echo_split_one_task(ws: WebSocket<TcpStream>) {
    let (mut reader, mut writer) = ws.split();
    loop {
        let next = match reader.recv().now_or_never() {
            Some(next) => next,
            None => {
                writer.flush().await.unwrap();
                reader.recv().await
            }
        };
        match next {
            Some(Ok(message)) if message.is_data() => writer.feed(message).await.unwrap(),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("{error}"),
            None => return,
        }
    }
}

async fn echo_split_two_tasks(ws: WebSocket<TcpStream>) {
    let (mut reader, mut writer) = ws.split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let writing = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            writer.feed(message).await.unwrap();
            while let Ok(message) = rx.try_recv() {
                writer.feed(message).await.unwrap();
            }
            writer.flush().await.unwrap();
        }
    });
    while let Some(next) = reader.recv().await {
        match next {
            Ok(message) if message.is_data() => {
                if tx.send(message).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => panic!("{error}"),
        }
    }
    drop(tx);
    writing.await.unwrap();
}
