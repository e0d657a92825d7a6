//! The SDK scenarios, each run by both SDKs in both protocol forms against a
//! fresh `switchboard serve` (embedded defaults: every channel has history of
//! 100 publications for 5 minutes, presence, client publish/history/presence,
//! forced recovery; outbound queue 1 MiB per connection).

use std::time::Duration;

use serde_json::{json, Value};

use super::proc_status_bytes;
use super::relay::Relay;
use super::sdk::{Format, Sdk, SdkClient};
use crate::common::Server;

/// History size of the embedded default namespace.
const DEFAULT_HISTORY_SIZE: u64 = 100;
/// The embedded default outbound-queue bound per connection.
const DEFAULT_QUEUE_MAX_BYTES: u64 = 1 << 20;

fn hub_url(server: &Server) -> String {
    server.ws_url("/connection/websocket")
}

/// `(offset, n)` of every publication `client` received on `channel`, in order.
fn publications(client: &SdkClient, channel: &str) -> Vec<(u64, i64)> {
    client
        .seen("publication")
        .into_iter()
        .filter(|e| e["channel"] == channel)
        .map(|e| {
            let offset = e["offset"]
                .as_u64()
                .unwrap_or_else(|| client.fail(&format!("publication without offset: {e}")));
            let n = e["n"]
                .as_i64()
                .unwrap_or_else(|| client.fail(&format!("publication without data n: {e}")));
            (offset, n)
        })
        .collect()
}

async fn wait_publication(client: &mut SdkClient, channel: &str, n: i64) -> Value {
    client
        .wait_seen(&format!("publication n={n} on {channel}"), |e| {
            e["event"] == "publication" && e["channel"] == channel && e["n"] == n
        })
        .await
}

/// Asserts the data numbers are exactly `expected`, in order, each once,
/// at consecutive offsets.
fn assert_exactly(client: &SdkClient, got: &[(u64, i64)], expected: std::ops::Range<i64>) {
    let numbers: Vec<i64> = got.iter().map(|(_, n)| *n).collect();
    let wanted: Vec<i64> = expected.collect();
    if numbers != wanted {
        let missing: Vec<&i64> = wanted.iter().filter(|n| !numbers.contains(n)).collect();
        client.fail(&format!(
            "publications are not exactly {}..{} once each in order: received {} \
             (missing {missing:?}), sequence {numbers:?}",
            wanted.first().unwrap_or(&0),
            wanted.last().map_or(0, |n| n + 1),
            numbers.len()
        ));
    }
    assert_consecutive_offsets(client, got);
}

fn assert_consecutive_offsets(client: &SdkClient, got: &[(u64, i64)]) {
    for pair in got.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            client.fail(&format!(
                "offsets not consecutive: {:?} then {:?}",
                pair[0], pair[1]
            ));
        }
    }
}

fn subscribed_events(client: &SdkClient, channel: &str) -> Vec<Value> {
    client
        .seen("subscribed")
        .into_iter()
        .filter(|e| e["channel"] == channel)
        .cloned()
        .collect()
}

fn offsets_of(history: &Value) -> Vec<u64> {
    history["publications"]
        .as_array()
        .map(|pubs| pubs.iter().filter_map(|p| p["offset"].as_u64()).collect())
        .unwrap_or_default()
}

fn numbers_of(history: &Value) -> Vec<i64> {
    history["publications"]
        .as_array()
        .map(|pubs| pubs.iter().filter_map(|p| p["n"].as_i64()).collect())
        .unwrap_or_default()
}

