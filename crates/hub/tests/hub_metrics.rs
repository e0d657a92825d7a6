//! `/metrics`, `/live`, `/ready` and `/info` end to end.

mod common;

use std::net::SocketAddr;

use common::{run, Hub, JsonClient};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET path`; the status, the content type and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// The value of the sample `name` (with its labels, as written) on the
/// metrics page.
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().unwrap())
        })
}

/// Fetches `/metrics` until `ready` holds for the page (the server merges
/// a closed session's counters right after the close), bounded by the
/// test's timeout.
async fn metrics_when(addr: SocketAddr, ready: impl Fn(&str) -> bool) -> String {
    loop {
        let (status, _, page) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        if ready(&page) {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[test]
fn metrics_count_connections_commands_bytes_and_recovery() {
    run(async {
        let hub = Hub::start_default().await;
        let (status, content_type, page) = get(hub.addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        assert_eq!(
            sample(&page, "switchboard_hub_connections"),
            Some(0.0),
            "{page}"
        );
        assert!(page.trim_end().ends_with("# EOF"), "{page}");

        let mut client = JsonClient::connect(&hub.url()).await;
        let reply = client.request(json!({"subscribe": {"channel": "m"}})).await;
        let epoch = reply["subscribe"]["epoch"].as_str().unwrap().to_owned();
        for n in 0..3 {
            let reply = client
                .request(json!({"publish": {"channel": "m", "data": {"n": n}}}))
                .await;
            assert!(reply.get("error").is_none(), "{reply}");
        }
        let page = metrics_when(hub.addr, |_| true).await;
        assert_eq!(
            sample(&page, "switchboard_hub_connections"),
            Some(1.0),
            "{page}"
        );
        assert_eq!(
            sample(&page, "switchboard_hub_subscriptions"),
            Some(1.0),
            "{page}"
        );
        assert_eq!(
            sample(&page, "switchboard_hub_channels"),
            Some(1.0),
            "{page}"
        );
        assert_eq!(
            sample(&page, "switchboard_hub_publications_total"),
            Some(3.0),
            "{page}"
        );

        // A second connection recovers from a position of another epoch:
        // not recovered.
        let mut late = JsonClient::connect(&hub.url()).await;
        let stale = format!("{epoch}x");
        let reply = late
            .request(json!({"subscribe": {"channel": "m", "recover": true, "epoch": stale, "offset": 1}}))
            .await;
        assert_eq!(reply["subscribe"]["recovered"], Value::Null, "{reply}");
        let reply = late
            .request(
                json!({"subscribe": {"channel": "n", "recover": true, "epoch": "", "offset": 0}}),
            )
            .await;
        assert!(reply.get("error").is_none(), "{reply}");

        drop(client);
        drop(late);
        let page = metrics_when(hub.addr, |page| {
            sample(page, "switchboard_hub_connections") == Some(0.0)
                && sample(page, "switchboard_hub_connects_total") == Some(2.0)
        })
        .await;
        let publish_ok = r#"switchboard_hub_client_commands_total{method="publish",result="ok"}"#;
        assert_eq!(sample(&page, publish_ok), Some(3.0), "{page}");
        let subscribe_ok =
            r#"switchboard_hub_client_commands_total{method="subscribe",result="ok"}"#;
        assert_eq!(sample(&page, subscribe_ok), Some(3.0), "{page}");
        assert_eq!(
            sample(&page, "switchboard_hub_subscribes_total"),
            Some(3.0),
            "{page}"
        );
        assert!(
            sample(&page, "switchboard_hub_not_recovered_total").unwrap() >= 1.0,
            "{page}"
        );
        assert!(
            sample(&page, "switchboard_hub_messages_in_total").unwrap() >= 7.0,
            "{page}"
        );
        assert!(
            sample(&page, "switchboard_hub_bytes_in_total").unwrap() > 100.0,
            "{page}"
        );
        assert!(
            sample(&page, "switchboard_hub_messages_out_total").unwrap() >= 7.0,
            "{page}"
        );
        assert!(
            sample(&page, "switchboard_hub_bytes_out_total").unwrap() > 100.0,
            "{page}"
        );
        assert_eq!(
            sample(&page, "switchboard_hub_slow_disconnects_total"),
            Some(0.0),
            "{page}"
        );
        assert_eq!(
            sample(&page, "switchboard_hub_outbound_queue_bytes"),
            Some(0.0),
            "{page}"
        );
    });
}

#[test]
fn live_ready_and_info() {
    run(async {
        let hub = Hub::start_default().await;
        let (status, _, body) = get(hub.addr, "/live").await;
        assert_eq!((status, body.as_str()), (200, "live\n"));
        let (status, _, body) = get(hub.addr, "/ready").await;
        assert_eq!((status, body.as_str()), (200, "ready\n"));
        let _client = JsonClient::connect(&hub.url()).await;
        let (status, content_type, body) = get(hub.addr, "/info").await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/json");
        let info: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(info["num_clients"], 1, "{info}");
        assert_eq!(info["ready"], true, "{info}");
        assert!(info["uptime"].is_u64(), "{info}");
        assert!(
            info["version"].as_str().unwrap().starts_with("switchboard"),
            "{info}"
        );
    });
}

/// A session that stays open merges its counters into the totals while it
/// runs (once per merge interval, on a turn of its loop), not only when it
/// ends.
#[test]
fn an_open_session_merges_its_counters_while_it_runs() {
    run(async {
        let hub = Hub::start_default().await;
        let mut client = JsonClient::connect(&hub.url()).await;
        let reply = client
            .request(json!({"subscribe": {"channel": "live"}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        let publish_ok = r#"switchboard_hub_client_commands_total{method="publish",result="ok"}"#;
        // Each publish is a turn of the session's loop; the merge interval
        // is a second, so some turn within the test's bound merges.
        let mut sent = 0u32;
        let merged = loop {
            let reply = client
                .request(json!({"publish": {"channel": "live", "data": {"n": sent}}}))
                .await;
            assert!(reply.get("error").is_none(), "{reply}");
            sent += 1;
            let (_, _, page) = get(hub.addr, "/metrics").await;
            if let Some(merged) = sample(&page, publish_ok).filter(|merged| *merged > 0.0) {
                assert_eq!(
                    sample(&page, "switchboard_hub_connections"),
                    Some(1.0),
                    "merged while the connection is open: {page}"
                );
                break merged;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(merged <= f64::from(sent), "{merged} of {sent}");
    });
}
