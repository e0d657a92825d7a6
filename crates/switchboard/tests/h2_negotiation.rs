//! `ClientBuilder::connect_preferring_http2` over TLS: HTTP/2 when ALPN
//! selects `h2` and the server enables extended CONNECT, HTTP/1.1
//! otherwise, and it says which it used. Also the axum extractor over
//! HTTP/2.
#![cfg(all(feature = "axum", feature = "http2"))]

mod h2_support;

use h2_support::*;
use http::StatusCode;
use switchboard::{ClientBuilder, ClientStream, Message};
use switchboard_testkit::pki::TestPki;

async fn preferring_http2(server: &Server, pki: &TestPki) -> (bool, StatusCode) {
    let (mut ws, response, connection) =
        ClientBuilder::new(format!("wss://127.0.0.1:{}/ws", server.addr.port()))
            .tls_config(client_tls(pki))
            .connect_preferring_http2()
            .await
            .expect("one of the two paths works");
    ws.send(Message::text("which path?")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("which path?")
    );
    let over_http2 = matches!(ws.get_ref(), ClientStream::Http2(_));
    assert_eq!(over_http2, connection.is_some());
    (over_http2, response.status())
}

#[tokio::test]
async fn alpn_h2_with_extended_connect_gives_http2_and_shares_the_connection() {
    bounded(async {
        let pki = TestPki::new();
        let server = start(Options {
            tls: Some(acceptor(&pki).offering_http2()),
            connect_protocol: true,
            ..Options::default()
        })
        .await;
        let (over_http2, status) = preferring_http2(&server, &pki).await;
        assert!(over_http2);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(server.count(|c| &c.http2_websockets), 1);

        let (_ws, _, connection) =
            ClientBuilder::new(format!("wss://127.0.0.1:{}/ws", server.addr.port()))
                .tls_config(client_tls(&pki))
                .connect_preferring_http2()
                .await
                .unwrap();
        let connection = connection.expect("HTTP/2 again");
        let builder = ClientBuilder::new(format!("wss://127.0.0.1:{}/ws", server.addr.port()));
        for _ in 0..5 {
            let (mut ws, _) = builder.connect_on_http2(&connection).await.unwrap();
            ws.send(Message::text("shared")).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("shared"));
        }
        // One TCP connection per connect_preferring_http2, none for the five.
        assert_eq!(server.count(|c| &c.connections), 2);
        assert_eq!(server.count(|c| &c.http2_websockets), 7);
    })
    .await;
}

#[tokio::test]
async fn alpn_http1_only_falls_back_on_the_same_connection() {
    bounded(async {
        let pki = TestPki::new();
        let server = start(Options {
            tls: Some(acceptor(&pki)),
            connect_protocol: true,
            ..Options::default()
        })
        .await;
        let (over_http2, status) = preferring_http2(&server, &pki).await;
        assert!(!over_http2);
        assert_eq!(status, StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(server.count(|c| &c.connections), 1);
        assert_eq!(server.count(|c| &c.http1_websockets), 1);
    })
    .await;
}

#[tokio::test]
async fn h2_without_extended_connect_falls_back_to_a_new_http1_connection() {
    bounded(async {
        let pki = TestPki::new();
        let server = start(Options {
            tls: Some(acceptor(&pki).offering_http2()),
            connect_protocol: false,
            ..Options::default()
        })
        .await;
        let (over_http2, status) = preferring_http2(&server, &pki).await;
        assert!(!over_http2);
        assert_eq!(status, StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(server.count(|c| &c.connections), 2);
        assert_eq!(server.count(|c| &c.http1_websockets), 1);
        assert_eq!(server.count(|c| &c.http2_websockets), 0);
    })
    .await;
}

#[tokio::test]
async fn the_axum_extractor_takes_extended_connect_on_an_any_route() {
    use axum::routing::any;
    use axum::Router;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use switchboard::upgrade::WebSocketUpgrade;
    use switchboard::Http2Connection;
    use tower_service::Service;

    bounded(async {
        let router = Router::new().route(
            "/ws",
            any(|ws: WebSocketUpgrade| async move {
                let over = if ws.is_http2() { "h2" } else { "h1" };
                ws.protocols(["chat.v1"])
                    .on_upgrade(move |mut ws| async move {
                        while let Some(Ok(Message::Text(text))) = ws.recv().await {
                            let answer = format!("{over}:{}", text.as_str());
                            if ws.send(Message::text(answer)).await.is_err() {
                                break;
                            }
                        }
                    })
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let router = router.clone();
                let service =
                    hyper::service::service_fn(move |request| router.clone().call(request));
                tokio::spawn(async move {
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    builder.http2().enable_connect_protocol();
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        let url = format!("ws://{addr}/ws");
        let connection = Http2Connection::handshake(tcp(addr).await).await.unwrap();
        let (mut ws, response) = ClientBuilder::new(&url)
            .subprotocol("chat.v1")
            .connect_on_http2(&connection)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("h2:hi"));

        let (mut ws, _) = ClientBuilder::new(&url).connect().await.unwrap();
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("h1:hi"));
    })
    .await;
}
