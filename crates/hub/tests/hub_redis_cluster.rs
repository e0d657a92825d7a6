//! Two hubs on one Redis (the Redis engine, in process, each on its own
//! loopback port): a publication through either node reaches subscribers
//! of both with the channel's offsets, recovery works across nodes,
//! presence and join/leave span the nodes, server API commands aimed at a
//! user reach the node that holds the connection, and `info` lists every
//! node. Each test starts its own `redis-server` and is bounded by
//! `hub_redis_support::TEST_DEADLINE`.

mod common;
mod hub_redis_support;

use std::collections::BTreeSet;

use common::{Hub, JsonClient};
use hub_redis_support::{api, eventually, node, run, RestartableRedis};
use serde_json::{json, Value};
use switchboard_hub_core::codes::DisconnectCode;

/// The client ids in an API `presence` result.
fn present(reply: &Value) -> BTreeSet<String> {
    reply["result"]["presence"]
        .as_object()
        .unwrap_or_else(|| panic!("a presence result: {reply}"))
        .keys()
        .cloned()
        .collect()
}

/// A Redis, nodes A and B on it, and a client of node A subscribed to
/// `channel`; the channel's epoch from the subscribe reply.
async fn reader_on_node_a(channel: &str) -> (RestartableRedis, Hub, Hub, JsonClient, String) {
    let redis = RestartableRedis::start();
    let a = node(&redis.url(), "node-a").await;
    let b = node(&redis.url(), "node-b").await;
    let mut reader = JsonClient::connect(&a.url()).await;
    let reply = reader
        .request(json!({"subscribe": {"channel": channel}}))
        .await;
    let epoch = reply["subscribe"]["epoch"]
        .as_str()
        .unwrap_or_else(|| panic!("a subscribe reply with an epoch: {reply}"))
        .to_owned();
    assert!(!epoch.is_empty(), "{reply}");
    (redis, a, b, reader, epoch)
}

