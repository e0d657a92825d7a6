//! `/connection/websocket` end to end with a minimal JSON client: connect,
//! subscribe, publish, receive, history, presence, join/leave, Protobuf
//! selection and shutdown.

mod common;

use common::{run, Hub, JsonClient};
use serde_json::json;
use switchboard::Message;

#[test]
fn connect_reply_carries_client_version_ping_and_pong() {
    run(async {
        let hub = Hub::start_default().await;
        let client = JsonClient::connect(&hub.url()).await;
        let reply = &client.connected;
        assert_eq!(client.client_id().len(), 36, "{reply}");
        assert!(
            reply["version"]
                .as_str()
                .unwrap()
                .starts_with("switchboard"),
            "{reply}"
        );
        assert!(reply["ping"].as_u64().unwrap() > 0, "{reply}");
        assert_eq!(reply["pong"], true, "{reply}");
        let other = JsonClient::connect(&hub.url()).await;
        assert_ne!(other.client_id(), client.client_id());
    });
}

#[test]
fn publications_reach_every_subscriber_in_order_with_offsets() {
    run(async {
        let hub = Hub::start_default().await;
        let mut alice = JsonClient::connect(&hub.url()).await;
        let mut bob = JsonClient::connect(&hub.url()).await;
        for client in [&mut alice, &mut bob] {
            let reply = client
                .request(json!({"subscribe": {"channel": "news"}}))
                .await;
            let result = &reply["subscribe"];
            assert_eq!(result["recoverable"], true, "{reply}");
            assert_eq!(result["positioned"], true, "{reply}");
            assert!(
                result["epoch"].as_str().is_some_and(|e| !e.is_empty()),
                "{reply}"
            );
        }
        for n in 1..=5 {
            let reply = alice
                .request(json!({"publish": {"channel": "news", "data": {"n": n}}}))
                .await;
            assert!(reply.get("error").is_none(), "{reply}");
        }
        for client in [&mut alice, &mut bob] {
            for n in 1..=5u64 {
                let publication = client.next_publication("news").await;
                assert_eq!(publication["data"], json!({"n": n}));
                assert_eq!(publication["offset"], n);
            }
        }
        let history = bob
            .request(json!({"history": {"channel": "news", "limit": 10}}))
            .await;
        let publications = history["history"]["publications"].as_array().unwrap();
        assert_eq!(publications.len(), 5, "{history}");
        assert_eq!(publications[4]["data"], json!({"n": 5}));
    });
}

#[test]
fn presence_and_join_leave_pushes_follow_subscribers() {
    run(async {
        let hub = Hub::start_default().await;
        let mut alice = JsonClient::connect(&hub.url()).await;
        // Joins and leaves go to the subscribers that ask for them (the
        // SDKs' `joinLeave`); Bob does not ask, so he only appears in them.
        alice
            .request(json!({"subscribe": {"channel": "room", "join_leave": true}}))
            .await;
        let mut bob = JsonClient::connect(&hub.url()).await;
        bob.request(json!({"subscribe": {"channel": "room"}})).await;
        // Alice sees her own join, then Bob's.
        let mut joined = Vec::new();
        while joined.len() < 2 {
            let push = alice.next_push().await;
            if let Some(info) = push.get("join") {
                joined.push(info["info"]["client"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(joined, [alice.client_id(), bob.client_id()]);
        let presence = alice
            .request(json!({"presence": {"channel": "room"}}))
            .await;
        let members = presence["presence"]["presence"].as_object().unwrap();
        assert!(members.contains_key(&alice.client_id()), "{presence}");
        assert!(members.contains_key(&bob.client_id()), "{presence}");
        let stats = alice
            .request(json!({"presence_stats": {"channel": "room"}}))
            .await;
        assert_eq!(stats["presence_stats"]["num_clients"], 2, "{stats}");

        let bob_id = bob.client_id();
        drop(bob);
        loop {
            let push = alice.next_push().await;
            if let Some(leave) = push.get("leave") {
                assert_eq!(leave["info"]["client"], bob_id.as_str());
                break;
            }
        }
    });
}

#[test]
fn protobuf_is_selected_by_subprotocol_or_query() {
    run(async {
        let hub = Hub::start_default().await;
        let (_ws, response) = JsonClient::open(&hub.url(), &["centrifuge-protobuf"]).await;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "centrifuge-protobuf"
        );
        // Protobuf over ?format=protobuf: a connect command (field 1 id=1,
        // field 4 connect = empty message), varint length-delimited.
        let (mut ws, _) = JsonClient::open(&format!("{}?format=protobuf", hub.url()), &[]).await;
        let command = [0x08, 0x01, 0x22, 0x00];
        let mut frame = vec![command.len() as u8];
        frame.extend(command);
        ws.send(Message::binary(frame)).await.unwrap();
        match ws.recv().await.unwrap().unwrap() {
            Message::Binary(reply) => {
                // Length prefix, then field 1 (id) = 1.
                assert_eq!(usize::from(reply[0]), reply.len() - 1, "{reply:?}");
                assert_eq!(&reply[1..3], &[0x08, 0x01], "{reply:?}");
            }
            other => panic!("expected a binary reply, got {other:?}"),
        }
    });
}

#[test]
fn shutdown_closes_clients_with_the_reconnecting_shutdown_code() {
    run(async {
        let hub = Hub::start_default().await;
        let mut client = JsonClient::connect(&hub.url()).await;
        let stopping = tokio::spawn(hub.stop());
        let frame = client.closed().await.expect("a close frame");
        assert_eq!(frame.code.0, 3001, "{frame:?}");
        stopping.await.unwrap();
    });
}

#[test]
fn a_plain_request_to_the_hub_route_gets_426() {
    run(async {
        let hub = Hub::start_default().await;
        let mut tcp = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tcp.write_all(
            b"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    });
}
