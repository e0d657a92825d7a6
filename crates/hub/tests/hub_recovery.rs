//! Recovery end to end: a client that drops its socket resubscribes with
//! its last position and gets every missed publication in order with
//! `recovered: true`; a position from another epoch gets `recovered:
//! false` and the current position.

mod common;

use common::{run, Hub, JsonClient};
use serde_json::json;

#[test]
fn a_dropped_client_recovers_every_missed_publication_in_order() {
    run(async {
        let hub = Hub::start_default().await;
        let mut publisher = JsonClient::connect(&hub.url()).await;
        let mut reader = JsonClient::connect(&hub.url()).await;
        let reply = reader
            .request(json!({"subscribe": {"channel": "feed"}}))
            .await;
        let epoch = reply["subscribe"]["epoch"].as_str().unwrap().to_owned();
        publisher
            .request(json!({"publish": {"channel": "feed", "data": {"n": 1}}}))
            .await;
        let first = reader.next_publication("feed").await;
        assert_eq!(first["offset"], 1);
        // The reader's socket goes away; three publications are missed.
        drop(reader);
        for n in 2..=4 {
            publisher
                .request(json!({"publish": {"channel": "feed", "data": {"n": n}}}))
                .await;
        }
        let mut reader = JsonClient::connect(&hub.url()).await;
        let reply = reader
            .request(json!({"subscribe": {
                "channel": "feed", "recover": true, "epoch": epoch, "offset": 1
            }}))
            .await;
        let result = &reply["subscribe"];
        assert_eq!(result["recovered"], true, "{reply}");
        assert_eq!(result["was_recovering"], true, "{reply}");
        assert_eq!(result["epoch"], epoch.as_str(), "{reply}");
        assert_eq!(result["offset"], 4, "{reply}");
        let recovered: Vec<_> = result["publications"]
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
        publisher
            .request(json!({"publish": {"channel": "feed", "data": {"n": 5}}}))
            .await;
        let live = reader.next_publication("feed").await;
        assert_eq!(live["offset"], 5);
        assert_eq!(live["data"], json!({"n": 5}));
    });
}

#[test]
fn a_position_from_another_epoch_is_not_recovered() {
    run(async {
        let hub = Hub::start_default().await;
        let mut client = JsonClient::connect(&hub.url()).await;
        client
            .request(json!({"publish": {"channel": "feed", "data": {"n": 1}}}))
            .await;
        let reply = client
            .request(json!({"subscribe": {
                "channel": "feed", "recover": true, "epoch": "not-this-one", "offset": 1
            }}))
            .await;
        let result = &reply["subscribe"];
        // `recovered: false` is the default value, omitted in JSON.
        assert!(
            result.get("recovered").is_none() || result["recovered"] == false,
            "{reply}"
        );
        assert_eq!(result["was_recovering"], true, "{reply}");
        assert_eq!(result["offset"], 1, "{reply}");
        assert!(result.get("publications").is_none(), "{reply}");
    });
}
