//! The Redis engine's distributed side against a real `redis-server`:
//! interest-based routing with batched SUBSCRIBEs, delivery between
//! nodes, join/leave and control messages, resync after a pub/sub
//! connection is killed, a reported gap after Redis lost its data,
//! presence and registry expiry, and refused publishes while Redis is
//! down.

mod support;

use std::time::Duration;

use bytes::Bytes;
use redis::Value;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_redis::{
    BrokerEvent, ControlCommand, HistoryOptions, NodeInfo, RedisBroker, RedisEngineConfig,
    RedisEngineError,
};
use switchboard_testkit::daemon::Daemon;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

const HISTORY: HistoryOptions = HistoryOptions {
    size: 100,
    ttl: Duration::from_secs(60),
};
/// A broker's event stream.
type Events = UnboundedReceiver<BrokerEvent>;

/// How long to wait for one event.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// The next event other than a health change.
async fn next_event(events: &mut Events) -> BrokerEvent {
    loop {
        let event = timeout(EVENT_WAIT, events.recv())
            .await
            .expect("an event in time")
            .expect("the broker is alive");
        if !matches!(event, BrokerEvent::Health(_)) {
            return event;
        }
    }
}

/// Waits for a health event with this value.
async fn health(events: &mut Events, healthy: bool) {
    loop {
        let event = timeout(EVENT_WAIT, events.recv())
            .await
            .expect("a health change in time")
            .expect("the broker is alive");
        if event == BrokerEvent::Health(healthy) {
            return;
        }
    }
}

/// The offset and data of a publication event on `channel`.
fn publication(event: &BrokerEvent, on: &str) -> (u64, String) {
    match event {
        BrokerEvent::Publication {
            channel,
            publication,
            position,
        } => {
            assert_eq!(&**channel, on);
            assert_eq!(position.offset, publication.offset);
            (
                publication.offset,
                String::from_utf8(publication.data.to_vec()).unwrap(),
            )
        }
        other => panic!("expected a publication on {on}, got {other:?}"),
    }
}

async fn publish(broker: &RedisBroker, channel: &str, data: &str) -> u64 {
    broker
        .publish(
            channel,
            &Bytes::from(data.to_owned()),
            None,
            Some(HISTORY),
            None,
        )
        .await
        .unwrap()
        .position
        .offset
}

/// Connects a subscribing node from `node_config`, then a publishing node
/// from `publisher_config`: `(node, its events, publisher, its events)`.
/// Hold the publisher's events for the whole test so its channel stays open.
async fn node_and_publisher(
    node_config: RedisEngineConfig,
    publisher_config: RedisEngineConfig,
) -> (RedisBroker, Events, RedisBroker, Events) {
    let (node, events) = support::broker(node_config).await;
    let (publisher, publisher_events) = support::broker(publisher_config).await;
    (node, events, publisher, publisher_events)
}

/// Node "a" subscribing and node "b" publishing, both on `redis`.
async fn node_a_and_publisher_b(redis: &Daemon) -> (RedisBroker, Events, RedisBroker, Events) {
    node_and_publisher(support::config(redis, "a"), support::config(redis, "b")).await
}

/// Subscribes `node` to `channel`, publishes `data` there from `publisher`
/// and checks it reaches `node` as the channel's first publication.
async fn subscribe_and_receive_first(
    node: &RedisBroker,
    events: &mut Events,
    publisher: &RedisBroker,
    channel: &str,
    data: &str,
) {
    node.subscribe(channel).await.unwrap();
    publish(publisher, channel, data).await;
    assert_eq!(publication(&next_event(events).await, channel).0, 1);
}

/// Publications on `channel` and health changes, as they come, until at
/// least `publications` arrived and the last health change is back up.
async fn publications_across_a_reconnect(
    events: &mut Events,
    channel: &str,
    publications: usize,
) -> (Vec<(u64, String)>, Vec<bool>) {
    let mut received = Vec::new();
    let mut health = Vec::new();
    while received.len() < publications || health.last() != Some(&true) {
        match timeout(EVENT_WAIT, events.recv())
            .await
            .expect("an event in time")
        {
            Some(BrokerEvent::Health(healthy)) => health.push(healthy),
            Some(event) => received.push(publication(&event, channel)),
            None => panic!("the broker stopped"),
        }
    }
    (received, health)
}

/// Checks the next event other than a health change is a gap on `on`;
/// `expected` describes it in the failure message.
async fn expect_gap(events: &mut Events, on: &str, expected: &str) {
    match next_event(events).await {
        BrokerEvent::Gap { channel, .. } => assert_eq!(&*channel, on),
        other => panic!("expected {expected}, got {other:?}"),
    }
}

