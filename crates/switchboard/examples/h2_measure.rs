//! Measures WebSockets over HTTP/2 (RFC 8441) against HTTP/1.1 with the
//! switchboard client, against a running server (e.g. `switchboard serve`
//! on a plain port, which takes h2c with prior knowledge).
//!
//! Echo throughput and latency, one WebSocket (or `--sockets N` on one
//! connection each way), `--in-flight` messages outstanding:
//!
//! ```text
//! cargo run --release --example h2_measure --features http2 -- \
//!     echo ws://127.0.0.1:8080/echo --http2 --size 16 --in-flight 8 --seconds 5
//! ```
//!
//! Memory per idle WebSocket: opens `--count` WebSockets (over one HTTP/2
//! connection, or one TCP connection each for HTTP/1.1) and reports the
//! server's resident memory growth per socket, read from `/proc/PID/status`:
//!
//! ```text
//! cargo run --release --example h2_measure --features http2 -- \
//!     idle ws://127.0.0.1:8080/echo --http2 --count 1000 --pid 1234
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard::{ClientBuilder, Http2Connection, Message};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Command-line options (`--name value` pairs after the mode and URL).
struct Options {
    mode: String,
    url: String,
    http2: bool,
    size: usize,
    in_flight: usize,
    seconds: u64,
    sockets: usize,
    count: usize,
    pid: Option<u32>,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mode = args.next().expect("mode: echo or idle");
    let url = args.next().expect("a ws:// URL");
    let mut options = Options {
        mode,
        url,
        http2: false,
        size: 16,
        in_flight: 8,
        seconds: 5,
        sockets: 1,
        count: 1000,
        pid: None,
    };
    while let Some(name) = args.next() {
        if name == "--http2" {
            options.http2 = true;
            continue;
        }
        let value = args.next().expect("a value after each option");
        let number = || value.parse::<u64>().expect("a number");
        match name.as_str() {
            "--size" => options.size = number() as usize,
            "--in-flight" => options.in_flight = number() as usize,
            "--seconds" => options.seconds = number(),
            "--sockets" => options.sockets = number() as usize,
            "--count" => options.count = number() as usize,
            "--pid" => options.pid = Some(number() as u32),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

/// The `host:port` of a ws:// URL.
fn address(url: &str) -> String {
    let uri: http::Uri = url.parse().expect("a URL");
    format!(
        "{}:{}",
        uri.host().expect("a host"),
        uri.port_u16().unwrap_or(80)
    )
}

async fn h2c(url: &str) -> Http2Connection {
    let tcp = TcpStream::connect(address(url)).await.expect("connect");
    tcp.set_nodelay(true).unwrap();
    let connection = Http2Connection::handshake(tcp).await.expect("h2c");
    assert!(connection.supports_websockets(), "no extended CONNECT");
    connection
}

/// One echo loop with `in_flight` outstanding messages until `until`;
/// returns the latencies of the echoes received.
async fn echo_loop<S>(
    ws: switchboard::WebSocket<S>,
    size: usize,
    in_flight: usize,
    until: Instant,
) -> Vec<Duration>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = ws.split();
    let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    let window = Arc::new(Semaphore::new(in_flight));
    let payload = Bytes::from(vec![b'x'; size]);
    let writer_sent = Arc::clone(&sent);
    let writer_window = Arc::clone(&window);
    let writing = tokio::spawn(async move {
        while Instant::now() < until {
            let permit = writer_window.acquire().await.expect("open");
            permit.forget();
            writer_sent.lock().unwrap().push_back(Instant::now());
            if writer.send(Message::Binary(payload.clone())).await.is_err() {
                break;
            }
        }
        writer
    });
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), reader.recv()).await
        else {
            break;
        };
        let started = sent
            .lock()
            .unwrap()
            .pop_front()
            .expect("an echo of a sent message");
        latencies.push(started.elapsed());
        window.add_permits(1);
    }
    window.add_permits(in_flight);
    let _ = writing.await;
    latencies
}

async fn echo(options: &Options) {
    let until = Instant::now() + Duration::from_secs(options.seconds);
    let mut loops = Vec::new();
    let connection = if options.http2 {
        Some(h2c(&options.url).await)
    } else {
        None
    };
    for _ in 0..options.sockets {
        let builder = ClientBuilder::new(&options.url);
        let (size, in_flight) = (options.size, options.in_flight);
        match &connection {
            Some(connection) => {
                let (ws, _) = builder.connect_on_http2(connection).await.expect("open");
                loops.push(tokio::spawn(echo_loop(ws, size, in_flight, until)));
            }
            None => {
                let (ws, _) = builder.connect().await.expect("open");
                loops.push(tokio::spawn(echo_loop(ws, size, in_flight, until)));
            }
        }
    }
    let mut latencies = Vec::new();
    for handle in loops {
        latencies.extend(handle.await.expect("echo loop"));
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{} size={} in_flight={} sockets={}: {:.0} msg/s, p50 {:?}, p99 {:?}",
        if options.http2 { "HTTP/2" } else { "HTTP/1.1" },
        options.size,
        options.in_flight,
        options.sockets,
        latencies.len() as f64 / options.seconds as f64,
        at(0.50),
        at(0.99),
    );
}

/// The server's resident set size in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server pid");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn idle(options: &Options) {
    let pid = options.pid.expect("--pid of the server");
    let builder = ClientBuilder::new(&options.url);
    // A first socket warms up allocator pools and lazy statics.
    let mut keep = Vec::new();
    let mut keep_h1 = Vec::new();
    let connection = if options.http2 {
        let connection = h2c(&options.url).await;
        keep.push(builder.connect_on_http2(&connection).await.expect("open").0);
        Some(connection)
    } else {
        keep_h1.push(builder.clone().connect().await.expect("open").0);
        None
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    for _ in 0..options.count {
        match &connection {
            Some(connection) => {
                keep.push(builder.connect_on_http2(connection).await.expect("open").0)
            }
            None => keep_h1.push(builder.clone().connect().await.expect("open").0),
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid);
    println!(
        "{}: {} idle WebSockets, server RSS {} KiB -> {} KiB, {:.0} bytes per WebSocket",
        if options.http2 {
            "HTTP/2 (one connection)"
        } else {
            "HTTP/1.1 (one connection each)"
        },
        options.count,
        before,
        after,
        (after.saturating_sub(before) * 1024) as f64 / options.count as f64
    );
}

#[tokio::main]
async fn main() {
    let options = options();
    match options.mode.as_str() {
        "echo" => echo(&options).await,
        "idle" => idle(&options).await,
        other => panic!("mode {other}: use echo or idle"),
    }
}
