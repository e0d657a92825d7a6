//! The `switchboard::upgrade::WebSocketUpgrade` extractor in a real axum
//! 0.8 `Router` served by `axum::serve` on 127.0.0.1: plain HTTP and
//! WebSocket routes on one port, the core's rejections, `Option<..>` on a
//! shared route, and permessage-deflate negotiated through axum.
#![cfg(feature = "axum")]

mod upgrade_support;

use std::net::SocketAddr;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use switchboard::upgrade::{Downcast, WebSocketUpgrade};
use switchboard::{ClientBuilder, DeflateConfig, Message};
use switchboard_testkit::io::CountingIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use upgrade_support::*;

#[derive(Clone)]
struct AppState {
    reports: mpsc::UnboundedSender<ServerSaw>,
}

/// `/ws`: echo with subprotocols `chat.v2`, `chat.v1` (any method reaches
/// the extractor, so the core decides about non-GET requests).
async fn ws_echo(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.protocols(["chat.v2", "chat.v1"])
        .on_upgrade(move |ws| echo(ws, state.reports))
}

/// `/deflate`: echo with permessage-deflate at default settings.
async fn deflate_echo(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.deflate(DeflateConfig::default())
        .on_upgrade(move |ws| echo(ws, state.reports))
}

/// `/deflate-low-memory`: echo with the no-context-takeover preset.
async fn low_memory_echo(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.deflate(DeflateConfig::low_memory())
        .on_upgrade(move |ws| echo(ws, state.reports))
}

/// `/maybe`: a WebSocket for upgrade requests, plain text otherwise.
async fn maybe_ws(State(state): State<AppState>, ws: Option<WebSocketUpgrade>) -> Response {
    match ws {
        Some(ws) => ws
            .protocols(["chat.v1"])
            .on_upgrade(move |ws| echo(ws, state.reports)),
        None => "plain HTTP on the WebSocket route".into_response(),
    }
}

/// `/direct`: echo over the TCP stream itself (`on_upgrade_downcast`),
/// reporting first whether the handover gave the stream (a text
/// "direct") or hyper's box ("boxed").
async fn direct_echo(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.protocols(["chat.v2", "chat.v1"])
        .on_upgrade_downcast::<TcpStream, _, _>(move |ws| async move {
            match ws {
                Downcast::Direct(ws) => {
                    let _ = state.reports.send(ServerSaw::Data(Message::text("direct")));
                    echo(ws, state.reports).await
                }
                Downcast::Boxed(ws) => {
                    let _ = state.reports.send(ServerSaw::Data(Message::text("boxed")));
                    echo(ws, state.reports).await
                }
            }
        })
}

async fn start() -> (SocketAddr, mpsc::UnboundedReceiver<ServerSaw>) {
    let (reports, received) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/", get(|| async { "plain HTTP here" }))
        .route("/ws", any(ws_echo))
        .route("/deflate", get(deflate_echo))
        .route("/deflate-low-memory", get(low_memory_echo))
        .route("/maybe", get(maybe_ws))
        .route("/direct", get(direct_echo))
        .with_state(AppState { reports });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

#[tokio::test]
async fn axum_serves_plain_http_and_websocket_on_one_port() {
    bounded(async {
        let (addr, mut reports) = start().await;
        plain_http_and_websocket_share_the_port(addr, "/", &mut reports).await;
    })
    .await;
}

#[tokio::test]
async fn axum_hands_pipelined_bytes_to_the_websocket() {
    bounded(async {
        let (addr, _reports) = start().await;
        pipelined_frame_is_echoed(addr, "/ws").await;
    })
    .await;
}

#[tokio::test]
async fn axum_rejects_bad_upgrades_with_the_core_responses() {
    bounded(async {
        let (addr, _reports) = start().await;

        plain_get_on_websocket_route_is_426(addr, "/ws").await;

        post_upgrade_is_405(addr, "/ws").await;

        let response = raw_http(
            addr,
            &upgrade_request("/ws", "Sec-WebSocket-Version: 7\r\n"),
        )
        .await;
        assert_eq!(response.status, 426);
        assert_eq!(response.header("sec-websocket-version"), Some("13"));

        // RFC 6455 §4.2.1 item 4: `Connection: Upgrade` is required.
        let no_connection = upgrade_request("/ws", "Sec-WebSocket-Version: 13\r\n")
            .replace("Connection: Upgrade", "Connection: close");
        let response = raw_http(addr, &no_connection).await;
        assert_eq!(response.status, 400);
        assert!(response.text().contains("Connection: Upgrade"));
    })
    .await;
}

#[tokio::test]
async fn optional_extractor_shares_a_route_between_http_and_websocket() {
    bounded(async {
        let (addr, mut reports) = start().await;
        let plain = plain_get(addr, "/maybe").await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.text(), "plain HTTP on the WebSocket route");

        // An upgrade attempt that breaks the rules is still refused.
        let bad_version = raw_http(
            addr,
            &upgrade_request("/maybe", "Sec-WebSocket-Version: 8\r\n"),
        )
        .await;
        assert_eq!(bad_version.status, 426);

        run_echo_session(format!("ws://{addr}/maybe"), "chat.v1", &mut reports).await;
    })
    .await;
}

