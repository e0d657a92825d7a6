//! `switchboard serve` over HTTP/2 (RFC 8441): ALPN `h2` on the TLS port
//! and h2c on a plain port, `/echo`, `/chat` and the hub reachable as
//! HTTP/2 streams, 100 WebSockets on one TCP connection, per-version
//! counters on `/metrics`, and `connect --http2`.

mod common;
mod h2_support;

use common::{connect, run_async, Server};
use h2_support::{counter, tls_server, trusting};
use switchboard::{ClientBuilder, ClientStream, Http2Connection, Message};
use switchboard_testkit::pki::TestPki;

#[test]
fn every_websocket_route_is_an_http2_stream_over_tls() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    run_async(async {
        let base = format!("wss://localhost:{}", server.addr.port());
        let (mut ws, response, connection) = ClientBuilder::new(format!("{base}/echo"))
            .tls_config(trusting(&pki))
            .connect_preferring_http2()
            .await
            .unwrap();
        assert!(matches!(ws.get_ref(), ClientStream::Http2(_)));
        assert_eq!(response.status(), 200);
        ws.send(Message::text("over h2")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over h2"));
        let connection = connection.expect("the server enables extended CONNECT");

        // The chat room and the hub ride the same TCP connection.
        let (mut chat, response) = ClientBuilder::new(format!("{base}/chat"))
            .subprotocol("chat")
            .connect_on_http2(&connection)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        chat.send(Message::text("hello room")).await.unwrap();
        let (mut hub, response) = ClientBuilder::new(format!("{base}/connection/websocket"))
            .connect_on_http2(&connection)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        hub.send(Message::text(r#"{"id":1,"connect":{}}"#))
            .await
            .unwrap();
        let reply = hub.recv().await.unwrap().unwrap();
        let Message::Text(reply) = reply else {
            panic!("the hub answers in JSON text, got {reply:?}");
        };
        assert!(reply.as_str().contains(r#""id":1"#), "{}", reply.as_str());
        assert!(reply.as_str().contains("connect"), "{}", reply.as_str());

        assert_eq!(
            counter(&server, Some(&pki), "websocket_requests_http2").await,
            3
        );
        assert_eq!(
            counter(&server, Some(&pki), "websocket_requests_http1").await,
            0
        );
    });
}

#[test]
fn a_hundred_websockets_share_one_connection_and_http1_still_works() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    run_async(async {
        let url = format!("wss://localhost:{}/echo", server.addr.port());
        let (_first, _, connection) = ClientBuilder::new(&url)
            .tls_config(trusting(&pki))
            .connect_preferring_http2()
            .await
            .unwrap();
        let connection = connection.unwrap();
        let builder = ClientBuilder::new(&url);
        let mut sockets = Vec::new();
        for _ in 0..100 {
            sockets.push(builder.connect_on_http2(&connection).await.unwrap().0);
        }
        for (index, ws) in sockets.iter_mut().enumerate() {
            ws.send(Message::text(format!("#{index}"))).await.unwrap();
        }
        for (index, ws) in sockets.iter_mut().enumerate() {
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(format!("#{index}"))
            );
        }
        // A plain HTTP/1.1 client on the same port.
        let (mut old, response) = ClientBuilder::new(&url)
            .tls_config(trusting(&pki))
            .connect()
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        old.send(Message::text("h1")).await.unwrap();
        assert_eq!(old.recv().await.unwrap().unwrap(), Message::text("h1"));

        assert_eq!(
            counter(&server, Some(&pki), "websocket_requests_http2").await,
            101
        );
        assert_eq!(
            counter(&server, Some(&pki), "websocket_requests_http1").await,
            1
        );
    });
}

#[test]
fn h2c_with_prior_knowledge_on_the_plain_port() {
    let server = Server::start(&[]);
    run_async(async {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let connection = Http2Connection::handshake(tcp).await.unwrap();
        assert!(connection.supports_websockets());
        let (mut ws, _) = ClientBuilder::new(server.ws_url("/echo"))
            .connect_on_http2(&connection)
            .await
            .unwrap();
        ws.send(Message::text("h2c")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("h2c"));
        assert_eq!(counter(&server, None, "websocket_requests_http2").await, 1);
    });
}

#[test]
fn connect_http2_says_which_protocol_it_used() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    let url = format!("wss://localhost:{}/echo", server.addr.port());
    let ca = pki.ca_path();
    let done = connect(
        &["--http2", "--ca", ca.to_str().unwrap(), &url],
        b"via h2\n",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "via h2\n");
    assert!(
        done.stderr.contains("using HTTP/2"),
        "stderr: {}",
        done.stderr
    );

    // A ws:// URL has no ALPN: HTTP/1.1, and it says so.
    let plain = Server::start(&[]);
    let done = connect(&["--http2", &plain.ws_url("/echo")], b"via h1\n");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "via h1\n");
    assert!(
        done.stderr.contains("using HTTP/1.1"),
        "stderr: {}",
        done.stderr
    );
}

#[test]
fn shutdown_closes_http2_websockets_with_1001_and_exits() {
    let pki = TestPki::new();
    let mut server = tls_server(&pki);
    run_async(async {
        let url = format!("wss://localhost:{}/echo", server.addr.port());
        let (mut first, _, connection) = ClientBuilder::new(&url)
            .tls_config(trusting(&pki))
            .connect_preferring_http2()
            .await
            .unwrap();
        let (mut second, _) = ClientBuilder::new(&url)
            .connect_on_http2(&connection.unwrap())
            .await
            .unwrap();
        server.signal("TERM");
        expect_going_away(&mut first).await;
        expect_going_away(&mut second).await;
    });
    let status = server.wait_exit(std::time::Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
}

/// The next thing on `ws` is the server's 1001 close.
async fn expect_going_away<S>(ws: &mut switchboard::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match ws.recv().await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, switchboard::CloseCode::GOING_AWAY)
        }
        other => panic!("expected a 1001 close, got {other:?}"),
    }
}
