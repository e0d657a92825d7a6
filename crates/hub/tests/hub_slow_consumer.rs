//! A client that stops reading is disconnected with 3008 "slow" (its
//! bounded outbound queue overflows or a write times out) while the
//! publisher and other subscribers carry on.

mod common;

use common::{run, Hub, JsonClient};
use serde_json::json;
use switchboard::{ClientBuilder, Message};

#[test]
fn a_client_that_stops_reading_is_closed_with_3008_and_others_keep_up() {
    run(async {
        let hub = Hub::start_default().await;
        // A subscriber with a tiny receive buffer that does not read.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(hub.addr).await.unwrap();
        let (ws, _) = ClientBuilder::new(hub.url()).connect_on(tcp).await.unwrap();
        let mut slow = JsonClient::with_socket(ws).await;
        slow.request(json!({"subscribe": {"channel": "firehose"}}))
            .await;
        let mut fast = JsonClient::connect(&hub.url()).await;
        fast.request(json!({"subscribe": {"channel": "firehose"}}))
            .await;
        let mut publisher = JsonClient::connect(&hub.url()).await;
        // 9 MiB in all: more than the 1 MiB queue bound plus what the
        // kernel buffers on loopback (the send buffer grows to 4 MiB).
        let blob = "x".repeat(16 * 1024);
        let posts = 576;
        for n in 0..posts {
            let reply = publisher
                .request(
                    json!({"publish": {"channel": "firehose", "data": {"n": n, "blob": blob}}}),
                )
                .await;
            assert!(reply.get("error").is_none(), "{reply}");
            // The fast subscriber keeps receiving meanwhile.
            let publication = fast.next_publication("firehose").await;
            assert_eq!(publication["data"]["n"], n);
        }
        // Now the slow one reads: some publications, then the close.
        let mut received = 0;
        let frame = loop {
            match slow.ws.recv().await {
                Some(Ok(Message::Text(_))) => received += 1,
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("expected a close frame, got {error}"),
                None => panic!("the connection ended without a close frame"),
            }
        };
        let frame = frame.expect("a close code");
        assert_eq!(frame.code.0, 3008, "{frame:?}");
        assert_eq!(frame.reason.as_str(), "slow");
        assert!(received < posts, "all {received} publications arrived");
    });
}
