//! The hub demo page behind HAProxy in front of two nodes on the Redis
//! engine, while the node it is connected to drains (issue 13, point 3),
//! online and, as in hub_browser.rs, offline through DevTools network
//! emulation while it happens.
//! The page (headless Chromium, interop/browser/hub-drain.js) loads through
//! HAProxy while only node1 runs, so it lands there; node2 starts; then the
//! server API publishes 60 messages through HAProxy while node1 gets
//! SIGTERM (1 s drain window). The page must reconnect to node2, say it
//! recovered, and show every message once, in order, at consecutive
//! offsets; the SDK must deliver no offset twice (checked with a listener of
//! its own, since the page hides duplicates). Bound: 120 s. Needs
//! redis-server, haproxy, Chromium, playwright-core and the built page
//! (`scripts/install-deps.sh`); `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod browser_support;
mod chaos_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use browser_support::assert_no_page_problems;
use chaos_support::cluster::serve_config;
use chaos_support::node::{Engine, Node, NodeSpec};
use chaos_support::redis::{Persistence, RedisServer};
use chaos_support::{haproxy, http, repo, run_bounded, skip_requested};
use serde_json::Value;
use switchboard_testkit::free_port;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The bound on the whole test.
const TEST_BOUND: Duration = Duration::from_secs(120);

/// Messages published while node1 drains.
const DURING: u64 = 60;

/// web/dist, built by scripts/build-web.sh when missing.
fn web_root() -> PathBuf {
    let dist = repo().join("web/dist");
    if !dist.join("index.html").is_file() {
        let status = std::process::Command::new(repo().join("scripts/build-web.sh"))
            .status()
            .expect("run scripts/build-web.sh");
        assert!(
            status.success(),
            "scripts/build-web.sh failed: run scripts/install-deps.sh (as root) to install node, \
             npm and the page"
        );
    }
    dist
}

fn node_spec(name: &str, dir: &Path, redis: &RedisServer, web_root: &Path) -> NodeSpec {
    NodeSpec {
        name: name.to_owned(),
        port: free_port(),
        engine: Engine::Redis { url: redis.url() },
        config: dir.join("serve.toml"),
        log: dir.join(format!("{name}.log")),
        extra: vec![
            "--drain-window".to_owned(),
            "1s".to_owned(),
            "--web-root".to_owned(),
            web_root.display().to_string(),
        ],
    }
}

/// `(offset, text)` pairs of a list of `{offset, text}` objects.
fn pairs(list: &Value) -> Vec<(u64, String)> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["offset"].as_u64().expect("offset"),
                m["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect()
}

#[test]
fn page_behind_haproxy_moves_to_the_other_node_when_its_node_drains_and_loses_nothing() {
    drain_scenario(
        "page_behind_haproxy_moves_to_the_other_node_when_its_node_drains_and_loses_nothing",
        false,
    );
}

/// The same, with the page offline (DevTools network emulation) from before
/// the first message until after the last: it misses all 60 while node1
/// drains, comes back through HAProxy to node2 and recovers all of them.
#[test]
fn page_offline_while_its_node_drains_recovers_every_message_on_the_other_node() {
    drain_scenario(
        "page_offline_while_its_node_drains_recovers_every_message_on_the_other_node",
        true,
    );
}

