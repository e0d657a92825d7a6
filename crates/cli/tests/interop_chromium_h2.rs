//! Headless Chromium over HTTP/2 (RFC 8441), driven by
//! interop/browser/h2.js: it loads a page of `switchboard serve` over
//! https:// with ALPN h2, opens wss:// sockets to /echo from it and gets
//! every echo. The server's counters prove the sockets were extended
//! CONNECT streams, not HTTP/1.1 upgrades. Needs `scripts/install-deps.sh`
//! (Chromium, node, playwright-core).

mod common;
mod h2_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::run_async;
use h2_support::{counter, tls_server};
use serde_json::Value;
use switchboard_testkit::pki::TestPki;

const SOCKETS: u64 = 8;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

#[test]
fn chromium_opens_its_wss_sockets_as_http2_streams() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    let interop = interop_dir();
    assert!(
        interop.join("node_modules/playwright-core").is_dir(),
        "playwright-core missing: run scripts/install-deps.sh (as root)"
    );
    let output = Command::new("node")
        .current_dir(&interop)
        .arg("browser/h2.js")
        .args([
            "--base",
            &format!("https://localhost:{}", server.addr.port()),
        ])
        .arg("--trust-cert")
        .arg(pki.chain_path())
        .args(["--sockets", &SOCKETS.to_string(), "--timeout", "60"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run node interop/browser/h2.js");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let result: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("h2.js printed {stdout:?}: {e}"));
    assert_eq!(result["ok"], true, "h2.js failed: {result}");
    assert_eq!(
        result["pageProtocol"], "h2",
        "the page itself came over HTTP/2"
    );
    assert_eq!(
        result["echoed"], SOCKETS,
        "every socket got its echo: {result}"
    );
    run_async(async {
        assert_eq!(
            counter(&server, Some(&pki), "websocket_requests_http2").await,
            SOCKETS,
            "Chromium used extended CONNECT on its HTTP/2 connection"
        );
        assert_eq!(
            counter(&server, Some(&pki), "websocket_requests_http1").await,
            0
        );
    });
}
