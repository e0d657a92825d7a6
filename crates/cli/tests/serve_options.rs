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
