//! Transport limits of `/connection/websocket`: hub commands are small, so
//! the route accepts far smaller messages than `/echo` does.

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
