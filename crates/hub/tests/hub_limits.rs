//! The limits that protect the node, each from a real client: message size
//! on `/connection/websocket` (1009), connections per node and per second
//! (503 with `Retry-After` before the upgrade), channels per connection
//! and channel-name length (106), commands per second (111, then 3013).

mod common;

use common::{run, Hub, JsonClient};
use serde_json::json;
use switchboard::CloseCode;
use switchboard_hub::HubConfig;

#[test]
fn a_message_over_the_hub_limit_closes_with_1009_and_one_under_it_is_served() {
    run(async {
        let hub = Hub::start(HubConfig {
            hub_max_message_size: 4096,
            ..HubConfig::default()
        })
        .await;
        let mut fits = JsonClient::connect(&hub.url()).await;
        let data = "x".repeat(3000);
        let reply = fits
            .request(json!({"publish": {"channel": "limits", "data": {"text": data}}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");

        let mut too_big = JsonClient::connect(&hub.url()).await;
        let data = "x".repeat(5000);
        too_big
            .send(json!({"publish": {"channel": "limits", "data": {"text": data}}}))
            .await;
        let close = too_big.closed().await.expect("a close frame");
        assert_eq!(close.code, CloseCode::MESSAGE_TOO_BIG);
        hub.stop().await;
    });
}

/// Sends a WebSocket upgrade request for `path` over a fresh connection
/// (offering the subprotocol `chat`, which `/chat` needs and the other
/// routes ignore) and returns the status and the headers, names
/// lowercased.
async fn upgrade_response(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<(String, String)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tcp.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "the server closed before the response head ended");
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[test]
fn upgrades_beyond_max_connections_get_503_with_retry_after() {
    run(async {
        let hub = Hub::start(HubConfig {
            max_connections: 2,
            ..HubConfig::default()
        })
        .await;
        let first = JsonClient::connect(&hub.url()).await;
        let _second = JsonClient::connect(&hub.url()).await;
        for path in ["/connection/websocket", "/echo"] {
            let (status, headers) = upgrade_response(hub.addr, path).await;
            assert_eq!(status, 503, "{path}: {headers:?}");
            assert_eq!(header(&headers, "retry-after"), Some("1"), "{path}");
        }
        // A slot frees when a session ends.
        drop(first);
        loop {
            let (status, _) = upgrade_response(hub.addr, "/connection/websocket").await;
            if status == 101 {
                break;
            }
            assert_eq!(status, 503);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        hub.stop().await;
    });
}

#[test]
fn upgrades_beyond_the_connection_rate_get_503_with_retry_after_on_every_route() {
    run(async {
        // One new connection per minute, three at once: the fourth upgrade
        // waits a whole minute, whatever the machine's speed.
        let hub = Hub::start(HubConfig {
            connection_rate: 1,
            connection_burst: 3,
            ..HubConfig::default()
        })
        .await;
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(JsonClient::connect(&hub.url()).await);
        }
        let (status, _) = upgrade_response(hub.addr, "/echo").await;
        assert_eq!(status, 101, "the third of the burst is admitted");
        for path in ["/connection/websocket", "/echo", "/chat"] {
            let (status, headers) = upgrade_response(hub.addr, path).await;
            assert_eq!(status, 503, "{path}: {headers:?}");
            let retry_after: u64 = header(&headers, "retry-after")
                .expect("Retry-After")
                .parse()
                .unwrap();
            assert!(retry_after >= 1, "{retry_after}");
        }
        // Plain HTTP is not rate limited.
        let (status, _) = upgrade_response(hub.addr, "/healthz").await;
        assert_eq!(status, 200);
        // The connections admitted keep working.
        let reply = clients[0]
            .request(json!({"publish": {"channel": "rate", "data": {"ok": true}}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        hub.stop().await;
    });
}

#[test]
fn a_subscription_beyond_max_channels_per_connection_gets_106() {
    run(async {
        let mut config = HubConfig::default();
        config.node.max_channels_per_connection = 2;
        let hub = Hub::start(config).await;
        let mut client = JsonClient::connect(&hub.url()).await;
        for channel in ["one", "two"] {
            let reply = client
                .request(json!({"subscribe": {"channel": channel}}))
                .await;
            assert!(reply.get("error").is_none(), "{reply}");
        }
        let reply = client
            .request(json!({"subscribe": {"channel": "three"}}))
            .await;
        assert_eq!(reply["error"]["code"], 106, "{reply}");
        assert_eq!(reply["error"]["message"], "limit exceeded");
        // Unsubscribing frees a place.
        client
            .request(json!({"unsubscribe": {"channel": "one"}}))
            .await;
        let reply = client
            .request(json!({"subscribe": {"channel": "three"}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        hub.stop().await;
    });
}

#[test]
fn a_channel_name_over_the_length_limit_gets_106() {
    run(async {
        let mut config = HubConfig::default();
        config.node.max_channel_name_length = 10;
        let hub = Hub::start(config).await;
        let mut client = JsonClient::connect(&hub.url()).await;
        let reply = client
            .request(json!({"subscribe": {"channel": "a".repeat(10)}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        for command in [
            json!({"subscribe": {"channel": "b".repeat(11)}}),
            json!({"publish": {"channel": "b".repeat(11), "data": {}}}),
            json!({"history": {"channel": "b".repeat(11)}}),
        ] {
            let reply = client.request(command).await;
            assert_eq!(reply["error"]["code"], 106, "{reply}");
        }
        hub.stop().await;
    });
}

#[test]
fn commands_over_the_rate_get_111_then_the_connection_closes_with_3013() {
    run(async {
        let mut config = HubConfig::default();
        config.node.client_command_rate = 1;
        config.node.client_command_burst = 4;
        let hub = Hub::start(config).await;
        let mut client = JsonClient::connect(&hub.url()).await;
        // Connect took one token; six publishes in one message arrive at
        // the same instant: three served, three refused with 111.
        let lines: Vec<String> = (1..=6)
            .map(|id| {
                json!({"id": 100 + id, "publish": {"channel": "rate", "data": {"n": id}}})
                    .to_string()
            })
            .collect();
        client
            .ws
            .send(switchboard::Message::text(lines.join("\n")))
            .await
            .unwrap();
        // Refusals are answered at once, publishes after the node ran
        // them: order the outcomes by command id.
        let mut codes = std::collections::BTreeMap::new();
        while codes.len() < 6 {
            let text = match client.ws.recv().await {
                Some(Ok(switchboard::Message::Text(text))) => text,
                other => panic!("expected replies, got {other:?}"),
            };
            for line in text.as_str().split('\n') {
                let reply: serde_json::Value = serde_json::from_str(line).unwrap();
                let id = reply["id"].as_u64().expect("a reply");
                codes.insert(id, reply["error"]["code"].as_u64().unwrap_or(0));
            }
        }
        let codes: Vec<u64> = codes.into_values().collect();
        assert_eq!(codes, [0, 0, 0, 111, 111, 111]);
        // Keeping going: two more refusals exceed the burst of 4.
        client
            .send(json!({"publish": {"channel": "rate", "data": {}}}))
            .await;
        client
            .send(json!({"publish": {"channel": "rate", "data": {}}}))
            .await;
        let close = client.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 3013);
        assert_eq!(close.reason.as_str(), "too many requests");
        hub.stop().await;
    });
}

#[test]
fn an_exhausted_memory_budget_sheds_the_largest_queue_with_3008() {
    run(async {
        // Queues and write timeouts far too large to trip on their own:
        // only the node-wide budget can end the subscriber.
        let mut config = HubConfig {
            memory_budget: 512 << 10,
            ..HubConfig::default()
        };
        config.node.client_queue_max_bytes = 256 << 20;
        config.node.client_queue_max_messages = 1 << 20;
        config.node.write_timeout = std::time::Duration::from_secs(60);
        let hub = Hub::start(config).await;
        let mut stalled = JsonClient::connect(&hub.url()).await;
        let reply = stalled
            .request(json!({"subscribe": {"channel": "budget"}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        // The subscriber stops reading; the publisher fills its socket
        // buffers, then its queue, then the budget.
        let mut publisher = JsonClient::connect(&hub.url()).await;
        // 400 × 48 KiB: about 19 MiB, beyond loopback socket buffers.
        let data = "x".repeat(48 << 10);
        for n in 0..400 {
            let reply = publisher
                .request(json!({"publish": {"channel": "budget", "data": {"n": n, "pad": data}}}))
                .await;
            assert!(reply.get("error").is_none(), "{reply}");
        }
        let close = stalled.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 3008);
        assert_eq!(close.reason.as_str(), "slow");
        // The publisher was never in the way.
        let reply = publisher
            .request(json!({"publish": {"channel": "budget", "data": {}}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        hub.stop().await;
    });
}