/// Connect, subscribe, publish from one client and receive in both, history
/// (limit, since, reverse), presence and presence stats.
pub async fn pubsub_history_presence(sdk: Sdk, format: Format) {
    let server = Server::start(&[]);
    let url = hub_url(&server);
    let channel = "sdk-basics";
    let mut alice = SdkClient::connect(sdk, format, &url, "alice").await;
    let mut bob = SdkClient::connect(sdk, format, &url, "bob").await;
    for client in [&alice, &bob] {
        if client.client_id().is_empty() {
            client.fail("the connect reply carried no client id");
        }
    }
    assert_ne!(alice.client_id(), bob.client_id(), "client ids are unique");

    alice
        .command(json!({"cmd": "subscribe", "channel": channel}))
        .await;
    bob.command(json!({"cmd": "subscribe", "channel": channel}))
        .await;
    let subscribed = subscribed_events(&alice, channel)[0].clone();
    if subscribed["recoverable"] != true || subscribed["wasRecovering"] != false {
        alice.fail(&format!(
            "first subscribe should be recoverable (force_recovery) and not recovering: {subscribed}"
        ));
    }
    let epoch = subscribed["epoch"].as_str().unwrap_or_default().to_owned();
    if epoch.is_empty() {
        alice.fail(&format!("subscribed without an epoch: {subscribed}"));
    }
    let base = subscribed["offset"]
        .as_u64()
        .unwrap_or_else(|| alice.fail(&format!("subscribed without an offset: {subscribed}")));
    assert_eq!(base, 0, "a fresh channel's stream starts at offset 0");

    bob.command(json!({"cmd": "publish_many", "channel": channel, "count": 5}))
        .await;
    wait_publication(&mut alice, channel, 4).await;
    wait_publication(&mut bob, channel, 4).await;
    assert_exactly(&alice, &publications(&alice, channel), 0..5);
    assert_exactly(&bob, &publications(&bob, channel), 0..5);
    let first = publications(&alice, channel)[0].0;
    assert_eq!(
        first,
        base + 1,
        "the first publication follows the subscribed position"
    );

    // History: limit 0 is the position alone; a limit takes the oldest first;
    // reverse the newest first; since starts after a position.
    let position = alice
        .command(json!({"cmd": "history", "channel": channel, "limit": 0}))
        .await;
    if position["offset"] != base + 5
        || position["epoch"] != epoch.as_str()
        || !offsets_of(&position).is_empty()
    {
        alice.fail(&format!(
            "history limit 0: want offset {} epoch {epoch} and no publications, got {position}",
            base + 5
        ));
    }
    let oldest = alice
        .command(json!({"cmd": "history", "channel": channel, "limit": 2}))
        .await;
    if offsets_of(&oldest) != [base + 1, base + 2] || numbers_of(&oldest) != [0, 1] {
        alice.fail(&format!(
            "history limit 2: want offsets {}, {} (n 0, 1), got {oldest}",
            base + 1,
            base + 2
        ));
    }
    let newest = alice
        .command(json!({"cmd": "history", "channel": channel, "limit": 2, "reverse": true}))
        .await;
    if offsets_of(&newest) != [base + 5, base + 4] || numbers_of(&newest) != [4, 3] {
        alice.fail(&format!(
            "history limit 2 reverse: want offsets {}, {} (n 4, 3), got {newest}",
            base + 5,
            base + 4
        ));
    }
    let since = json!({"offset": base + 2, "epoch": epoch});
    let after = alice
        .command(json!({"cmd": "history", "channel": channel, "limit": 10, "since": since}))
        .await;
    if offsets_of(&after) != [base + 3, base + 4, base + 5] || numbers_of(&after) != [2, 3, 4] {
        alice.fail(&format!(
            "history since offset {}: want the 3 later publications, got {after}",
            base + 2
        ));
    }
    let all = bob
        .command(json!({"cmd": "history", "channel": channel, "limit": -1}))
        .await;
    if numbers_of(&all) != [0, 1, 2, 3, 4] {
        bob.fail(&format!("history limit -1 (all): want n 0..5, got {all}"));
    }

    // Presence: both clients, anonymous (one user, "").
    let presence = alice
        .command(json!({"cmd": "presence", "channel": channel}))
        .await;
    let mut clients: Vec<String> = presence["clients"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["client"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    clients.sort();
    let mut expected = vec![alice.client_id(), bob.client_id()];
    expected.sort();
    if clients != expected {
        alice.fail(&format!(
            "presence: want clients {expected:?}, got {presence}"
        ));
    }
    let stats = bob
        .command(json!({"cmd": "presence_stats", "channel": channel}))
        .await;
    if stats["num_clients"] != 2 || stats["num_users"] != 1 {
        bob.fail(&format!(
            "presence_stats: want 2 clients of 1 (anonymous) user, got {stats}"
        ));
    }

    // Bob leaves the channel: alice gets the leave push (join/leave is on by
    // default), and presence follows. The SDKs do not wait for the
    // unsubscribe reply, so the leave push is what orders the two clients.
    bob.command(json!({"cmd": "unsubscribe", "channel": channel}))
        .await;
    let bob_id = bob.client_id();
    alice
        .wait_seen("bob's leave push", |e| {
            e["event"] == "leave" && e["channel"] == channel && e["client"] == bob_id.as_str()
        })
        .await;
    let stats = alice
        .command(json!({"cmd": "presence_stats", "channel": channel}))
        .await;
    if stats["num_clients"] != 1 {
        alice.fail(&format!(
            "presence_stats after bob unsubscribed: want 1 client, got {stats}"
        ));
    }
    alice.exit().await;
    bob.exit().await;
}

/// The subscriber sits behind a relay that is cut for a while and restored
/// while the publisher keeps publishing: it ends with every publication
/// exactly once, in order, and its resubscribe says `recovered: true`.
pub async fn recovery_after_cut(sdk: Sdk, format: Format) {
    let server = Server::start(&[]);
    let relay = Relay::start(server.addr).await;
    let channel = "sdk-recovery";
    let total: i64 = 150;
    let mut subscriber = SdkClient::connect(sdk, format, &relay.hub_url(), "subscriber").await;
    subscriber
        .command(json!({"cmd": "subscribe", "channel": channel}))
        .await;
    let mut publisher = SdkClient::connect(sdk, format, &hub_url(&server), "publisher").await;
    // 150 publications 20 ms apart: about 3 s, the cut below takes 0.8 s of it
    // (about 40 publications, well inside the 100 of history).
    let publishing = publisher
        .send(json!({"cmd": "publish_many", "channel": channel, "count": total, "interval_ms": 20}))
        .await;
    wait_publication(&mut subscriber, channel, 20).await;
    relay.cut();
    tokio::time::sleep(Duration::from_millis(800)).await;
    relay.restore();
    publisher.result(publishing).await;
    wait_publication(&mut subscriber, channel, total - 1).await;

    if subscriber.seen("connected").len() < 2 {
        subscriber.fail("the cut did not make the SDK reconnect");
    }
    let subscribed = subscribed_events(&subscriber, channel);
    let resubscribes = &subscribed[1..];
    if resubscribes.is_empty() {
        subscriber.fail("no resubscribe after the cut");
    }
    for event in resubscribes {
        if event["wasRecovering"] != true || event["recovered"] != true {
            subscriber.fail(&format!(
                "resubscribe after the cut did not recover: {event}"
            ));
        }
        if event["epoch"] != subscribed[0]["epoch"] {
            subscriber.fail(&format!("epoch changed across the cut: {event}"));
        }
    }
    assert_exactly(&subscriber, &publications(&subscriber, channel), 0..total);
    eprintln!(
        "recovery after cut ({sdk:?}, {format:?}): {} connections through the relay, \
         resubscribes {}",
        relay.accepted(),
        Value::Array(resubscribes.to_vec())
    );
    subscriber.exit().await;
    publisher.exit().await;
}

/// The cut lasts while more publications than the history holds are
/// published: the resubscribe says `recovered: false` with the current
/// position, and no publication of the gap arrives (no partial recovery),
/// none twice, and live ones follow.
pub async fn recovery_fails_past_history_window(sdk: Sdk, format: Format) {
    let server = Server::start(&[]);
    let relay = Relay::start(server.addr).await;
    let channel = "sdk-recovery-gap";
    let before: i64 = 10;
    let during = DEFAULT_HISTORY_SIZE as i64 + 20;
    let mut subscriber = SdkClient::connect(sdk, format, &relay.hub_url(), "subscriber").await;
    subscriber
        .command(json!({"cmd": "subscribe", "channel": channel}))
        .await;
    let first = subscribed_events(&subscriber, channel)[0].clone();
    let base = first["offset"].as_u64().unwrap_or_default();
    let mut publisher = SdkClient::connect(sdk, format, &hub_url(&server), "publisher").await;
    publisher
        .command(json!({"cmd": "publish_many", "channel": channel, "count": before}))
        .await;
    wait_publication(&mut subscriber, channel, before - 1).await;

    relay.cut();
    publisher
        .command(
            json!({"cmd": "publish_many", "channel": channel, "count": during, "start": before}),
        )
        .await;
    relay.restore();
    let resubscribed = subscriber
        .wait_for("the resubscribe after the cut", |e| {
            e["event"] == "subscribed" && e["channel"] == channel && e["wasRecovering"] == true
        })
        .await;
    let top = base + (before + during) as u64;
    if resubscribed["recovered"] != false
        || resubscribed["offset"] != top
        || resubscribed["epoch"] != first["epoch"]
    {
        subscriber.fail(&format!(
            "past the history window the resubscribe must say recovered: false at the current \
             position (offset {top}, epoch {}), got {resubscribed}",
            first["epoch"]
        ));
    }
    let received_before = publications(&subscriber, channel);
    assert_exactly(&subscriber, &received_before, 0..before);

    let live_start = before + during;
    publisher
        .command(
            json!({"cmd": "publish_many", "channel": channel, "count": 5, "start": live_start}),
        )
        .await;
    wait_publication(&mut subscriber, channel, live_start + 4).await;
    let after: Vec<(u64, i64)> =
        publications(&subscriber, channel)[received_before.len()..].to_vec();
    assert_exactly(&subscriber, &after, live_start..live_start + 5);
    assert_eq!(
        after[0].0,
        top + 1,
        "live publications continue from the reported position"
    );
    subscriber.exit().await;
    publisher.exit().await;
}

/// The subscriber stops reading (relay paused) while 10 MiB are published to
/// its channel: the server's memory stays bounded, it disconnects the
/// subscriber with 3008, and once reading again the SDK reconnects and ends
/// with every publication, or with `recovered: false` if they left history.
pub async fn slow_consumer(sdk: Sdk, format: Format) {
    const COUNT: i64 = 1024;
    const PAD: i64 = 10 * 1024;
    let server = Server::start(&[]);
    let pid = server.pid();
    let relay = Relay::start(server.addr).await;
    let channel = "sdk-slow";
    let mut subscriber = SdkClient::connect(sdk, format, &relay.hub_url(), "subscriber").await;
    subscriber
        .command(json!({"cmd": "subscribe", "channel": channel}))
        .await;
    let mut publisher = SdkClient::connect(sdk, format, &hub_url(&server), "publisher").await;

    relay.pause();
    let rss_before = proc_status_bytes(pid, "VmRSS");
    // Resets the peak (VmHWM) to the current RSS, so the peak below is this phase's.
    let peak_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    publisher
        .command(json!({"cmd": "publish_many", "channel": channel, "count": COUNT, "size": PAD}))
        .await;
    let rss_after = proc_status_bytes(pid, "VmRSS");
    let peak = proc_status_bytes(pid, "VmHWM");
    let growth = peak.max(rss_after).saturating_sub(rss_before);
    // What the server may legitimately hold: the subscriber's queue, the
    // channel's history (100 publications, counted in both encodings), and
    // allocator slack. An unbounded queue would hold all 10 MiB and more.
    let history_bytes = DEFAULT_HISTORY_SIZE * (PAD as u64 + 64) * 2;
    let bound = 2 * DEFAULT_QUEUE_MAX_BYTES + history_bytes + (4 << 20);
    eprintln!(
        "slow consumer ({sdk:?}, {format:?}): published {COUNT} x {PAD} B = {} MiB; server RSS \
         before {} KiB, after {} KiB, peak {} KiB (peak reset: {peak_reset}); growth {} KiB, \
         bound {} KiB",
        (COUNT * PAD) >> 20,
        rss_before >> 10,
        rss_after >> 10,
        peak >> 10,
        growth >> 10,
        bound >> 10
    );
    assert!(
        growth < bound,
        "server RSS grew by {} KiB while a subscriber did not read, more than the {} KiB that \
         its queue bound ({} KiB) and the history allow",
        growth >> 10,
        bound >> 10,
        DEFAULT_QUEUE_MAX_BYTES >> 10
    );

    relay.resume();
    let reconnecting = subscriber
        .wait_for("the SDK reconnecting after being disconnected", |e| {
            e["event"] == "connecting" && e["code"] != 0
        })
        .await;
    if reconnecting["code"] != 3008 {
        subscriber.fail(&format!(
            "a subscriber that stopped reading must be disconnected with 3008 (slow), got {reconnecting}"
        ));
    }
    let resubscribed = subscriber
        .wait_for("the resubscribe after 3008", |e| {
            e["event"] == "subscribed" && e["channel"] == channel && e["wasRecovering"] == true
        })
        .await;
    publisher
        .command(json!({"cmd": "publish_many", "channel": channel, "count": 1, "start": COUNT}))
        .await;
    wait_publication(&mut subscriber, channel, COUNT).await;
    let received = publications(&subscriber, channel);
    if resubscribed["recovered"] == true {
        assert_exactly(&subscriber, &received, 0..COUNT + 1);
    } else {
        // Every publication at most once, in order; the last is the live one.
        for pair in received.windows(2) {
            if pair[1].0 <= pair[0].0 || pair[1].1 <= pair[0].1 {
                subscriber.fail(&format!(
                    "publication out of order or twice: {:?} then {:?}",
                    pair[0], pair[1]
                ));
            }
        }
        let top = resubscribed["offset"].as_u64().unwrap_or_default();
        assert_eq!(
            received.last().map(|p| p.0),
            Some(top + 1),
            "the live publication follows the reported position"
        );
    }
    eprintln!(
        "slow consumer ({sdk:?}, {format:?}): disconnected with {}, resubscribed recovered={}, \
         received {} of {} publications",
        reconnecting["code"],
        resubscribed["recovered"],
        received.len(),
        COUNT + 1
    );
    subscriber.exit().await;
    publisher.exit().await;
}
