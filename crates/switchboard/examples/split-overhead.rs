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
//! threads), over 127.0.0.1. Besides wall-clock throughput (noisy on a
//! shared machine) it reports the server thread's CPU time per message
//! (Linux `/proc/thread-self/stat`), which other load disturbs much less.
//! Three rounds per mode, interleaved; the median is printed.

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
    let modes = [Mode::Unsplit, Mode::SplitOneTask, Mode::SplitTwoTasks];
    let mut results: Vec<Vec<(f64, Option<f64>)>> = vec![Vec::new(); modes.len()];
    run(Mode::Unsplit, size, messages / 4); // warm-up
    for _round in 0..3 {
        for (i, mode) in modes.iter().enumerate() {
            let (elapsed, server_cpu) = run(*mode, size, messages);
            let rate = messages as f64 / elapsed.as_secs_f64();
            let cpu_ns = server_cpu.map(|cpu| cpu.as_nanos() as f64 / messages as f64);
            results[i].push((rate, cpu_ns));
        }
    }
    for (mode, mut runs) in modes.iter().zip(results) {
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let rate = runs[1].0;
        let mut cpu: Vec<f64> = runs.iter().filter_map(|r| r.1).collect();
        cpu.sort_by(f64::total_cmp);
        let cpu = cpu
            .get(cpu.len() / 2)
            .map_or("n/a".to_owned(), |ns| format!("{ns:.0} ns/msg"));
        println!(
            "{:<15} {rate:>10.0} msgs/s   server CPU {cpu}",
            format!("{mode:?}")
        );
    }
}

/// CPU time (user + system) of the calling thread, from procfs.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn run(mode: Mode, size: usize, messages: usize) -> (Duration, Option<Duration>) {
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
            let cpu_before = thread_cpu_time();
            match mode {
                Mode::Unsplit => echo_unsplit(ws).await,
                Mode::SplitOneTask => echo_split_one_task(ws).await,
                Mode::SplitTwoTasks => echo_split_two_tasks(ws).await,
            }
            Some(thread_cpu_time()? - cpu_before?)
        })
    });
    let elapsed = runtime().block_on(client(addr, size, messages));
    (elapsed, server.join().unwrap())
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
