//! `serve` options that show on the wire or in the logs: keepalive pings
//! and JSON logs.

mod common;

use common::{run_async, Server};
use switchboard::{ClientBuilder, CloseCode, Config, Message};

#[test]
fn ping_interval_makes_the_server_ping_an_idle_client() {
    let server = Server::start(&["--ping-interval", "50ms"]);
    run_async(async {
        // This client sends no keepalive of its own, so any ping is the server's.
        let (mut ws, _) = ClientBuilder::new(server.ws_url("/echo"))
            .config(Config::default().ping_interval(None))
            .connect()
            .await
            .unwrap();
        match ws.recv().await.unwrap().unwrap() {
            Message::Ping(_) => {}
            other => panic!("expected a keepalive ping, got {other:?}"),
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn json_logs_are_one_object_per_line() {
    let server = Server::start(&["--log-format", "json"]);
    let log = server.log();
    let listening = log
        .iter()
        .find(|line| line.contains("listening on"))
        .expect("a listening line");
    let value: serde_json::Value = serde_json::from_str(listening).expect("JSON");
    assert_eq!(value["level"], "INFO");
    assert_eq!(
        value["fields"]["message"],
        format!("listening on {}", server.addr)
    );
    assert_eq!(value["fields"]["addr"], server.addr.to_string());
}

#[test]
fn compression_is_accepted_only_when_enabled() {
    let offer = ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"];
    let plain = Server::start(&[]);
    let response = common::request(plain.addr, &common::upgrade_request("/echo", &offer));
    assert_eq!(response.status, 101);
    assert_eq!(response.header("sec-websocket-extensions"), None);

    let compressing = Server::start(&["--compression", "on"]);
    let response = common::request(compressing.addr, &common::upgrade_request("/echo", &offer));
    assert_eq!(response.status, 101);
    let accepted = response
        .header("sec-websocket-extensions")
        .unwrap_or_default();
    assert!(accepted.starts_with("permessage-deflate"), "{accepted}");
}

#[test]
fn compressed_echo_round_trips() {
    let server = Server::start(&["--compression", "low-memory"]);
    run_async(async {
        let (mut ws, response) = ClientBuilder::new(server.ws_url("/echo"))
            .deflate(switchboard::proto::deflate::DeflateConfig::balanced())
            .connect()
            .await
            .unwrap();
        assert!(response.headers().contains_key("sec-websocket-extensions"));
        let text = "switchboard compresses repetitive text. ".repeat(4096);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
    let done = common::connect(
        &["--compression", "on", &server.ws_url("/echo")],
        b"compressed line\n",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "compressed line\n");
}
