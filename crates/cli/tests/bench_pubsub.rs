//! The pub/sub load generator against real fan-out servers on 127.0.0.1:
//! the hub of `switchboard serve` (Centrifugo JSON and Protobuf), and
//! nats-server and mosquitto (Debian packages, installed by
//! scripts/install-deps.sh; started by the tests on free ports), and an
//! in-process fan-out server speaking the uws-fanout protocol that can drop,
//! duplicate, reorder or corrupt one delivery, to show that the checker
//! catches each. No timing assertions: durations only bound the runs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use switchboard::Message;
use switchboard_cli::bench::pubsub::{self, Protocol, PubSubReport};
use switchboard_cli::bench::BenchOptions;
use switchboard_testkit::daemon::{Daemon, DaemonSpec};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

mod common;

/// Bounds every run (connects, warm-up, measurement, drain).
const RUN_DEADLINE: Duration = Duration::from_secs(60);

fn options(url: String, protocol: Protocol) -> BenchOptions {
    let mut options = BenchOptions::new(url);
    options.pubsub.protocol = Some(protocol);
    options.connections = 20;
    options.pubsub.channels = 4;
    options.pubsub.publishers = 2;
    options.pubsub.rate = 400.0;
    options.pubsub.drain = Duration::from_secs(3);
    options.payload_size = 100;
    options.warmup = Duration::from_millis(200);
    options.duration = Duration::from_secs(1);
    options.no_progress = true;
    options
}

fn bench(options: BenchOptions) -> PubSubReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(async { tokio::time::timeout(RUN_DEADLINE, pubsub::run(options)).await })
        .expect("the run ends within its deadline")
        .expect("the run completes")
}

fn assert_clean(report: &PubSubReport) {
    assert!(report.deliveries > 0, "no deliveries measured: {report}");
    assert!(
        report.checks_passed(),
        "deliveries failed the check: {report}"
    );
    assert_eq!(report.connection_errors, 0, "{report}");
    assert_eq!(report.subscribers_open, report.subscribers, "{report}");
    // Every subscriber of a channel gets every publication on it: with
    // subscribers spread evenly, deliveries are `published x subscribers
    // per channel` over the whole run.
    assert!(report.latency.is_some(), "{report}");
}

#[test]
fn switchboard_hub_delivers_every_publication_in_order_in_json() {
    let server = common::Server::start(&[]);
    let url = server.ws_url("/connection/websocket");
    let report = bench(options(url, Protocol::Centrifuge));
    assert_clean(&report);
    assert_eq!(report.publish_errors, 0, "{report}");
}

#[test]
fn switchboard_hub_delivers_every_publication_in_order_in_protobuf() {
    let server = common::Server::start(&[]);
    let url = server.ws_url("/connection/websocket");
    let report = bench(options(url, Protocol::CentrifugeProtobuf));
    assert_clean(&report);
    assert_eq!(report.publish_errors, 0, "{report}");
}

#[test]
fn the_cli_reports_a_clean_run_as_json_and_holds_idle_subscribers() {
    let server = common::Server::start(&[]);
    let url = server.ws_url("/connection/websocket");
    let output = Command::new(common::binary())
        .args(["bench", "--pubsub", "centrifuge", "--json", "--no-progress"])
        .args(["-c", "6", "--channels", "3", "--rate", "300", "-s", "64"])
        .args(["-d", "0.5", "-w", "0.1", &url])
        .output()
        .expect("run switchboard bench");
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["mode"], "pubsub");
    assert_eq!(report["protocol"], "centrifuge");
    assert!(report["deliveries"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["missing"], 0, "{report}");

    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let output = Command::new(common::binary())
        .args(["bench", "--pubsub", "centrifuge", "--idle", "--no-progress"])
        .args(["-c", "5", "--channels", "5", "-d", "0.3", "--ready-file"])
        .arg(&ready)
        .arg(&url)
        .output()
        .expect("run switchboard bench --idle");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(std::fs::read_to_string(&ready).unwrap(), "5\n");
}

