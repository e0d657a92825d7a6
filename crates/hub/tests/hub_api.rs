//! The server HTTP API (Centrifugo-compatible) end to end: plain HTTP
//! requests on loopback against a running hub, with a JSON WebSocket
//! client on the receiving side.

mod common;

use common::{api, http, run, Hub, JsonClient};
use serde_json::{json, Value};
use switchboard_hub::{HubConfig, ServeError, Server};

#[test]
fn publish_returns_offset_and_epoch_and_reaches_subscribers() {
    run(async {
        let hub = Hub::start_default().await;
        let mut client = JsonClient::connect(&hub.url()).await;
        let reply = client
            .request(json!({"subscribe": {"channel": "news"}}))
            .await;
        let epoch = reply["subscribe"]["epoch"].as_str().unwrap().to_owned();
        let published = api(
            hub.addr,
            "publish",
            json!({"channel": "news", "data": {"text": "hi"}}),
        )
        .await;
        assert_eq!(published, json!({"result": {"offset": 1, "epoch": epoch}}));
        let publication = client.next_publication("news").await;
        assert_eq!(publication["data"], json!({"text": "hi"}));
        assert_eq!(publication["offset"], 1);
        assert!(publication.get("info").is_none(), "{publication}");
    });
}

#[test]
fn an_idempotency_key_returns_the_first_result_and_publishes_once() {
    run(async {
        let hub = Hub::start_default().await;
        let first = api(
            hub.addr,
            "publish",
            json!({"channel": "orders", "data": 1, "idempotency_key": "k"}),
        )
        .await;
        let again = api(
            hub.addr,
            "publish",
            json!({"channel": "orders", "data": 2, "idempotency_key": "k"}),
        )
        .await;
        assert_eq!(first, again);
        assert_eq!(first["result"]["offset"], 1);
        let other = api(
            hub.addr,
            "publish",
            json!({"channel": "orders", "data": 3, "idempotency_key": "k2"}),
        )
        .await;
        assert_eq!(other["result"]["offset"], 2);
        let history = api(
            hub.addr,
            "history",
            json!({"channel": "orders", "limit": -1}),
        )
        .await;
        let data: Vec<&Value> = history["result"]["publications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["data"])
            .collect();
        assert_eq!(data, vec![&json!(1), &json!(3)], "{history}");
        // Broadcast honours the key per channel.
        let broadcast = json!({"channels": ["orders", "fresh"], "data": 4, "idempotency_key": "k"});
        let reply = api(hub.addr, "broadcast", broadcast.clone()).await;
        let responses = reply["result"]["responses"].as_array().unwrap();
        assert_eq!(responses[0]["result"], first["result"], "{reply}");
        assert_eq!(responses[1]["result"]["offset"], 1, "{reply}");
        assert_eq!(api(hub.addr, "broadcast", broadcast).await, reply);
    });
}

#[test]
fn history_remove_keeps_the_position() {
    run(async {
        let hub = Hub::start_default().await;
        for n in 1..=3 {
            api(
                hub.addr,
                "publish",
                json!({"channel": "log", "data": {"n": n}}),
            )
            .await;
        }
        let position_only = api(hub.addr, "history", json!({"channel": "log"})).await;
        assert!(
            position_only["result"].get("publications").is_none(),
            "{position_only}"
        );
        assert_eq!(position_only["result"]["offset"], 3);
        let reversed = api(
            hub.addr,
            "history",
            json!({"channel": "log", "limit": 2, "reverse": true}),
        )
        .await;
        let offsets: Vec<u64> = reversed["result"]["publications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["offset"].as_u64().unwrap())
            .collect();
        assert_eq!(offsets, vec![3, 2]);
        let epoch = reversed["result"]["epoch"].clone();
        assert_eq!(
            api(hub.addr, "history_remove", json!({"channel": "log"})).await,
            json!({"result": {}})
        );
        let after = api(hub.addr, "history", json!({"channel": "log", "limit": -1})).await;
        assert_eq!(after, json!({"result": {"offset": 3, "epoch": epoch}}));
        let next = api(hub.addr, "publish", json!({"channel": "log", "data": {}})).await;
        assert_eq!(next["result"]["offset"], 4);
        let since = api(
            hub.addr,
            "history",
            json!({"channel": "log", "limit": 10, "since": {"offset": 3, "epoch": epoch}}),
        )
        .await;
        assert_eq!(
            since["result"]["publications"].as_array().unwrap().len(),
            1,
            "{since}"
        );
        let wrong = api(
            hub.addr,
            "history",
            json!({"channel": "log", "limit": 10, "since": {"offset": 1, "epoch": "nope"}}),
        )
        .await;
        assert_eq!(wrong["error"]["code"], 112, "{wrong}");
    });
}

#[test]
fn presence_channels_and_info_count_subscribers() {
    run(async {
        let hub = Hub::start_default().await;
        let mut alice = JsonClient::connect(&hub.url()).await;
        let mut bob = JsonClient::connect(&hub.url()).await;
        for client in [&mut alice, &mut bob] {
            client
                .request(json!({"subscribe": {"channel": "room.1"}}))
                .await;
        }
        alice
            .request(json!({"subscribe": {"channel": "lobby"}}))
            .await;
        let presence = api(hub.addr, "presence", json!({"channel": "room.1"})).await;
        let clients = presence["result"]["presence"].as_object().unwrap();
        assert_eq!(clients.len(), 2, "{presence}");
        assert_eq!(clients[&alice.client_id()]["client"], alice.client_id());
        let stats = api(hub.addr, "presence_stats", json!({"channel": "room.1"})).await;
        assert_eq!(stats, json!({"result": {"num_clients": 2, "num_users": 1}}));
        let channels = api(hub.addr, "channels", json!({})).await;
        assert_eq!(
            channels,
            json!({"result": {"channels": {"room.1": {"num_clients": 2}, "lobby": {"num_clients": 1}}}})
        );
        let filtered = api(hub.addr, "channels", json!({"pattern": "room.*"})).await;
        assert_eq!(
            filtered,
            json!({"result": {"channels": {"room.1": {"num_clients": 2}}}})
        );
        let info = api(hub.addr, "info", json!({})).await;
        let node = &info["result"]["nodes"][0];
        assert_eq!(node["num_clients"], 2, "{info}");
        assert_eq!(node["num_users"], 1, "{info}");
        assert_eq!(node["num_channels"], 2, "{info}");
        assert_eq!(node["num_subs"], 3, "{info}");
        assert!(
            node["uid"].as_str().is_some_and(|uid| uid.len() == 36),
            "{info}"
        );
        assert!(
            node["name"].as_str().is_some_and(|name| !name.is_empty()),
            "{info}"
        );
        assert!(
            node["version"].as_str().unwrap().starts_with("switchboard"),
            "{info}"
        );
    });
}

#[test]
fn server_side_subscribe_unsubscribe_and_disconnect_reach_the_client() {
    run(async {
        let hub = Hub::start_default().await;
        let mut client = JsonClient::connect(&hub.url()).await;
        let id = client.client_id();
        let reply = api(
            hub.addr,
            "subscribe",
            json!({"user": "", "client": id, "channel": "alerts", "data": {"why": "ops"}}),
        )
        .await;
        assert_eq!(reply, json!({"result": {}}));
        let push = client.next_push().await;
        assert_eq!(push["channel"], "alerts", "{push}");
        let subscribe = &push["subscribe"];
        assert_eq!(subscribe["recoverable"], true, "{push}");
        assert_eq!(subscribe["positioned"], true, "{push}");
        assert!(
            subscribe["epoch"].as_str().is_some_and(|e| !e.is_empty()),
            "{push}"
        );
        assert_eq!(subscribe["data"], json!({"why": "ops"}), "{push}");
        api(
            hub.addr,
            "publish",
            json!({"channel": "alerts", "data": "first"}),
        )
        .await;
        assert_eq!(client.next_publication("alerts").await["data"], "first");
        let presence = api(hub.addr, "presence_stats", json!({"channel": "alerts"})).await;
        assert_eq!(presence["result"]["num_clients"], 1);

        api(
            hub.addr,
            "unsubscribe",
            json!({"user": "", "client": id, "channel": "alerts"}),
        )
        .await;
        let push = client.next_push().await;
        assert_eq!(push["channel"], "alerts", "{push}");
        assert_eq!(push["unsubscribe"]["code"], 2000, "{push}");
        let stats = api(hub.addr, "presence_stats", json!({"channel": "alerts"})).await;
        assert_eq!(stats, json!({"result": {}}));

        // A user-aimed command needs a user or a client.
        let refused = api(hub.addr, "disconnect", json!({"user": ""})).await;
        assert_eq!(refused["error"]["code"], 107, "{refused}");
        // The whitelist spares the connection.
        api(
            hub.addr,
            "disconnect",
            json!({"user": "", "client": id, "whitelist": [id]}),
        )
        .await;
        assert!(client
            .request(json!({"presence_stats": {"channel": "x"}}))
            .await
            .get("error")
            .is_none());
        api(
            hub.addr,
            "disconnect",
            json!({"user": "", "client": id, "disconnect": {"code": 4001, "reason": "bye"}}),
        )
        .await;
        let frame = client.closed().await.expect("a close frame");
        assert_eq!(u16::from(frame.code), 4001);
        assert_eq!(frame.reason.as_str(), "bye");

        let mut other = JsonClient::connect(&hub.url()).await;
        let other_id = other.client_id();
        api(
            hub.addr,
            "disconnect",
            json!({"user": "", "client": other_id}),
        )
        .await;
        let frame = other.closed().await.expect("a close frame");
        assert_eq!(
            u16::from(frame.code),
            3503,
            "the default is force disconnect"
        );
    });
}

#[test]
fn batch_answers_each_command_in_order() {
    run(async {
        let hub = Hub::start_default().await;
        let reply = api(
            hub.addr,
            "batch",
            json!({"commands": [
            {"publish": {"channel": "a", "data": 1}},
            {"publish": {"channel": "", "data": 1}},
            {"presence_stats": {"channel": "a"}},
            {"nonsense": {}},
        ], "parallel": false}),
        )
        .await;
        let replies = reply["replies"].as_array().unwrap();
        assert_eq!(replies.len(), 4, "{reply}");
        assert_eq!(replies[0]["publish"]["offset"], 1, "{reply}");
        assert_eq!(replies[1]["error"]["code"], 107, "{reply}");
        assert_eq!(replies[2], json!({"presence_stats": {}}), "{reply}");
        assert_eq!(replies[3]["error"]["code"], 104, "{reply}");
    });
}

#[test]
fn errors_come_as_centrifugo_error_objects_and_http_statuses() {
    run(async {
        let hub = Hub::start_default().await;
        let missing = api(hub.addr, "publish", json!({"data": {}})).await;
        assert_eq!(missing["error"]["code"], 107, "{missing}");
        let no_data = api(hub.addr, "publish", json!({"channel": "x"})).await;
        assert_eq!(no_data["error"]["code"], 107, "{no_data}");
        let unknown_namespace = api(
            hub.addr,
            "publish",
            json!({"channel": "nope:x", "data": {}}),
        )
        .await;
        assert_eq!(
            unknown_namespace["error"]["code"], 102,
            "{unknown_namespace}"
        );
        let (status, body) = http(hub.addr, "POST", "/api/nonsense", &[], "{}").await;
        assert_eq!(status, 404);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
            104
        );
        let (status, _) = http(hub.addr, "GET", "/api/info", &[], "").await;
        assert_eq!(status, 405);
        let (status, _) = http(hub.addr, "POST", "/api/publish", &[], "{not json").await;
        assert_eq!(status, 400);
    });
}

#[test]
fn a_configured_key_is_required_in_either_header() {
    run(async {
        let hub = Hub::start(HubConfig {
            api_key: Some("s3cret".into()),
            ..HubConfig::default()
        })
        .await;
        let body = json!({"channel": "k", "data": {}}).to_string();
        let (status, _) = http(hub.addr, "POST", "/api/publish", &[], &body).await;
        assert_eq!(status, 401);
        let (status, _) = http(
            hub.addr,
            "POST",
            "/api/publish",
            &[("X-API-Key", "wrong")],
            &body,
        )
        .await;
        assert_eq!(status, 401);
        let (status, body_one) = http(
            hub.addr,
            "POST",
            "/api/publish",
            &[("X-API-Key", "s3cret")],
            &body,
        )
        .await;
        assert_eq!(status, 200, "{body_one}");
        let (status, body_two) = http(
            hub.addr,
            "POST",
            "/api/publish",
            &[("Authorization", "apikey s3cret")],
            &body,
        )
        .await;
        assert_eq!(status, 200, "{body_two}");
        assert_eq!(
            serde_json::from_str::<Value>(&body_two).unwrap()["result"]["offset"],
            2
        );
    });
}

#[test]
fn the_api_never_serves_beyond_loopback_without_a_key() {
    run(async {
        let mut config = HubConfig {
            listen: "0.0.0.0:0".into(),
            allow_anonymous_beyond_loopback: true,
            ..HubConfig::default()
        };
        let error = Server::bind(config.clone())
            .await
            .expect_err("no key beyond loopback");
        assert!(
            matches!(error, ServeError::ApiKeyRequired { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("--api-key"), "{error}");
        // A separate loopback API address is fine without a key.
        config.api_listen = Some("127.0.0.1:0".into());
        let server = Server::bind(config.clone()).await.expect("API on loopback");
        assert!(server.api_addr().ip().is_loopback());
        drop(server);
        config.api_listen = Some("0.0.0.0:0".into());
        config.listen = "127.0.0.1:0".into();
        let error = Server::bind(config).await.expect_err("API beyond loopback");
        assert!(
            matches!(error, ServeError::ApiKeyRequired { .. }),
            "{error}"
        );
    });
}

#[test]
fn a_separate_api_address_takes_the_api_off_the_main_listener() {
    run(async {
        let config = HubConfig {
            listen: "127.0.0.1:0".into(),
            api_listen: Some("127.0.0.1:0".into()),
            ..HubConfig::default()
        };
        let server = Server::bind(config).await.unwrap();
        let (main, api_addr) = (server.local_addr(), server.api_addr());
        assert_ne!(main, api_addr);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_until(async {
            let _ = stopped.await;
        }));
        let (status, _) = http(main, "POST", "/api/info", &[], "{}").await;
        assert_eq!(status, 404);
        let (status, _) = http(main, "GET", "/metrics", &[], "").await;
        assert_eq!(status, 404);
        let (status, _) = http(main, "GET", "/ready", &[], "").await;
        assert_eq!(status, 200);
        let info = api(api_addr, "info", json!({})).await;
        assert!(info["result"]["nodes"][0]["uid"].is_string(), "{info}");
        let (status, _) = http(api_addr, "GET", "/metrics", &[], "").await;
        assert_eq!(status, 200);
        let _ = stop.send(());
        task.await.unwrap();
    });
}
