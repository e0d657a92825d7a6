//! SIGTERM and Ctrl-C (SIGINT): every WebSocket is closed with 1001 and the
//! process exits 0. The closes go through the paced drain (the default
//! 30 s window): with two sessions open it closes one per 250 ms tick, so
//! both are gone within the first two ticks; `serve_drain` tests the pacing
//! itself.

mod common;

use common::{run_async, Server, TIMEOUT};
use switchboard::{CloseCode, Message};

fn clients_get_1001_and_the_server_exits_0(signal: &str) {
    let mut server = Server::start(&[]);
    run_async(async {
        let (mut echo, _) = switchboard::connect(&server.ws_url("/echo")).await.unwrap();
        let (mut chat, _) = switchboard::ClientBuilder::new(server.ws_url("/chat"))
            .subprotocol("chat")
            .connect()
            .await
            .unwrap();
        // Both sessions are up before the signal.
        echo.send(Message::text("ready?")).await.unwrap();
        assert_eq!(echo.recv().await.unwrap().unwrap(), Message::text("ready?"));
        chat.send(Message::text("ready?")).await.unwrap();
        assert_eq!(chat.recv().await.unwrap().unwrap(), Message::text("ready?"));

        server.signal(signal);
        for ws in [&mut echo, &mut chat] {
            let frame = loop {
                match ws.recv().await.expect("a close frame").expect("no error") {
                    Message::Close(frame) => break frame,
                    _ => continue,
                }
            };
            assert_eq!(frame.expect("a close code").code, CloseCode::GOING_AWAY);
            // The stream then ends cleanly.
            while let Some(next) = ws.recv().await {
                next.unwrap();
            }
        }
    });
    let status = server.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "log: {:?}", server.log());
    assert!(server
        .log()
        .iter()
        .any(|line| line.contains("shutting down: draining 2 WebSocket sessions")));
}

#[test]
fn sigterm_closes_clients_with_1001_and_exits_0() {
    clients_get_1001_and_the_server_exits_0("TERM");
}

#[test]
fn sigint_closes_clients_with_1001_and_exits_0() {
    clients_get_1001_and_the_server_exits_0("INT");
}

#[test]
fn idle_server_exits_0_on_sigterm() {
    let mut server = Server::start(&[]);
    server.signal("TERM");
    assert_eq!(server.wait_exit(TIMEOUT).code(), Some(0));
}