/// Runs hub-drain.js (with `--offline` when `offline`) against two nodes
/// behind HAProxy while node1 drains, and asserts what the page shows.
fn drain_scenario(name: &str, offline: bool) {
    if skip_requested(name) {
        return;
    }
    assert!(
        switchboard_testkit::interop::find_on_path("node").is_some(),
        "`node` is not on PATH: run scripts/install-deps.sh (as root)"
    );
    assert!(
        repo().join("interop/node_modules/playwright-core").is_dir(),
        "playwright-core missing: run scripts/install-deps.sh (as root)"
    );
    let web_root = web_root();
    run_bounded(TEST_BOUND, name, async move {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("serve.toml"), serve_config()).expect("serve.toml");
        let redis = RedisServer::start(Persistence::None);
        let spec1 = node_spec("node1", dir.path(), &redis, &web_root);
        let spec2 = node_spec("node2", dir.path(), &redis, &web_root);
        let backends = [
            std::net::SocketAddr::from(([127, 0, 0, 1], spec1.port)),
            std::net::SocketAddr::from(([127, 0, 0, 1], spec2.port)),
        ];
        let mut node1 = Node::start(spec1).await;
        let proxy = haproxy::start(&backends);
        let entry = haproxy::addr(&proxy);
        let routed = chaos_support::eventually(Duration::from_secs(10), || async {
            matches!(http::get(entry, "/ready").await, Ok(r) if r.status == 200)
        })
        .await;
        assert!(routed, "HAProxy did not route to node1: {}", proxy.log());

        let screenshot = dir.path().join(if offline {
            "hub-drain-offline.png"
        } else {
            "hub-drain.png"
        });
        let mut driver = tokio::process::Command::new("node")
            .current_dir(repo().join("interop"))
            .arg("browser/hub-drain.js")
            .args(offline.then_some("--offline"))
            .args(["--base", &format!("http://{entry}")])
            .args(["--count", &DURING.to_string(), "--timeout", "100"])
            .arg("--screenshot")
            .arg(&screenshot)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("run node interop/browser/hub-drain.js");
        let mut stdin = driver.stdin.take().expect("stdin");
        let mut lines = BufReader::new(driver.stdout.take().expect("stdout")).lines();
        let mut next_line = async || -> Value {
            let line = lines
                .next_line()
                .await
                .expect("read hub-drain.js")
                .unwrap_or_else(|| panic!("hub-drain.js ended early"));
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("hub-drain.js printed {line:?}: {e}"))
        };
        let subscribed = next_line().await;
        assert_eq!(
            subscribed["event"], "subscribed",
            "hub-drain.js: {subscribed}"
        );

        // The page is on node1, the only node so far. node2 joins, HAProxy's
        // next health checks (every 200 ms) take it in, then node1 drains
        // while the messages flow.
        let node2 = Node::start(spec2).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        stdin.write_all(b"go\n").await.expect("write go");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let status = node1.drain(Duration::from_secs(10)).await;
        assert!(
            status.success(),
            "node1 exited with {status} after its drain"
        );

        let result = next_line().await;
        assert_eq!(
            result["ok"],
            true,
            "hub-drain.js failed: {result}\n--- node1:\n{}\n--- node2:\n{}\n--- haproxy:\n{}",
            node1.log(),
            node2.log(),
            proxy.log()
        );
        let first = result["first"]["offset"].as_u64().expect("first offset");
        let mut expected = vec![(first, "before the drain".to_owned())];
        expected.extend(pairs(&result["published"]));
        let offsets: Vec<u64> = expected.iter().map(|(o, _)| *o).collect();
        let consecutive: Vec<u64> = (first..first + DURING + 1).collect();
        assert_eq!(
            offsets, consecutive,
            "the API acknowledged consecutive offsets: {result}"
        );
        assert_eq!(
            pairs(&result["messages"]),
            expected,
            "the page shows every message once, in order: {result}"
        );
        let delivered: Vec<u64> = result["delivered"]
            .as_array()
            .expect("delivered")
            .iter()
            .map(|o| o.as_u64().expect("offset"))
            .collect();
        assert_eq!(
            delivered, consecutive,
            "the SDK delivered every offset exactly once, in order (live or recovered): {result}"
        );
        assert!(
            result["subscribedCount"].as_u64() >= Some(2),
            "the page resubscribed after node1 drained: {result}"
        );
        assert_eq!(result["notice"]["kind"], "recovered", "{result}");
        if offline {
            assert_eq!(
                result["notice"]["text"],
                format!("recovered {DURING} missed messages"),
                "offline for all {DURING} messages, the page missed and recovered each: {result}"
            );
        }
        assert_eq!(result["state"], "connected", "{result}");
        assert_no_page_problems(&result);
        let bytes = std::fs::read(&screenshot).expect("the screenshot was written");
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        if let Ok(keep) = std::env::var("SWITCHBOARD_SCREENSHOT_DIR") {
            let target = Path::new(&keep).join(screenshot.file_name().expect("file name"));
            std::fs::write(&target, &bytes).expect("copy the screenshot");
            eprintln!("screenshot: {}", target.display());
        }
        eprintln!(
            "page moved after node1's drain: subscribed {} times, notice {:?}, {} publishes \
             retried by the API client",
            result["subscribedCount"], result["notice"]["text"], result["retried"]
        );
        drop(node2);
    });
}
