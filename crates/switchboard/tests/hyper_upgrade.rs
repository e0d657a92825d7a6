//! `switchboard::upgrade::Upgrade` inside a real hyper 1.x HTTP/1.1 server
//! on 127.0.0.1: plain HTTP and WebSocket on one port, the core's
//! rejections, pipelined bytes, deflate, and what happens without
//! `.with_upgrades()`.
#![cfg(feature = "hyper")]

mod upgrade_support;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use switchboard::proto::HandshakeError;
use switchboard::upgrade::{Upgrade, UpgradeRejection};
use switchboard::{ClientBuilder, CloseCode, DeflateConfig, Limits, Message};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use upgrade_support::*;

/// How the test server is set up.
#[derive(Clone)]
struct Server {
    with_upgrades: bool,
    deflate: Option<DeflateConfig>,
    reports: mpsc::UnboundedSender<ServerSaw>,
}

/// Starts a hyper server: `/ws` upgrades to an echo WebSocket (subprotocols
/// `chat.v2`, `chat.v1` in that order of preference), every other path
/// answers plain text.
async fn start(
    with_upgrades: bool,
    deflate: Option<DeflateConfig>,
) -> (SocketAddr, mpsc::UnboundedReceiver<ServerSaw>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reports, received) = mpsc::unbounded_channel();
    let server = Server {
        with_upgrades,
        deflate,
        reports,
    };
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let server = server.clone();
            let with_upgrades = server.with_upgrades;
            let service = service_fn(move |request| handle(request, server.clone()));
            tokio::spawn(async move {
                let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
                // Errors here are the client's doing (or, without upgrades,
                // the point of the test); the test asserts on reports.
                if with_upgrades {
                    let _ = connection.with_upgrades().await;
                } else {
                    let _ = connection.await;
                }
            });
        }
    });
    (addr, received)
}

async fn handle(
    mut request: Request<Incoming>,
    server: Server,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if path != "/ws" && path != "/small" {
        return Ok(Response::new(Full::new(Bytes::from_static(
            b"plain HTTP here",
        ))));
    }
    let upgrade = match Upgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let mut upgrade = upgrade.protocols(["chat.v2", "chat.v1"]);
    if let Some(config) = server.deflate.clone() {
        upgrade = upgrade.deflate(config);
    }
    if path == "/small" {
        upgrade = upgrade.limits(Limits::default().max_message_size(1024));
    }
    let (response, websocket) = upgrade.accept();
    let reports = server.reports;
    tokio::spawn(async move {
        match websocket.await {
            Ok(ws) => echo(ws, reports).await,
            Err(error) => {
                let _ = reports.send(ServerSaw::Failed(error.to_string()));
            }
        }
    });
    Ok(response)
}

#[tokio::test]
async fn hyper_serves_plain_http_and_websocket_on_one_port() {
    bounded(async {
        let (addr, mut reports) = start(true, None).await;
        plain_http_and_websocket_share_the_port(addr, "/hello", &mut reports).await;
    })
    .await;
}

#[tokio::test]
async fn hyper_hands_pipelined_bytes_to_the_websocket() {
    bounded(async {
        let (addr, _reports) = start(true, None).await;
        pipelined_frame_is_echoed(addr, "/ws").await;
    })
    .await;
}

#[tokio::test]
async fn hyper_answers_bad_upgrades_with_the_core_rejections() {
    bounded(async {
        let (addr, _reports) = start(true, None).await;

        // A plain GET on the WebSocket route: 426 naming the protocol.
        let response = plain_get_on_websocket_route_is_426(addr, "/ws").await;
        assert_eq!(
            response.header("content-length"),
            Some(response.body.len().to_string().as_str())
        );

        // RFC 6455 §4.2.1 item 6: an unsupported version gets 426 + 13.
        let response = raw_http(
            addr,
            &upgrade_request("/ws", "Sec-WebSocket-Version: 8\r\n"),
        )
        .await;
        assert_eq!(response.status, 426);
        assert_eq!(response.header("sec-websocket-version"), Some("13"));
        assert!(response.text().contains("version 8"));

        post_upgrade_is_405(addr, "/ws").await;

        // RFC 6455 §4.2.1 item 5: the key must be base64 of 16 bytes.
        let bad_key = upgrade_request("/ws", "Sec-WebSocket-Version: 13\r\n")
            .replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        let response = raw_http(addr, &bad_key).await;
        assert_eq!(response.status, 400);
        assert!(response.text().contains("Sec-WebSocket-Key"));
    })
    .await;
}

#[tokio::test]
async fn hyper_negotiates_deflate_when_the_server_enables_it() {
    bounded(async {
        let (addr, mut reports) = start(true, Some(DeflateConfig::default())).await;
        let (mut ws, response) = connect_offering_deflate(format!("ws://{addr}/ws")).await;
        let extensions = accepted_extensions(&response);
        assert!(extensions.starts_with("permessage-deflate"), "{extensions}");
        let text = "{\"symbol\":\"ABC\",\"bid\":101.25}\n".repeat(2000);
        assert_echoed_and_seen(&mut ws, &mut reports, Message::text(text)).await;
    })
    .await;
}