#[test]
fn nats_server_over_websocket_delivers_every_publication_in_order() {
    let daemon = Daemon::start(
        &DaemonSpec {
            name: "nats-server",
            ports: 2,
            log_files: &[],
            install_hint: "install it with scripts/install-deps.sh (apt-get install nats-server)",
        },
        |dir, ports| {
            let config = dir.join("nats.conf");
            std::fs::write(
                &config,
                format!(
                    "listen: \"127.0.0.1:{}\"\nwebsocket {{ listen: \"127.0.0.1:{}\", no_tls: true }}\n",
                    ports[0], ports[1]
                ),
            )
            .unwrap();
            let mut command = Command::new("nats-server");
            command.arg("-c").arg(config);
            command
        },
    );
    let url = format!("ws://127.0.0.1:{}/", daemon.ports()[1]);
    let report = bench(options(url, Protocol::Nats));
    assert_clean(&report);
}

#[test]
fn mosquitto_over_websocket_delivers_every_publication_in_order() {
    let daemon = Daemon::start(
        &DaemonSpec {
            name: "mosquitto",
            ports: 2,
            log_files: &[],
            install_hint: "install it with scripts/install-deps.sh (apt-get install mosquitto)",
        },
        |dir, ports| {
            let config = dir.join("mosquitto.conf");
            // The plain listener only lets Debian's 2.0.11 start (it refuses
            // a websockets listener alone); the test uses the second.
            std::fs::write(
                &config,
                format!(
                    "allow_anonymous true\nlistener {} 127.0.0.1\nlistener {} 127.0.0.1\nprotocol websockets\n",
                    ports[0], ports[1]
                ),
            )
            .unwrap();
            let mut command = Command::new("mosquitto");
            command.arg("-c").arg(config);
            command
        },
    );
    let url = format!("ws://127.0.0.1:{}/", daemon.ports()[1]);
    let report = bench(options(url, Protocol::Mqtt));
    assert_clean(&report);
}

/// What the in-process fan-out server does to the 5th publication it fans
/// out, towards the first subscriber of that channel only.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    Drop,
    Duplicate,
    /// Sent after the 6th instead of before it.
    Reorder,
    /// One byte of the payload altered.
    Corrupt,
}

const FAULTY_PUBLICATION: u64 = 5;

/// Starts a fan-out server speaking the uws-fanout protocol (`sub <topic>`,
/// `pub <topic> <payload>`) on its own thread; returns its address.
fn start_fanout_server(fault: Fault) -> SocketAddr {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let topics: Rc<RefCell<Topics>> = Rc::default();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let topics = topics.clone();
                tokio::task::spawn_local(async move {
                    // A connection's end (or the client's abort) is not a test failure.
                    let _ = serve_connection(stream, topics, fault).await;
                });
            }
        });
    });
    addr_rx.recv().unwrap()
}

/// Per topic: its subscribers' outgoing queues and how many publications
/// it has fanned out, plus a publication held back for `Fault::Reorder`.
#[derive(Default)]
struct Topics {
    subscribers: HashMap<String, Vec<mpsc::UnboundedSender<Message>>>,
    published: HashMap<String, u64>,
    held_back: Option<Message>,
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    topics: Rc<RefCell<Topics>>,
    fault: Fault,
) -> anyhow::Result<()> {
    let websocket = switchboard::accept(stream).await?;
    let (mut reader, mut writer) = websocket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    tokio::task::spawn_local(async move {
        while let Some(message) = rx.recv().await {
            if writer.send(message).await.is_err() {
                return;
            }
        }
    });
    while let Some(message) = reader.recv().await {
        match message? {
            Message::Text(text) => {
                let topic = text
                    .as_str()
                    .strip_prefix("sub ")
                    .ok_or_else(|| anyhow::anyhow!("not a sub"))?;
                let mut topics = topics.borrow_mut();
                topics
                    .subscribers
                    .entry(topic.to_owned())
                    .or_default()
                    .push(tx.clone());
                tx.send(Message::text(format!("subscribed {topic}")))?;
            }
            Message::Binary(bytes) => {
                let rest = bytes
                    .strip_prefix(b"pub ")
                    .ok_or_else(|| anyhow::anyhow!("not a pub"))?;
                let space = rest
                    .iter()
                    .position(|&b| b == b' ')
                    .ok_or_else(|| anyhow::anyhow!("no topic"))?;
                let topic = String::from_utf8(rest[..space].to_vec())?;
                let payload = bytes.slice(4 + space + 1..);
                fan_out(&mut topics.borrow_mut(), &topic, payload, fault);
            }
            _ => {}
        }
    }
    Ok(())
}

