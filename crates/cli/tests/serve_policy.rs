//! The Origin allow-list, the session limit and the config file, on the
//! real binary.

mod common;

use std::io::Write;

use common::{request, run_async, upgrade_request, Server};
use switchboard::{ClientBuilder, CloseCode, Error, Message};

#[test]
fn a_foreign_origin_is_refused_with_403() {
    let server = Server::start(&[
        "--origin",
        "https://good.example",
        "--origin",
        "http://localhost:3000/",
    ]);
    let foreign = request(
        server.addr,
        &upgrade_request("/echo", &["Origin: https://evil.example"]),
    );
    assert_eq!(foreign.status, 403);
    assert!(
        foreign.body_text().contains("--origin"),
        "{}",
        foreign.body_text()
    );
    // Listed origins (case and a trailing slash do not matter) and
    // clients without an Origin get through.
    for extra in [
        &["Origin: https://good.example"][..],
        &["Origin: HTTP://LOCALHOST:3000"][..],
        &[][..],
    ] {
        assert_eq!(
            request(server.addr, &upgrade_request("/echo", extra)).status,
            101,
            "{extra:?}"
        );
    }
    run_async(async {
        let refused = ClientBuilder::new(server.ws_url("/chat"))
            .subprotocol("chat")
            .origin("https://evil.example")
            .connect()
            .await;
        assert!(matches!(refused, Err(Error::Http(r)) if r.status() == 403));
    });
}

#[test]
fn any_origin_is_allowed_without_an_allow_list() {
    let server = Server::start(&[]);
    let response = request(
        server.addr,
        &upgrade_request("/echo", &["Origin: https://anywhere.example"]),
    );
    assert_eq!(response.status, 101);
}

#[test]
fn sessions_over_max_connections_get_503_until_one_ends() {
    let server = Server::start(&["--max-connections", "2"]);
    run_async(async {
        let url = server.ws_url("/echo");
        let (mut first, _) = switchboard::connect(&url).await.unwrap();
        let (mut second, _) = switchboard::connect(&url).await.unwrap();
        match switchboard::connect(&url).await {
            Err(Error::Http(response)) => {
                assert_eq!(response.status(), 503);
                assert_eq!(response.headers()["retry-after"], "1");
            }
            Err(other) => panic!("expected 503, got {other}"),
            Ok(_) => panic!("a third session was accepted over --max-connections 2"),
        }
        // Plain HTTP is not counted.
        let health = tokio::task::spawn_blocking({
            let addr = server.addr;
            move || request(addr, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status
        });
        assert_eq!(health.await.unwrap(), 200);
        // The open sessions still work.
        second.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            second.recv().await.unwrap().unwrap(),
            Message::text("still here")
        );
        // Once one ends, its slot is free again. The server releases the
        // slot when it sees the close; retry until it has (bounded by the
        // test timeout), since the client's close returns first.
        first.close(CloseCode::NORMAL, "").await.unwrap();
        let mut third = loop {
            match switchboard::connect(&url).await {
                Ok((ws, _)) => break ws,
                Err(Error::Http(response)) if response.status() == 503 => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                Err(other) => panic!("unexpected {other}"),
            }
        };
        third.send(Message::text("third")).await.unwrap();
        assert_eq!(third.recv().await.unwrap().unwrap(), Message::text("third"));
    });
}

#[test]
fn the_config_file_applies_and_flags_override_it() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("serve.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(
        file,
        "listen = \"127.0.0.1:1\"\norigin = [\"https://from-file.example\"]\nmax-connections = 1"
    )
    .unwrap();
    drop(file);
    // --listen (from Server::start) overrides the file's unusable address.
    let server = Server::start(&["--config", path.to_str().unwrap()]);
    let allowed = request(
        server.addr,
        &upgrade_request("/echo", &["Origin: https://from-file.example"]),
    );
    assert_eq!(allowed.status, 101);
    let other = request(
        server.addr,
        &upgrade_request("/echo", &["Origin: https://other.example"]),
    );
    assert_eq!(other.status, 403);

    let flagged = Server::start(&[
        "--config",
        path.to_str().unwrap(),
        "--origin",
        "https://other.example",
    ]);
    let other = request(
        flagged.addr,
        &upgrade_request("/echo", &["Origin: https://other.example"]),
    );
    assert_eq!(other.status, 101);

    std::fs::write(&path, "listen = \"127.0.0.1:0\"\nmax-conections = 1\n").unwrap();
    let output = std::process::Command::new(common::binary())
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max-conections"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