#[tokio::test]
async fn hyper_declines_deflate_unless_enabled() {
    bounded(async {
        let (addr, _reports) = start(true, None).await;
        let (mut ws, response) = connect_offering_deflate(format!("ws://{addr}/ws")).await;
        assert!(response.headers().get("sec-websocket-extensions").is_none());
        // No subprotocol offered, so none is named.
        assert!(response.headers().get("sec-websocket-protocol").is_none());
        ws.send(Message::text("uncompressed")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("uncompressed")
        );
    })
    .await;
}

#[tokio::test]
async fn the_upgrade_applies_the_servers_limits() {
    bounded(async {
        let (addr, mut reports) = start(true, None).await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/small"))
            .connect()
            .await
            .unwrap();
        ws.send(Message::text("x".repeat(1024))).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("x".repeat(1024))
        );
        ws.send(Message::text("x".repeat(1025))).await.unwrap();
        // RFC 6455 §7.4.1: 1009 for a message too big to process.
        match ws.recv().await.unwrap().unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG),
            other => panic!("expected a 1009 close, got {other:?}"),
        }
        assert!(matches!(
            next_report(&mut reports).await,
            ServerSaw::Data(Message::Text(_))
        ));
        match next_report(&mut reports).await {
            ServerSaw::Failed(reason) => assert!(reason.contains("1009"), "{reason}"),
            other => panic!("expected the server to fail the message, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn without_with_upgrades_the_future_reports_why() {
    bounded(async {
        let (addr, mut reports) = start(false, None).await;
        // hyper still writes the 101, but never hands the connection over.
        if let Ok((mut ws, _)) = ClientBuilder::new(format!("ws://{addr}/ws"))
            .connect()
            .await
        {
            let _ = ws.send(Message::text("anyone?")).await;
            assert!(!matches!(ws.recv().await, Some(Ok(Message::Text(_)))));
        }
        match next_report(&mut reports).await {
            ServerSaw::Failed(reason) => {
                assert!(reason.contains("with_upgrades"), "{reason}")
            }
            other => panic!("expected a failed upgrade, got {other:?}"),
        }
    })
    .await;
}

/// A valid upgrade request built by hand, outside any server.
fn hand_built_request(protocols: &str) -> Request<()> {
    Request::builder()
        .uri("/ws?room=1")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "keep-alive, Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", protocols)
        .body(())
        .unwrap()
}

#[test]
fn a_request_no_server_can_upgrade_is_426() {
    let mut request = hand_built_request("chat.v1");
    let rejection = Upgrade::from_request(&mut request).unwrap_err();
    assert!(matches!(rejection, UpgradeRejection::NotUpgradable));
    assert_eq!(rejection.status(), StatusCode::UPGRADE_REQUIRED);
    let response = rejection.into_response();
    assert_eq!(response.headers()["upgrade"], "websocket");
    assert_eq!(response.headers()["connection"], "close");
    // The request itself is left as it was.
    assert_eq!(request.headers()["sec-websocket-protocol"], "chat.v1");
}

#[test]
fn invalid_requests_are_rejected_before_looking_for_the_connection() {
    let mut request = hand_built_request("chat.v1");
    request.headers_mut().remove("sec-websocket-key");
    let rejection = Upgrade::from_request(&mut request).unwrap_err();
    assert!(matches!(
        rejection,
        UpgradeRejection::Handshake(HandshakeError::MissingKey)
    ));
    assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_servers_preference_order_picks_the_subprotocol() {
    let upgrade_for = |protocols: &str| {
        let mut request = hand_built_request(protocols);
        // An upgrade handle that will never complete, so the checks and the
        // 101 can be looked at without a server.
        let never = hyper::upgrade::on(&mut request);
        request.extensions_mut().insert(never);
        Upgrade::from_request(&mut request).unwrap()
    };
    let upgrade = upgrade_for("chat.v1, chat.v2");
    assert_eq!(upgrade.request().request.uri().path(), "/ws");
    let upgrade = upgrade.protocols(["chat.v2", "chat.v1"]);
    assert_eq!(upgrade.selected_protocol(), Some("chat.v2"));
    let upgrade = upgrade.protocols(["graphql-ws"]);
    assert_eq!(upgrade.selected_protocol(), None);

    let (response, websocket) = upgrade_for("chat.v1").protocols(["chat.v1"]).accept();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    // RFC 6455 §1.3's sample key and accept value.
    assert_eq!(
        response.headers()["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
    assert!(response.headers().get("sec-websocket-extensions").is_none());
    // No server will hand a connection over: the future says so.
    let error = websocket.await.unwrap_err();
    assert!(matches!(error, switchboard::Error::Io(_)), "{error}");
}
