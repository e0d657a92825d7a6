//! `/chat` on the real binary: subprotocol negotiation and broadcast.

mod common;

use common::{run_async, Server};
use switchboard::{ClientBuilder, CloseCode, Error, Message, WebSocket};
use tokio::net::TcpStream;

async fn join(
    server: &Server,
    offers: &[&str],
) -> Result<(WebSocket<TcpStream>, Option<String>), Error> {
    let mut builder = ClientBuilder::new(server.ws_url("/chat"));
    for offer in offers {
        builder = builder.subprotocol(*offer);
    }
    // connect_on over a plain TcpStream: the same socket type whatever
    // transports `connect` itself supports.
    let tcp = TcpStream::connect(server.addr).await?;
    let (ws, response) = builder.connect_on(tcp).await?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((ws, protocol))
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

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

#[test]
fn broadcasts_between_members_in_each_members_subprotocol() {
    let server = Server::start(&[]);
    run_async(async {
        // The server picks the first offer it supports, in the client's order.
        let (mut rich, protocol) = join(&server, &["superchat", "chat"]).await.unwrap();
        assert_eq!(protocol.as_deref(), Some("superchat"));
        let welcome = json(&next_text(&mut rich).await);
        assert_eq!(welcome["type"], "welcome");
        let me = welcome["member"].as_u64().unwrap();
        assert_eq!(
            json(&next_text(&mut rich).await),
            serde_json::json!({"type": "join", "member": me})
        );

        let (mut plain, protocol) = join(&server, &["x-unknown", "chat", "superchat"])
            .await
            .unwrap();
        assert_eq!(protocol.as_deref(), Some("chat"));
        let joined = json(&next_text(&mut rich).await);
        assert_eq!(joined["type"], "join");
        let other = joined["member"].as_u64().unwrap();
        assert_ne!(other, me);

        plain.send(Message::text("hello from plain")).await.unwrap();
        // Everyone gets it, the sender included, each in its format.
        assert_eq!(next_text(&mut plain).await, "hello from plain");
        assert_eq!(
            json(&next_text(&mut rich).await),
            serde_json::json!({"type": "message", "from": other, "text": "hello from plain"})
        );

        rich.send(Message::text("hi \"plain\"")).await.unwrap();
        assert_eq!(next_text(&mut plain).await, "hi \"plain\"");
        assert_eq!(
            json(&next_text(&mut rich).await),
            serde_json::json!({"type": "message", "from": me, "text": "hi \"plain\""})
        );

        plain.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(
            json(&next_text(&mut rich).await),
            serde_json::json!({"type": "leave", "member": other})
        );
        rich.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn a_client_offering_no_chat_subprotocol_is_refused_with_400() {
    let server = Server::start(&[]);
    run_async(async {
        for offers in [&[][..], &["mqtt"][..]] {
            match join(&server, offers).await {
                Err(Error::Http(response)) => {
                    assert_eq!(response.status(), 400);
                    let body = String::from_utf8_lossy(response.body()).into_owned();
                    assert!(body.contains("superchat"), "{body}");
                }
                Err(other) => panic!("expected HTTP 400, got {other}"),
                Ok(_) => panic!("{offers:?} was accepted"),
            }
        }
    });
}

#[test]
fn binary_messages_close_the_member_with_1003() {
    let server = Server::start(&[]);
    run_async(async {
        let (mut ws, _) = join(&server, &["chat"]).await.unwrap();
        ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        loop {
            match ws.recv().await.unwrap().unwrap() {
                Message::Close(Some(frame)) => {
                    assert_eq!(frame.code, CloseCode::UNSUPPORTED_DATA);
                    break;
                }
                Message::Close(None) => panic!("close without a code"),
                _ => {}
            }
        }
    });
}

#[test]
fn chat_messages_are_capped_at_16_kib() {
    let server = Server::start(&[]);
    run_async(async {
        let (mut ws, _) = join(&server, &["chat"]).await.unwrap();
        ws.send(Message::text("x".repeat(16 * 1024 + 1)))
            .await
            .unwrap();
        loop {
            match ws.recv().await.unwrap().unwrap() {
                Message::Close(Some(frame)) => {
                    assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG);
                    break;
                }
                Message::Text(text) => {
                    panic!("an oversized message was relayed ({} bytes)", text.len())
                }
                _ => {}
            }
        }
    });
}

#[test]
fn a_member_that_stops_reading_is_disconnected_with_1008_without_stalling_the_room() {
    let server = Server::start(&[]);
    run_async(async {
        // A member with a tiny receive buffer that does not read.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(server.addr).await.unwrap();
        let (mut slow, _) = ClientBuilder::new(server.ws_url("/chat"))
            .subprotocol("chat")
            .connect_on(tcp)
            .await
            .unwrap();
        let (mut fast, _) = join(&server, &["chat"]).await.unwrap();
        // More than the room's backlog plus every buffer on the way (on
        // Linux loopback the member stalls after about 170 posts and lags
        // 128 later), yet short enough that the stalled send stays well
        // under the room's 10 s send timeout on a loaded machine.
        let posts = 600;
        let text = "x".repeat(16 * 1024 - 16);
        for n in 0..posts {
            fast.send(Message::text(format!("{n:>8} {text}")))
                .await
                .unwrap();
            // The room keeps serving the fast member meanwhile.
            let echoed = next_text(&mut fast).await;
            assert!(echoed.starts_with(&format!("{n:>8} ")), "post {n}");
        }
        // Now the slow member reads: some posts, then a 1008 close.
        let mut received = 0;
        let frame = loop {
            match slow.recv().await.unwrap().unwrap() {
                Message::Text(_) => received += 1,
                Message::Close(frame) => break frame,
                _ => {}
            }
        };
        eprintln!("slow member got {received} posts before its close");
        assert_eq!(frame.unwrap().code, CloseCode::POLICY_VIOLATION);
        assert!(
            received < posts,
            "all {received} posts arrived; nothing was too slow"
        );
        fast.close(CloseCode::NORMAL, "").await.unwrap();
    });
}