/// A presence member with only its client id set.
fn member_with_client(client: &str) -> ClientInfo {
    ClientInfo {
        client: client.into(),
        ..ClientInfo::default()
    }
}

/// Kills every pub/sub connection Redis holds; Redis answers how many.
async fn kill_pubsub_connections(redis: &Daemon) -> Value {
    support::raw(redis, &["CLIENT", "KILL", "TYPE", "pubsub"]).await
}

fn integer(value: &Value) -> i64 {
    match value {
        Value::Int(number) => *number,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// How many SUBSCRIBE commands Redis has served.
async fn subscribe_calls(redis: &Daemon) -> u64 {
    let Value::BulkString(info) = support::raw(redis, &["INFO", "commandstats"]).await else {
        panic!("INFO answers a bulk string");
    };
    let info = String::from_utf8(info).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_subscribe:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

async fn numsub(redis: &Daemon, pubsub: &str) -> i64 {
    match support::raw(redis, &["PUBSUB", "NUMSUB", pubsub]).await {
        Value::Array(items) => integer(&items[1]),
        other => panic!("PUBSUB NUMSUB answers an array, got {other:?}"),
    }
}

#[tokio::test]
async fn nodes_subscribe_only_to_channels_with_local_subscribers() {
    let redis = support::start_redis();
    let (node, mut events, publisher, _publisher_events) = node_a_and_publisher_b(&redis).await;
    support::within_deadline(async {
        node.subscribe("wanted").await.unwrap();
        node.subscribe("wanted").await.unwrap();
        assert_eq!(numsub(&redis, &node.keys().pubsub("wanted")).await, 1);
        assert_eq!(numsub(&redis, &node.keys().pubsub("unwanted")).await, 0);
        publish(&publisher, "unwanted", "not for a").await;
        publish(&publisher, "wanted", "for a").await;
        // Pub/sub keeps order, so the first event shows "unwanted" never came.
        assert_eq!(
            publication(&next_event(&mut events).await, "wanted"),
            (1, "for a".into())
        );
        // Two local subscribers: the first leaving keeps the subscription.
        node.unsubscribe("wanted");
        publish(&publisher, "wanted", "still").await;
        assert_eq!(
            publication(&next_event(&mut events).await, "wanted"),
            (2, "still".into())
        );
        node.unsubscribe("wanted");
        // An interest change after the unsubscribe is applied in order, so
        // once this subscribe is confirmed the unsubscribe went out.
        node.subscribe("barrier").await.unwrap();
        assert_eq!(numsub(&redis, &node.keys().pubsub("wanted")).await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_subscribe_storm_goes_out_in_few_subscribe_commands() {
    let redis = support::start_redis();
    let (node, _events) = support::broker(support::config(&redis, "storm")).await;
    support::within_deadline(async {
        let before = subscribe_calls(&redis).await;
        let channels: Vec<String> = (0..300).map(|index| format!("storm:{index}")).collect();
        let subscribes = channels.iter().map(|channel| node.subscribe(channel));
        for result in futures_util::future::join_all(subscribes).await {
            result.unwrap();
        }
        let calls = subscribe_calls(&redis).await - before;
        // 300 channels at most 512 per command, arriving together: one
        // SUBSCRIBE (a second if the task woke in the middle).
        assert!(
            (1..=2).contains(&calls),
            "{calls} SUBSCRIBE commands for 300 channels"
        );
        for channel in [&channels[0], &channels[299]] {
            assert_eq!(numsub(&redis, &node.keys().pubsub(channel)).await, 1);
        }
    })
    .await;
}

#[tokio::test]
async fn joins_leaves_and_control_messages_reach_every_node() {
    let redis = support::start_redis();
    let (a, mut a_events) = support::broker(support::config(&redis, "a")).await;
    let (b, mut b_events) = support::broker(support::config(&redis, "b")).await;
    support::within_deadline(async {
        a.subscribe("room").await.unwrap();
        let alice = ClientInfo {
            user: "alice".into(),
            client: "c1".into(),
            conn_info: Some(Bytes::from_static(b"{\"n\":1}")),
            chan_info: None,
        };
        b.publish_presence_event("room", true, &alice)
            .await
            .unwrap();
        b.publish_presence_event("room", false, &alice)
            .await
            .unwrap();
        assert_eq!(
            next_event(&mut a_events).await,
            BrokerEvent::Join {
                channel: "room".into(),
                info: alice.clone()
            }
        );
        assert_eq!(
            next_event(&mut a_events).await,
            BrokerEvent::Leave {
                channel: "room".into(),
                info: alice
            }
        );
        let command = ControlCommand::Disconnect {
            user: "alice".into(),
            client: None,
            whitelist: Vec::new(),
            code: 3000,
            reason: "moved".into(),
        };
        a.send_control(command.clone()).await.unwrap();
        for events in [&mut a_events, &mut b_events] {
            match next_event(events).await {
                BrokerEvent::Control(message) => {
                    assert_eq!(message.from, "a");
                    assert_eq!(message.command, command);
                }
                other => panic!("expected the control message, got {other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_killed_pubsub_connection_resubscribes_and_delivers_what_it_missed() {
    let redis = support::start_redis();
    let (node, mut events, publisher, _publisher_events) = node_a_and_publisher_b(&redis).await;
    support::within_deadline(async {
        subscribe_and_receive_first(&node, &mut events, &publisher, "feed", "m1").await;
        let killed = kill_pubsub_connections(&redis).await;
        assert!(integer(&killed) >= 1, "the pub/sub connections were killed");
        // Published while the node's subscription is (or is about to be) gone.
        for index in 2..=4 {
            publish(&publisher, "feed", &format!("m{index}")).await;
        }
        publish(&publisher, "feed", "m5").await;
        // Publications and health changes as they come: the node must go
        // down and up again and still deliver 2..=5 once each, in order.
        let (received, health) = publications_across_a_reconnect(&mut events, "feed", 4).await;
        assert_eq!(health, vec![false, true], "one reconnect");
        let expected: Vec<(u64, String)> =
            (2..=5).map(|index| (index, format!("m{index}"))).collect();
        assert_eq!(
            received, expected,
            "every missed publication once, in order"
        );
        assert!(node.is_healthy());
        assert_eq!(numsub(&redis, &node.keys().pubsub("feed")).await, 1);
    })
    .await;
}

#[tokio::test]
async fn lost_redis_data_is_reported_as_a_gap_never_skipped() {
    let redis = support::start_redis();
    let (node, mut events, publisher, _publisher_events) = node_a_and_publisher_b(&redis).await;
    support::within_deadline(async {
        subscribe_and_receive_first(&node, &mut events, &publisher, "feed", "old").await;
        kill_pubsub_connections(&redis).await;
        support::raw(&redis, &["FLUSHALL"]).await;
        health(&mut events, false).await;
        publish(&publisher, "feed", "new epoch").await;
        expect_gap(
            &mut events,
            "feed",
            "a gap before anything of the new epoch",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn presence_and_registry_entries_expire_unless_refreshed() {
    let redis = support::start_redis();
    let mut config = support::config(&redis, "a");
    config.presence_ttl = Duration::from_millis(400);
    config.node_ttl = Duration::from_millis(400);
    let (a, _a_events) = support::broker(config.clone()).await;
    config.node_id = "b".into();
    let (b, _b_events) = support::broker(config).await;
    support::within_deadline(async {
        let member = |client: &str| ClientInfo {
            user: "u".into(),
            client: client.into(),
            ..ClientInfo::default()
        };
        a.presence_add("room", &member("kept")).await.unwrap();
        b.presence_add("room", &member("ghost")).await.unwrap();
        let node = |id: &str| NodeInfo {
            id: id.into(),
            name: format!("node {id}"),
            num_clients: 1,
            ..NodeInfo::default()
        };
        a.heartbeat(&node("a")).await.unwrap();
        b.heartbeat(&node("b")).await.unwrap();
        let mut ids: Vec<String> = a
            .nodes()
            .await
            .unwrap()
            .into_iter()
            .map(|info| info.id)
            .collect();
        ids.sort();
        assert_eq!(ids, vec!["a", "b"]);
        // Node b dies: only a keeps refreshing, past b's TTL.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let kept = member("kept");
            a.presence_refresh(&[("room", &kept), ("lobby", &kept)])
                .await
                .unwrap();
            a.heartbeat(&node("a")).await.unwrap();
        }
        assert_eq!(a.presence_stats("lobby").await.unwrap().num_clients, 1);
        let present: Vec<String> = a
            .presence("room")
            .await
            .unwrap()
            .into_iter()
            .map(|info| info.client)
            .collect();
        assert_eq!(present, vec!["kept"], "the dead node's member expired");
        assert_eq!(a.nodes().await.unwrap(), vec![node("a")]);
        a.leave_registry().await.unwrap();
        assert!(a.nodes().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn publishes_fail_clearly_while_redis_is_down() {
    let redis = support::start_redis();
    let (node, mut events) = support::broker(support::config(&redis, "a")).await;
    support::within_deadline(async {
        node.subscribe("feed").await.unwrap();
        drop(redis);
        health(&mut events, false).await;
        assert!(!node.is_healthy());
        let error = node
            .publish("feed", &Bytes::from_static(b"1"), None, Some(HISTORY), None)
            .await
            .expect_err("a publish Redis never stored is not acknowledged");
        assert!(matches!(error, RedisEngineError::Unavailable(_)), "{error}");
        assert!(error.to_string().contains("--redis-url"), "{error}");
        assert!(matches!(
            node.subscribe("other").await,
            Err(RedisEngineError::PubSubDown)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_silently_dropped_subscription_is_caught_by_the_liveness_probe() {
    let redis = support::start_redis();
    let freezer = support::freezer::Freezer::start(redis.ports()[0]).await;
    let mut config = support::config(&redis, "a");
    config.url = format!("redis://127.0.0.1:{}", freezer.port());
    let (node, mut events, publisher, _publisher_events) =
        node_and_publisher(config, support::config(&redis, "b")).await;
    support::within_deadline(async {
        subscribe_and_receive_first(&node, &mut events, &publisher, "feed", "m1").await;
        // Redis still sends, the socket stays open, nothing arrives.
        freezer.freeze_pubsub();
        publish(&publisher, "feed", "m2").await;
        let (received, health) = publications_across_a_reconnect(&mut events, "feed", 1).await;
        assert_eq!(
            health,
            vec![false, true],
            "the probe noticed and the node reconnected"
        );
        assert_eq!(
            received,
            vec![(2, "m2".to_owned())],
            "the missed publication, from the stream"
        );
    })
    .await;
}

#[tokio::test]
async fn a_redis_restart_without_persistence_means_reconnect_new_epoch_and_a_gap() {
    let mut redis = support::restartable::RestartableRedis::start();
    let (node, mut events, publisher, _publisher_events) = node_and_publisher(
        support::config_for_url(redis.url(), "a"),
        support::config_for_url(redis.url(), "b"),
    )
    .await;
    support::within_deadline(async {
        node.subscribe("feed").await.unwrap();
        let before = publisher
            .publish("feed", &Bytes::from_static(b"1"), None, Some(HISTORY), None)
            .await
            .unwrap()
            .position;
        assert_eq!(publication(&next_event(&mut events).await, "feed").0, 1);
        redis.restart();
        health(&mut events, false).await;
        // The script cache is gone too: EVALSHA falls back to EVAL. The
        // command connection reconnects by itself; a publish racing the
        // restart may fail (clearly) and is retried here.
        let after = loop {
            match publisher
                .publish("feed", &Bytes::from_static(b"2"), None, Some(HISTORY), None)
                .await
            {
                Ok(published) => break published.position,
                Err(RedisEngineError::Unavailable(_)) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(other) => panic!("unexpected error {other}"),
            }
        };
        assert_eq!(after.offset, 1);
        assert_ne!(after.epoch, before.epoch, "the lost stream got a new epoch");
        expect_gap(&mut events, "feed", "a gap").await;
        let (position, recovery) = publisher
            .recover("feed", before, HISTORY, 300)
            .await
            .unwrap();
        assert_eq!(position, after);
        assert_eq!(
            recovery,
            switchboard_hub_core::history::Recovery::NotRecovered
        );
        let mut presence_ok = false;
        for _ in 0..100 {
            let member = member_with_client("c");
            if node.presence_refresh(&[("feed", &member)]).await.is_ok() {
                presence_ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            presence_ok,
            "pipelined presence refresh loads its script after a restart"
        );
        assert_eq!(node.presence_stats("feed").await.unwrap().num_clients, 1);
    })
    .await;
}

#[tokio::test]
async fn publishes_survive_a_script_flush() {
    let redis = support::start_redis();
    let (node, _events) = support::broker(support::config(&redis, "a")).await;
    support::within_deadline(async {
        assert_eq!(publish(&node, "feed", "1").await, 1);
        support::raw(&redis, &["SCRIPT", "FLUSH"]).await;
        assert_eq!(
            publish(&node, "feed", "2").await,
            2,
            "EVALSHA fell back to EVAL"
        );
        let member = member_with_client("c");
        support::raw(&redis, &["SCRIPT", "FLUSH"]).await;
        node.presence_refresh(&[("feed", &member)]).await.unwrap();
        assert_eq!(node.presence_stats("feed").await.unwrap().num_clients, 1);
    })
    .await;
}