#[tokio::test]
async fn axum_negotiates_deflate_and_compresses_on_the_wire() {
    bounded(async {
        let (addr, mut reports) = start().await;
        let tcp = CountingIo::new(TcpStream::connect(addr).await.unwrap());
        let counts = tcp.counts();
        let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/deflate"))
            .deflate(DeflateConfig::default())
            .connect_on(tcp)
            .await
            .unwrap();
        let extensions = accepted_extensions(&response);
        assert!(extensions.starts_with("permessage-deflate"), "{extensions}");

        let text = "{\"channel\":\"prices\",\"symbol\":\"ABC\",\"bid\":101.25}\n".repeat(1500);
        let after_handshake = counts.bytes_read();
        for _ in 0..3 {
            assert_echoed_and_seen(&mut ws, &mut reports, Message::text(text.clone())).await;
        }
        let binary: Vec<u8> = b"0123456789abcdef".repeat(4096);
        ws.send(Message::binary(binary.clone())).await.unwrap();
        let echo = ws.recv().await.unwrap().unwrap();
        assert!(
            echo == Message::binary(binary.clone()),
            "binary echo differs"
        );

        // The echoes arrived compressed: far fewer bytes than the payloads.
        let echoed = counts.bytes_read() - after_handshake;
        let payload = 3 * text.len() + binary.len();
        assert!(
            echoed * 10 < payload,
            "{echoed} bytes on the wire for {payload} bytes of messages"
        );
        ws.close(switchboard::CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn axum_deflate_presets_shape_the_answer() {
    bounded(async {
        let (addr, _reports) = start().await;
        let (mut ws, response) =
            connect_offering_deflate(format!("ws://{addr}/deflate-low-memory")).await;
        let extensions = accepted_extensions(&response);
        // RFC 7692 §7.1.1: the server announces its own no context
        // takeover; it answers client_no_context_takeover only when offered
        // (Node's `ws` refuses it unasked), and the default client does not.
        assert!(
            extensions.contains("server_no_context_takeover"),
            "{extensions}"
        );
        assert!(
            !extensions.contains("client_no_context_takeover"),
            "{extensions}"
        );
        let text = "repeat after me ".repeat(500);
        for _ in 0..2 {
            assert_echoed(&mut ws, Message::text(text.clone())).await;
        }

        // A route without deflate declines the same offer.
        let (_ws, response) = connect_offering_deflate(format!("ws://{addr}/ws")).await;
        assert!(response.headers().get("sec-websocket-extensions").is_none());
    })
    .await;
}

#[tokio::test]
async fn axum_serve_hands_over_the_tcp_stream_itself() {
    bounded(async {
        let (addr, mut reports) = start().await;
        let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/direct"))
            .subprotocol("chat.v1")
            .connect()
            .await
            .unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
        assert_eq!(
            next_report(&mut reports).await,
            ServerSaw::Data(Message::text("direct"))
        );
        assert_echoed_and_seen(&mut ws, &mut reports, Message::text("over TCP")).await;
        assert_echoed_and_seen(&mut ws, &mut reports, Message::binary(vec![3u8; 100_000])).await;
        // Bytes axum's server read past the request head reach the stream.
        pipelined_frame_is_echoed(addr, "/direct").await;
        assert_eq!(
            next_report(&mut reports).await,
            ServerSaw::Data(Message::text("direct"))
        );
    })
    .await;
}
