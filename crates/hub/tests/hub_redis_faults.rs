//! The Redis engine's faults seen from a hub: `/ready` answers 503 while
//! Redis is down and 200 once it is back; publishes meanwhile fail with a
//! clear error (never acknowledged and lost); and a channel whose
//! publications Redis lost (FLUSHALL) makes its subscribers recover
//! (unsubscribe push 2500), never a silent gap. Each test starts its own
//! `redis-server`, bounded by `hub_redis_support::TEST_DEADLINE`.

mod common;
mod hub_redis_support;

use common::JsonClient;
use hub_redis_support::{api, eventually, node, ready, redis_cli, run, RestartableRedis};
use serde_json::json;
use switchboard_hub::{EngineKind, HubConfig, RedisOptions, ServeError, Server};

#[test]
fn ready_is_red_while_redis_is_down_and_publishes_fail_clearly() {
    run(async {
        let mut redis = RestartableRedis::start();
        let hub = node(&redis.url(), "node-a").await;
        assert_eq!(ready(hub.addr).await, 200);
        let mut client = JsonClient::connect(&hub.url()).await;
        client
            .request(json!({"subscribe": {"channel": "feed"}}))
            .await;
        redis.kill();
        eventually("/ready turning 503", || async {
            ready(hub.addr).await == 503
        })
        .await;
        let refused = api(hub.addr, "publish", json!({"channel": "feed", "data": {}})).await;
        assert_eq!(refused["error"]["code"], 100, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("Redis")),
            "the error names the cause: {refused}"
        );
        let reply = client
            .request(json!({"publish": {"channel": "feed", "data": {}}}))
            .await;
        assert_eq!(
            reply["error"]["code"], 100,
            "a client publish is refused: {reply}"
        );
        redis.restart();
        eventually("/ready turning 200", || async {
            ready(hub.addr).await == 200
        })
        .await;
        let published = api(hub.addr, "publish", json!({"channel": "feed", "data": {}})).await;
        assert!(published["error"].is_null(), "{published}");
    });
}

#[test]
fn a_channel_redis_lost_makes_its_subscribers_recover() {
    run(async {
        let redis = RestartableRedis::start();
        let port: u16 = redis.url().rsplit(':').next().unwrap().parse().unwrap();
        let a = node(&redis.url(), "node-a").await;
        let b = node(&redis.url(), "node-b").await;
        let mut reader = JsonClient::connect(&a.url()).await;
        reader
            .request(json!({"subscribe": {"channel": "feed"}}))
            .await;
        api(
            b.addr,
            "publish",
            json!({"channel": "feed", "data": {"n": 1}}),
        )
        .await;
        assert_eq!(reader.next_publication("feed").await["offset"], 1);
        // Redis loses the channel: the next publish starts a new epoch.
        assert_eq!(redis_cli(port, &["FLUSHALL"]).trim(), "OK");
        let published = api(
            b.addr,
            "publish",
            json!({"channel": "feed", "data": {"n": 2}}),
        )
        .await;
        assert_eq!(published["result"]["offset"], 1, "{published}");
        let push = loop {
            let push = reader.next_push().await;
            assert!(
                push["pub"].is_null(),
                "no publication of the new epoch is delivered as if nothing happened: {push}"
            );
            if push["channel"] == "feed" && !push["unsubscribe"].is_null() {
                break push;
            }
        };
        assert_eq!(push["unsubscribe"]["code"], 2500, "{push}");
    });
}

#[test]
fn serve_refuses_to_start_without_redis_and_says_how_to_fix_it() {
    run(async {
        let unused = switchboard_testkit::free_port();
        let config = HubConfig {
            listen: "127.0.0.1:0".into(),
            engine: EngineKind::Redis(RedisOptions::new(format!("redis://127.0.0.1:{unused}"))),
            ..HubConfig::default()
        };
        let error = match Server::bind(config).await {
            Ok(_) => panic!("the hub started without Redis"),
            Err(error) => error,
        };
        assert!(matches!(error, ServeError::Redis { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("redis-server"), "{message}");
        assert!(message.contains("--redis-url"), "{message}");
    });
}
