//! The paced drain (issue 11) against the real binary: 2,000 hub clients
//! connected to `switchboard serve --drain-window 4s`, then SIGTERM.
//! `/ready` turns 503 before the drain has got far, new upgrades and API
//! calls are refused with 503, every client is closed with 3001
//! (shutdown, reconnect advised) at no more than the configured batch per
//! tick, `/metrics` shows the drain's progress while it runs, and the
//! process exits 0 by the deadline (window + grace).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{request, upgrade_request, Server};
use switchboard::{Message, WebSocket};
use switchboard_hub::{DRAIN_TICK, SHUTDOWN_GRACE};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

const CLIENTS: usize = 2_000;
const WINDOW: Duration = Duration::from_secs(4);
/// Connects in flight at once while the clients come up.
const CONNECTING_AT_ONCE: usize = 100;
/// Upper bound on the whole test.
const TEST_BOUND: Duration = Duration::from_secs(30);
/// File descriptors this process needs: one per client plus slack (the
/// server, a child, inherits the same limit and needs as many).
const FDS_NEEDED: u64 = CLIENTS as u64 + 200;

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// A value of `/metrics`, by the sample's full name.
fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

fn get(addr: std::net::SocketAddr, path: &str) -> common::HttpResponse {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

/// `/metrics` on a fresh connection, or `None` once the server is gone
/// (it exits right after the last client, possibly between scrapes).
fn scrape(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// One scrape of the drain figures.
#[derive(Debug, Clone, Copy)]
struct Progress {
    left: f64,
    disconnected: f64,
}

/// Connects one hub client (JSON) and waits for its connect reply.
async fn hub_client(url: String) -> WebSocket<switchboard::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = switchboard::connect(&url).await.expect("hub upgrade");
    ws.send(Message::text(r#"{"id":1,"connect":{}}"#))
        .await
        .expect("send connect");
    loop {
        match ws.recv().await.expect("a connect reply").expect("no error") {
            Message::Text(text) if text.contains(r#""connect""#) => return ws,
            Message::Text(text) => assert!(!text.contains("error"), "connect failed: {text}"),
            other => panic!("unexpected {other:?} before the connect reply"),
        }
    }
}

/// Subscribes a connected hub client to `channel` and waits for the reply.
async fn subscribe<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>, channel: &str) {
    let command = format!(r#"{{"id":2,"subscribe":{{"channel":"{channel}"}}}}"#);
    ws.send(Message::text(command))
        .await
        .expect("send subscribe");
    loop {
        match ws
            .recv()
            .await
            .expect("a subscribe reply")
            .expect("no error")
        {
            Message::Text(text) if text.contains(r#""id":2"#) => {
                assert!(text.contains(r#""subscribe""#), "subscribe failed: {text}");
                return;
            }
            Message::Text(_) => {}
            other => panic!("unexpected {other:?} before the subscribe reply"),
        }
    }
}

/// Reads until the server's close; returns the text messages seen before
/// it and the close code.
async fn messages_until_close<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
) -> (Vec<String>, u16) {
    let mut seen = Vec::new();
    loop {
        match ws.recv().await {
            Some(Ok(Message::Close(frame))) => {
                while let Some(Ok(_)) = ws.recv().await {}
                return (seen, frame.map_or(1005, |frame| frame.code.0));
            }
            Some(Ok(Message::Text(text))) => seen.push(text.as_str().to_owned()),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("client failed before the close: {error}"),
            None => panic!("stream ended without a close frame"),
        }
    }
}

/// Waits for the server's close; answers protocol pings meanwhile.
/// Returns when the close arrived and its code.
async fn await_close<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) -> (Instant, u16) {
    loop {
        match ws.recv().await {
            Some(Ok(Message::Close(frame))) => {
                let at = Instant::now();
                let code = frame.map_or(1005, |frame| frame.code.0);
                // Finish the close handshake so the server's session ends.
                while let Some(Ok(_)) = ws.recv().await {}
                return (at, code);
            }
            Some(Ok(Message::Text(text))) if text.as_str() == "{}" => {
                let _ = ws.send(Message::text("{}")).await;
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("client failed before the close: {error}"),
            None => panic!("stream ended without a close frame"),
        }
    }
}

/// The most closes within any span of `span` (closes sorted by time).
fn most_within(times: &[Instant], span: Duration) -> usize {
    let mut most = 0;
    let mut start = 0;
    for (end, at) in times.iter().enumerate() {
        while *at - times[start] >= span {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

#[test]
fn sigterm_drains_2000_clients_at_the_batch_rate_and_exits_0() {
    let limit = open_files_limit().unwrap_or(u64::MAX);
    assert!(
        limit >= FDS_NEEDED,
        "this test needs {FDS_NEEDED} open files but RLIMIT_NOFILE is {limit}; \
         raise it (ulimit -n {FDS_NEEDED}) and run again"
    );
    let window = format!("{}s", WINDOW.as_secs());
    let mut server = Server::start(&["--drain-window", &window]);
    let addr = server.addr;
    let url = server.ws_url("/connection/websocket");

    // The bound the drain must keep: 16 ticks of 250 ms in 4 s, so
    // ceil(2000 / 16) = 125 clients per tick.
    let ticks = (WINDOW.as_millis() / DRAIN_TICK.as_millis()) as usize;
    let batch = CLIENTS.div_ceil(ticks);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (closes, signalled_at, ready_flipped_after, scrapes) = runtime.block_on(async {
        tokio::time::timeout(TEST_BOUND, async {
            // Connect every client, CONNECTING_AT_ONCE at a time.
            let (closed_tx, mut closed_rx) = mpsc::unbounded_channel();
            let mut connected = 0;
            let mut connecting = tokio::task::JoinSet::new();
            while connected < CLIENTS {
                while connecting.len() < CONNECTING_AT_ONCE
                    && connected + connecting.len() < CLIENTS
                {
                    connecting.spawn(hub_client(url.clone()));
                }
                let ws = connecting.join_next().await.unwrap().expect("client task");
                connected += 1;
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    let _ = closed_tx.send(await_close(ws).await);
                });
            }
            drop(closed_tx);
            let page = tokio::task::spawn_blocking(move || get(addr, "/metrics"))
                .await
                .unwrap()
                .body_text();
            assert_eq!(
                metric(&page, "switchboard_hub_connections"),
                Some(CLIENTS as f64),
                "every client is connected before the signal"
            );

            server.signal("TERM");
            let signalled_at = Instant::now();

            // /ready flips before the drain has got far: count the closes
            // seen by the time it answers 503.
            let ready_flipped_after = tokio::task::spawn_blocking(move || loop {
                let ready = get(addr, "/ready");
                if ready.status == 503 {
                    return Instant::now();
                }
                assert_eq!(ready.status, 200);
                std::thread::sleep(Duration::from_millis(5));
            })
            .await
            .unwrap();

            // New upgrades and API calls are refused while it drains.
            let (upgrade, publish) = tokio::task::spawn_blocking(move || {
                let upgrade = request(addr, &upgrade_request("/connection/websocket", &[]));
                let body = r#"{"channel":"news","data":{"late":true}}"#;
                let publish = request(
                    addr,
                    &format!(
                        "POST /api/publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                );
                (upgrade, publish)
            })
            .await
            .unwrap();
            assert_eq!(upgrade.status, 503, "{}", upgrade.body_text());
            assert!(upgrade.header("retry-after").is_some());
            assert_eq!(publish.status, 503, "{}", publish.body_text());
            assert!(publish.header("retry-after").is_some());

            // Scrape /metrics while the drain runs.
            let scraping = Arc::new(AtomicBool::new(true));
            let scrapes = Arc::new(Mutex::new(Vec::new()));
            let scraper = {
                let scraping = scraping.clone();
                let scrapes = scrapes.clone();
                std::thread::spawn(move || {
                    let mut batch_size = None;
                    while scraping.load(Ordering::Relaxed) {
                        let Some(page) = scrape(addr) else {
                            break;
                        };
                        batch_size = batch_size.or(metric(&page, "switchboard_hub_drain_batch_size"));
                        if let (Some(left), Some(disconnected)) = (
                            metric(&page, "switchboard_hub_drain_clients_left"),
                            metric(&page, "switchboard_hub_drain_disconnected_total"),
                        ) {
                            scrapes.lock().unwrap().push(Progress { left, disconnected });
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    batch_size
                })
            };

            let mut closes = Vec::with_capacity(CLIENTS);
            while let Some(close) = closed_rx.recv().await {
                closes.push(close);
            }
            scraping.store(false, Ordering::Relaxed);
            let batch_size = scraper.join().unwrap();
            assert_eq!(batch_size, Some(batch as f64), "the batch /metrics reports");
            let scrapes = scrapes.lock().unwrap().clone();
            (closes, signalled_at, ready_flipped_after, scrapes)
        })
        .await
        .expect("the drain test finished within its bound")
    });

    // Every client was closed, each with 3001 (shutdown, reconnect).
    assert_eq!(closes.len(), CLIENTS);
    let codes: std::collections::BTreeMap<u16, usize> =
        closes
            .iter()
            .fold(Default::default(), |mut codes, (_, code)| {
                *codes.entry(*code).or_default() += 1;
                codes
            });
    assert_eq!(codes.get(&3001), Some(&CLIENTS), "close codes: {codes:?}");

    let mut times: Vec<Instant> = closes.iter().map(|(at, _)| *at).collect();
    times.sort();
    let before_ready = times.iter().filter(|at| **at < ready_flipped_after).count();
    assert!(
        before_ready <= 2 * batch,
        "/ready said 503 only after {before_ready} clients were closed"
    );

    // The rate bound. The server releases at most `batch` sessions at each
    // tick; a span of k ticks can contain at most k + 1 release instants
    // (slack for timer granularity and for when each client's close is
    // read), so it holds at most (k + 1) * batch closes.
    eprintln!(
        "{CLIENTS} clients closed over {:?} (first to last); at most {} within one tick \
         of {DRAIN_TICK:?} (batch {batch}); /ready said 503 after {before_ready} closes; \
         {} /metrics scrapes during the drain",
        times[CLIENTS - 1] - times[0],
        most_within(&times, DRAIN_TICK),
        scrapes.len()
    );
    for k in 1..=ticks {
        let span = DRAIN_TICK * k as u32;
        let most = most_within(&times, span);
        assert!(
            most <= (k + 1) * batch,
            "{most} closes within {span:?}, more than {} ({k} + 1 ticks of {batch})",
            (k + 1) * batch
        );
    }

    // /metrics showed the drain going: some scrape in the middle, the
    // disconnected count never falling and the clients left never rising.
    assert!(
        scrapes
            .iter()
            .any(|p| p.disconnected > 0.0 && p.disconnected < CLIENTS as f64),
        "no scrape caught the drain in progress: {scrapes:?}"
    );
    for pair in scrapes.windows(2) {
        assert!(pair[1].disconnected >= pair[0].disconnected, "{scrapes:?}");
        assert!(pair[1].left <= pair[0].left, "{scrapes:?}");
    }

    // The process exits 0 by the deadline: window + grace after the
    // signal, plus a second for the process to be reaped.
    let deadline = signalled_at + WINDOW + SHUTDOWN_GRACE + Duration::from_secs(1);
    let status = server.wait_exit(deadline.saturating_duration_since(Instant::now()));
    eprintln!(
        "the server exited {:?} after the signal",
        signalled_at.elapsed()
    );
    assert_eq!(status.code(), Some(0), "log: {:?}", server.log());
    assert!(server.log().iter().any(|line| line.contains("drained")));
}

/// A publish answered before the signal reaches every subscriber before
/// its 3001, and the probes keep answering while the drain runs: `/live`
/// 200, `/ready` 503, `/info` `"ready": false`.
#[test]
fn publishes_answered_before_the_signal_reach_subscribers_before_their_close() {
    const SUBSCRIBERS: usize = 20;
    let mut server = Server::start(&["--drain-window", "2s"]);
    let addr = server.addr;
    let url = server.ws_url("/connection/websocket");
    common::run_async(async {
        let mut clients = Vec::new();
        for _ in 0..SUBSCRIBERS {
            let mut ws = hub_client(url.clone()).await;
            subscribe(&mut ws, "news").await;
            clients.push(ws);
        }
        let body = r#"{"channel":"news","data":{"before":"signal"}}"#;
        let published = tokio::task::spawn_blocking(move || {
            request(
                addr,
                &format!(
                    "POST /api/publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
            )
        })
        .await
        .unwrap();
        assert_eq!(published.status, 200);
        assert!(
            published.body_text().contains("result"),
            "{}",
            published.body_text()
        );

        server.signal("TERM");
        let readers: Vec<_> = clients
            .into_iter()
            .map(|ws| tokio::spawn(messages_until_close(ws)))
            .collect();

        let (live, ready, info) = tokio::task::spawn_blocking(move || loop {
            let ready = get(addr, "/ready");
            if ready.status == 503 {
                return (get(addr, "/live"), ready, get(addr, "/info"));
            }
            std::thread::sleep(Duration::from_millis(5));
        })
        .await
        .unwrap();
        assert_eq!(ready.body_text(), "shutting down\n");
        assert_eq!(live.status, 200);
        assert!(
            info.body_text().contains(r#""ready":false"#),
            "{}",
            info.body_text()
        );

        for reader in readers {
            let (seen, code) = reader.await.unwrap();
            assert_eq!(code, 3001);
            assert!(
                seen.iter().any(|text| text.contains(r#""before":"signal""#)),
                "a subscriber was closed without the publication answered before the signal: {seen:?}"
            );
        }
    });
    let status = server.wait_exit(Duration::from_secs(2) + SHUTDOWN_GRACE + Duration::from_secs(1));
    assert_eq!(status.code(), Some(0), "log: {:?}", server.log());
}

/// A second SIGTERM ends the drain at once: the clients a 30 s drain
/// would still hold are all closed with 3001 and the process exits 0 long
/// before the window.
#[test]
fn a_second_signal_closes_everyone_at_once() {
    const PATIENT_CLIENTS: usize = 200;
    let mut server = Server::start(&["--drain-window", "30s"]);
    let addr = server.addr;
    let url = server.ws_url("/connection/websocket");
    let codes = common::run_async(async {
        let mut clients = Vec::new();
        for _ in 0..PATIENT_CLIENTS {
            clients.push(hub_client(url.clone()).await);
        }
        server.signal("TERM");
        // The drain has started once /ready says 503; at 2 clients per
        // 250 ms tick it would take 25 s.
        tokio::task::spawn_blocking(move || {
            while get(addr, "/ready").status != 503 {
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .await
        .unwrap();
        server.signal("TERM");
        let readers: Vec<_> = clients
            .into_iter()
            .map(|ws| tokio::spawn(messages_until_close(ws)))
            .collect();
        let mut codes = Vec::new();
        for reader in readers {
            codes.push(reader.await.unwrap().1);
        }
        codes
    });
    assert_eq!(codes.len(), PATIENT_CLIENTS);
    assert!(codes.iter().all(|code| *code == 3001), "{codes:?}");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "log: {:?}", server.log());
    assert!(server
        .log()
        .iter()
        .any(|line| line.contains("closing every WebSocket session now")));
}
