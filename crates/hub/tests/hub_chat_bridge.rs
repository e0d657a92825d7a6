//! `/chat` is a view of the hub channel `chat`: raw members and
//! Centrifugo clients subscribed to `chat` see one another's messages.

mod common;

use common::{run, Hub, JsonClient};
use serde_json::{json, Value};
use switchboard::{ClientBuilder, Message, WebSocket};
use tokio::net::TcpStream;

async fn member(hub: &Hub, protocol: &str) -> WebSocket<TcpStream> {
    let tcp = TcpStream::connect(hub.addr).await.unwrap();
    let (ws, _) = ClientBuilder::new(format!("ws://{}/chat", hub.addr))
        .subprotocol(protocol)
        .connect_on(tcp)
        .await
        .expect("join /chat");
    ws
}

async fn next_text(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.recv().await.expect("open").expect("no error") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

#[test]
fn raw_members_and_hub_clients_see_each_others_messages() {
    run(async {
        let hub = Hub::start_default().await;
        let mut client = JsonClient::connect(&hub.url()).await;
        client
            .request(json!({"subscribe": {"channel": "chat", "join_leave": true}}))
            .await;

        let mut rich = member(&hub, "superchat").await;
        let welcome: Value = serde_json::from_str(&next_text(&mut rich).await).unwrap();
        let number = welcome["member"].as_u64().unwrap().to_string();
        // The member's join reaches the hub client, with its number as id.
        loop {
            let push = client.next_push().await;
            // (The client's own join comes first.)
            if let Some(join) = push.get("join") {
                if join["info"]["client"] == number.as_str() {
                    break;
                }
                assert_eq!(join["info"]["client"], client.client_id().as_str());
            }
        }
        let mut plain = member(&hub, "chat").await;

        // Raw text is published as {"text": ...} with the member as publisher.
        plain.send(Message::text("hello from raw")).await.unwrap();
        assert_eq!(next_text(&mut plain).await, "hello from raw");
        let publication = client.next_publication("chat").await;
        assert_eq!(publication["data"], json!({"text": "hello from raw"}));
        assert!(
            publication["offset"].as_u64().unwrap() >= 1,
            "{publication}"
        );

        // A hub client's publication reaches raw members as text.
        client
            .request(json!({"publish": {"channel": "chat", "data": {"text": "hi raw"}}}))
            .await;
        assert_eq!(next_text(&mut plain).await, "hi raw");
        let from_client = client.client_id();
        loop {
            let event: Value = serde_json::from_str(&next_text(&mut rich).await).unwrap();
            if event["type"] == "message" && event["text"] == "hi raw" {
                assert_eq!(event["from"], from_client.as_str());
                break;
            }
        }
        // History keeps the raw member's message for recovery.
        let history = client
            .request(json!({"history": {"channel": "chat", "limit": 10}}))
            .await;
        let texts: Vec<_> = history["history"]["publications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["data"]["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts, ["hello from raw", "hi raw"]);
    });
}