#[test]
fn a_publication_through_one_node_reaches_subscribers_on_another_in_offset_order() {
    run(async {
        let (_redis, a, b, mut reader, epoch) = reader_on_node_a("feed").await;
        for n in 1..=3 {
            let published = api(
                b.addr,
                "publish",
                json!({"channel": "feed", "data": {"n": n}}),
            )
            .await;
            assert_eq!(published["result"]["offset"], n, "{published}");
            assert_eq!(published["result"]["epoch"], epoch.as_str(), "{published}");
        }
        // A client publish on node B is numbered after the API's.
        let mut writer = JsonClient::connect(&b.url()).await;
        let reply = writer
            .request(json!({"publish": {"channel": "feed", "data": {"n": 4}}}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        for n in 1..=4 {
            let publication = reader.next_publication("feed").await;
            assert_eq!(publication["offset"], n, "{publication}");
            assert_eq!(publication["data"]["n"], n, "{publication}");
        }
        // Both nodes see the same history.
        let history = api(a.addr, "history", json!({"channel": "feed", "limit": -1})).await;
        let offsets: Vec<u64> = history["result"]["publications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["offset"].as_u64().unwrap())
            .collect();
        assert_eq!(offsets, [1, 2, 3, 4], "{history}");
        // `info` on either node lists both, from the registry.
        for hub in [&a, &b] {
            let info = api(hub.addr, "info", json!({})).await;
            let names: BTreeSet<&str> = info["result"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|node| node["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, BTreeSet::from(["node-a", "node-b"]), "{info}");
        }
    });
}

#[test]
fn publishes_sent_together_are_numbered_and_answered_in_the_order_sent() {
    run(async {
        let (_redis, a, b, mut reader, _) = reader_on_node_a("burst").await;
        // One WebSocket message of 50 publishes, then another of 50 mixed
        // with a history read: node B sends each run of publishes to
        // Redis together, and the order must survive it.
        let mut writer = JsonClient::connect(&b.url()).await;
        let first: Vec<Value> = (1..=50)
            .map(|n| json!({"publish": {"channel": "burst", "data": {"n": n}}}))
            .collect();
        let mut second: Vec<Value> = (51..=100)
            .map(|n| json!({"publish": {"channel": "burst", "data": {"n": n}}}))
            .collect();
        second.insert(25, json!({"history": {"channel": "burst", "limit": -1}}));
        let mut ids = writer.send_batch(first).await;
        ids.extend(writer.send_batch(second).await);
        let replies = writer.replies_to(&ids).await;
        let order: Vec<u64> = replies.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        assert_eq!(
            order, ids,
            "replies come in the order the commands were sent"
        );
        for reply in &replies {
            assert!(reply.get("error").is_none(), "{reply}");
        }
        // The history read sent after 75 publishes sees exactly those.
        let history = &replies[75]["history"]["publications"];
        let seen: Vec<u64> = history
            .as_array()
            .unwrap_or_else(|| panic!("a history reply: {}", replies[75]))
            .iter()
            .map(|p| p["data"]["n"].as_u64().unwrap())
            .collect();
        assert_eq!(seen, (1..=75).collect::<Vec<u64>>());
        // Offsets follow the order sent: publication n is at offset n.
        for n in 1..=100u64 {
            let publication = reader.next_publication("burst").await;
            assert_eq!(publication["offset"], n, "{publication}");
            assert_eq!(publication["data"]["n"], n, "{publication}");
        }
        a.stop().await;
        b.stop().await;
    });
}

#[test]
fn a_client_that_moves_to_another_node_recovers_what_it_missed() {
    run(async {
        let (_redis, a, b, mut reader, epoch) = reader_on_node_a("feed").await;
        api(
            a.addr,
            "publish",
            json!({"channel": "feed", "data": {"n": 1}}),
        )
        .await;
        assert_eq!(reader.next_publication("feed").await["offset"], 1);
        // Node A's client goes away; three publications through node B.
        drop(reader);
        for n in 2..=4 {
            api(
                b.addr,
                "publish",
                json!({"channel": "feed", "data": {"n": n}}),
            )
            .await;
        }
        let mut reader = JsonClient::connect(&b.url()).await;
        let reply = reader
            .request(json!({"subscribe": {
                "channel": "feed", "recover": true, "epoch": epoch, "offset": 1
            }}))
            .await;
        let result = &reply["subscribe"];
        assert_eq!(result["recovered"], true, "{reply}");
        assert_eq!(result["epoch"], epoch.as_str(), "{reply}");
        assert_eq!(result["offset"], 4, "{reply}");
        let recovered: Vec<(u64, u64)> = result["publications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["offset"].as_u64().unwrap(),
                    p["data"]["n"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(recovered, [(2, 2), (3, 3), (4, 4)]);
        // Live publications continue after the recovered ones.
        api(
            a.addr,
            "publish",
            json!({"channel": "feed", "data": {"n": 5}}),
        )
        .await;
        assert_eq!(reader.next_publication("feed").await["offset"], 5);
        // A position from another epoch is not recovered.
        let mut stale = JsonClient::connect(&a.url()).await;
        let reply = stale
            .request(json!({"subscribe": {
                "channel": "feed", "recover": true, "epoch": "gone", "offset": 1
            }}))
            .await;
        assert_ne!(reply["subscribe"]["recovered"], true, "{reply}");
        assert_eq!(reply["subscribe"]["was_recovering"], true, "{reply}");
        assert_eq!(reply["subscribe"]["offset"], 5, "{reply}");
    });
}

#[test]
fn presence_and_join_leave_span_the_nodes() {
    run(async {
        let redis = RestartableRedis::start();
        let a = node(&redis.url(), "node-a").await;
        let b = node(&redis.url(), "node-b").await;
        let mut watcher = JsonClient::connect(&b.url()).await;
        watcher
            .request(json!({"subscribe": {"channel": "room", "join_leave": true}}))
            .await;
        let mut member = JsonClient::connect(&a.url()).await;
        let member_id = member.client_id();
        member
            .request(json!({"subscribe": {"channel": "room"}}))
            .await;
        // The join on node A is pushed to the watcher on node B.
        let join = loop {
            let push = watcher.next_push().await;
            if push["channel"] == "room" && push["join"]["info"]["client"] == member_id.as_str() {
                break push;
            }
        };
        assert_eq!(join["join"]["info"]["client"], member_id.as_str());
        let both = BTreeSet::from([member_id.clone(), watcher.client_id()]);
        let through_b = api(b.addr, "presence", json!({"channel": "room"})).await;
        assert_eq!(present(&through_b), both, "{through_b}");
        let stats = api(a.addr, "presence_stats", json!({"channel": "room"})).await;
        assert_eq!(stats["result"]["num_clients"], 2, "{stats}");
        // A client's own presence command sees the other node's member.
        let reply = watcher
            .request(json!({"presence": {"channel": "room"}}))
            .await;
        assert_eq!(
            reply["presence"]["presence"].as_object().map(|p| p.len()),
            Some(2),
            "{reply}"
        );
        // The member leaves: gone from presence, and the watcher is told.
        drop(member);
        let leave = loop {
            let push = watcher.next_push().await;
            if push["channel"] == "room" && !push["leave"].is_null() {
                break push;
            }
        };
        assert_eq!(leave["leave"]["info"]["client"], member_id.as_str());
        let watcher_only = BTreeSet::from([watcher.client_id()]);
        eventually("the member's presence entry removed", || async {
            present(&api(b.addr, "presence", json!({"channel": "room"})).await) == watcher_only
        })
        .await;
    });
}

#[test]
fn api_commands_aimed_at_a_user_reach_the_node_that_holds_the_connection() {
    run(async {
        let redis = RestartableRedis::start();
        let a = node(&redis.url(), "node-a").await;
        let b = node(&redis.url(), "node-b").await;
        let mut target = JsonClient::connect(&a.url()).await;
        let client = target.client_id();
        target
            .request(json!({"subscribe": {"channel": "feed"}}))
            .await;
        // `subscribe` through node B: the connection on node A gets the
        // subscribe push and the channel's publications.
        let reply = api(
            b.addr,
            "subscribe",
            json!({"user": "", "client": client, "channel": "news"}),
        )
        .await;
        assert_eq!(reply, json!({"result": {}}));
        let subscribed = loop {
            let push = target.next_push().await;
            if push["channel"] == "news" && !push["subscribe"].is_null() {
                break push;
            }
        };
        assert_eq!(subscribed["subscribe"]["recoverable"], true, "{subscribed}");
        api(
            b.addr,
            "publish",
            json!({"channel": "news", "data": {"n": 1}}),
        )
        .await;
        assert_eq!(target.next_publication("news").await["data"]["n"], 1);
        // `unsubscribe` through node B: the 2000 push on node A.
        let reply = api(
            b.addr,
            "unsubscribe",
            json!({"user": "", "client": client, "channel": "feed"}),
        )
        .await;
        assert_eq!(reply, json!({"result": {}}));
        let unsubscribed = loop {
            let push = target.next_push().await;
            if push["channel"] == "feed" && !push["unsubscribe"].is_null() {
                break push;
            }
        };
        assert_eq!(unsubscribed["unsubscribe"]["code"], 2000, "{unsubscribed}");
        // `disconnect` through node B closes the connection on node A.
        let reply = api(b.addr, "disconnect", json!({"user": "", "client": client})).await;
        assert_eq!(reply, json!({"result": {}}));
        let frame = target.closed().await.expect("a close frame");
        assert_eq!(frame.code.0, DisconnectCode::FORCE_NO_RECONNECT.code);
    });
}