fn fan_out(topics: &mut Topics, topic: &str, payload: Bytes, fault: Fault) {
    let number = {
        let count = topics.published.entry(topic.to_owned()).or_default();
        *count += 1;
        *count
    };
    let held_back = topics.held_back.take();
    let Some(subscribers) = topics.subscribers.get(topic) else {
        return;
    };
    for (index, subscriber) in subscribers.iter().enumerate() {
        let message = Message::Binary(payload.clone());
        let targeted = index == 0 && number == FAULTY_PUBLICATION;
        match (fault, targeted) {
            (Fault::Drop, true) => continue,
            (Fault::Duplicate, true) => {
                let _ = subscriber.send(message.clone());
                let _ = subscriber.send(message);
            }
            (Fault::Reorder, true) => topics.held_back = Some(message),
            (Fault::Corrupt, true) => {
                let mut altered = payload.to_vec();
                let last_padding = altered.len() - 2;
                altered[last_padding] ^= 0x01;
                let _ = subscriber.send(Message::Binary(altered.into()));
            }
            _ => {
                let _ = subscriber.send(message);
                // The held-back publication follows the next one.
                if index == 0 {
                    if let Some(held) = &held_back {
                        let _ = subscriber.send(held.clone());
                    }
                }
            }
        }
    }
}

/// One publisher, one channel: the faulty publication is that channel's 5th.
fn faulty_run(fault: Fault) -> PubSubReport {
    let addr = start_fanout_server(fault);
    let mut options = options(format!("ws://{addr}/"), Protocol::Uws);
    options.connections = 5;
    options.pubsub.channels = 1;
    options.pubsub.publishers = 1;
    options.pubsub.rate = 200.0;
    options.duration = Duration::from_millis(500);
    bench(options)
}

#[test]
fn a_faithful_fanout_server_passes_every_check() {
    let report = faulty_run(Fault::None);
    assert_clean(&report);
    assert_eq!(report.publish_errors, 0);
}

#[test]
fn a_dropped_delivery_is_reported_missing() {
    let report = faulty_run(Fault::Drop);
    assert_eq!(
        (
            report.missing,
            report.duplicates,
            report.out_of_order,
            report.corrupt
        ),
        (1, 0, 0, 0),
        "{report}"
    );
    assert!(!report.checks_passed());
}

#[test]
fn a_duplicated_delivery_is_reported() {
    let report = faulty_run(Fault::Duplicate);
    assert_eq!(
        (
            report.missing,
            report.duplicates,
            report.out_of_order,
            report.corrupt
        ),
        (0, 1, 0, 0),
        "{report}"
    );
}

#[test]
fn a_reordered_delivery_is_reported_out_of_order() {
    let report = faulty_run(Fault::Reorder);
    assert_eq!(
        (
            report.missing,
            report.duplicates,
            report.out_of_order,
            report.corrupt
        ),
        (0, 0, 1, 0),
        "{report}"
    );
}

#[test]
fn a_corrupted_delivery_is_reported_corrupt_and_missing() {
    let report = faulty_run(Fault::Corrupt);
    // The altered copy is not a delivery of that publication, so the
    // publication itself never arrived.
    assert_eq!(
        (
            report.missing,
            report.duplicates,
            report.out_of_order,
            report.corrupt
        ),
        (1, 0, 0, 1),
        "{report}"
    );
}
