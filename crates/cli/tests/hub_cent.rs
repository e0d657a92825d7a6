//! The `cent` Python client (PyPI `cent==5.2.0`, unmodified) against a
//! real `switchboard serve --api-key`: every server API method, the
//! results subscribers see, and `/metrics` parsed by `prometheus_client`.
//! The script is `interop/hub/python/cent_client.py`; it needs
//! `interop/.venv` with `interop/python/requirements.txt` installed.
//! `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::Server;
use serde_json::{json, Value};

/// Upper bound on the whole script run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Runs the script against `server`; its JSON report.
fn run_cent(server: &Server, key: &str) -> Value {
    let interop = interop_dir();
    let python = interop.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "Python venv missing at {}: run scripts/install-deps.sh, or set \
         SWITCHBOARD_SKIP_INTEROP=1 to skip interop tests",
        python.display()
    );
    let installed = Command::new(&python)
        .args(["-c", "import cent, prometheus_client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        installed,
        "cent or prometheus_client is not installed in {}: run `{} -m pip install -r \
         interop/python/requirements.txt`, or set SWITCHBOARD_SKIP_INTEROP=1",
        python.display(),
        python.display()
    );
    let addr = server.addr;
    let child = Command::new(&python)
        .arg(interop.join("hub/python/cent_client.py"))
        .args(["--api", &format!("http://{addr}/api")])
        .args(["--key", key])
        .args(["--ws", &server.ws_url("/connection/websocket")])
        .args(["--metrics", &format!("http://{addr}/metrics")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the cent script");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(SCRIPT_TIMEOUT) {
        Ok(output) => output.expect("run the cent script"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("the cent script did not finish within {SCRIPT_TIMEOUT:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cent script failed: {}\nstdout: {stdout}\nstderr: {stderr}\nserver log: {:?}",
        output.status,
        server.log()
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("report is not JSON ({error}): {stdout}"))
}

#[test]
fn cent_drives_every_server_api_method() {
    if std::env::var("SWITCHBOARD_SKIP_INTEROP").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED cent_drives_every_server_api_method: SWITCHBOARD_SKIP_INTEROP=1");
        return;
    }
    let server = Server::start(&["--api-key", "test-key"]);
    let report = run_cent(&server, "test-key");

    assert_eq!(report["wrong_key"], "unauthorized", "{report}");
    let publish = &report["publish"];
    assert_eq!(publish["offset"], 1, "{report}");
    assert_eq!(publish["epoch"], publish["subscribe_epoch"], "{report}");
    // The repeated idempotency key got the first result.
    assert_eq!(report["idempotent_repeat"]["offset"], 1, "{report}");
    assert_eq!(report["idempotent_repeat"]["epoch"], publish["epoch"]);
    assert_eq!(
        report["received"],
        json!({"data": {"text": "hello"}, "offset": 1})
    );
    assert_eq!(
        report["broadcast"],
        json!([{"offset": 2, "error": null}, {"offset": 1, "error": null}])
    );
    assert_eq!(report["received_broadcast"]["offset"], 2, "{report}");
    // Only two publications: the repeat published nothing.
    assert_eq!(report["history"]["offsets"], json!([1, 2]), "{report}");
    assert_eq!(report["history"]["epoch"], publish["epoch"]);
    assert_eq!(
        report["history_after_remove"],
        json!({"count": 0, "offset": 2})
    );
    assert_eq!(report["presence_clients"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["presence_stats"],
        json!({"num_clients": 1, "num_users": 1})
    );
    assert_eq!(report["channels"], json!({"news": 1}));
    let info = &report["info"];
    assert_eq!(
        (info["num_clients"].as_u64(), info["num_subs"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        info["version"].as_str().unwrap().starts_with("switchboard"),
        "{report}"
    );
    assert_eq!(
        report["batch"],
        json!({"publish_offset": 3, "presence_clients": 1})
    );
    assert_eq!(report["unknown_namespace"], 102);
    assert_eq!(report["server_subscribe"]["channel"], "alerts");
    assert_eq!(
        report["server_subscribe"]["subscribe"]["positioned"], true,
        "{report}"
    );
    assert_eq!(
        report["server_subscribed_received"],
        json!({"data": "ring", "offset": 1})
    );
    assert_eq!(
        report["server_unsubscribe"],
        json!({"channel": "alerts", "code": 2000})
    );
    assert_eq!(
        report["disconnect"],
        json!({"code": 4100, "reason": "maintenance"})
    );

    // /metrics as prometheus_client parsed it (samples after the
    // watcher's connection closed: its counters are merged by then).
    let metrics = &report["metrics"];
    let value = |name: &str| {
        metrics[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no sample {name} in {metrics}"))
    };
    assert_eq!(value("switchboard_hub_connections"), 0.0);
    assert_eq!(value("switchboard_hub_connects_total"), 1.0);
    assert_eq!(value("switchboard_hub_publications_total"), 5.0);
    assert_eq!(value("switchboard_hub_subscribes_total"), 2.0);
    assert_eq!(value("switchboard_hub_slow_disconnects_total"), 0.0);
    assert_eq!(
        value("switchboard_hub_client_commands_total{method=subscribe,result=ok}"),
        1.0
    );
    assert_eq!(
        value("switchboard_hub_api_commands_total{method=publish,result=ok}"),
        // news twice (one repeat), alerts, and the one inside the batch.
        4.0
    );
    assert_eq!(
        value("switchboard_hub_api_commands_total{method=publish,result=error}"),
        1.0
    );
    assert!(value("switchboard_hub_bytes_out_total") > 0.0);
    assert!(value("switchboard_hub_messages_in_total") >= 2.0);
    for gauge in [
        "switchboard_hub_outbound_queue_bytes",
        "switchboard_hub_recovered_total",
        "switchboard_hub_not_recovered_total",
        "switchboard_hub_position_gaps_total",
        "switchboard_hub_drain_connections",
    ] {
        value(gauge);
    }
}

#[test]
fn serve_refuses_a_keyless_api_beyond_loopback() {
    let output = Command::new(common::binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "0.0.0.0:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run switchboard serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--api-key"), "{stderr}");
}

/// `curl` with `args`; its standard output.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn plain_curl_publishes_and_reads_history_with_either_key_header() {
    let server = Server::start(&["--api-key", "curl-key"]);
    let api = |method: &str| format!("http://{}/api/{method}", server.addr);
    let published = curl(&[
        "-X",
        "POST",
        "-H",
        "X-API-Key: curl-key",
        "-d",
        r#"{"channel":"curl","data":{"value":"one"}}"#,
        &api("publish"),
    ]);
    let published: Value = serde_json::from_str(&published).unwrap();
    assert_eq!(published["result"]["offset"], 1, "{published}");
    let history = curl(&[
        "-X",
        "POST",
        "-H",
        "Authorization: apikey curl-key",
        "-d",
        r#"{"channel":"curl","limit":10}"#,
        &api("history"),
    ]);
    let history: Value = serde_json::from_str(&history).unwrap();
    assert_eq!(
        history["result"]["publications"],
        json!([{"data": {"value": "one"}, "offset": 1}]),
        "{history}"
    );
    assert_eq!(history["result"]["epoch"], published["result"]["epoch"]);
    let status = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        "-d",
        "{}",
        &api("info"),
    ]);
    assert_eq!(status, "401");
    let live = curl(&[&format!("http://{}/live", server.addr)]);
    assert_eq!(live, "live\n");
}
