//! The route table: every path `switchboard serve` answers, in one place.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures_util::future::Either;
use http::Method;
use switchboard::upgrade::{Downcast, WebSocketUpgrade};
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::admission::{check_origin, take_slot, Refusal};
use crate::app::App;
use crate::chat::ChatProtocol;
use crate::ids::client_id;
use crate::{api, assets, chat, echo, hub_session, ops, pages};
use switchboard_hub_core::wire::Format;

/// The paths the 404 answer suggests (the route table below).
const PATHS: &str =
    "/, /chat.html, /assets/<file>, /healthz, /live, /ready, /echo, /chat, /connection/websocket, /api/<method>, /metrics or /info";
/// The paths a separate API address answers.
const API_PATHS: &str = "/api/<method>, /metrics, /info, /live or /ready";

/// Every route. Plain HTTP and WebSocket upgrades share one table; the
/// WebSocket routes answer plain requests with 426.
pub(crate) fn routes(app: Arc<App>) -> Router {
    let router = if app.api_on_main {
        with_api(Router::new())
    } else {
        Router::new()
    };
    router
        .route("/live", any(ops::live))
        .route("/ready", any(ops::ready))
        .route(
            "/",
            any(|State(app): State<Arc<App>>, method: Method| async move {
                assets::index(&app.web_root, &method).await
            }),
        )
        .route(
            "/assets/{*path}",
            any(
                |State(app): State<Arc<App>>,
                 method: Method,
                 axum::extract::Path(path): axum::extract::Path<String>| async move {
                    assets::asset(&app.web_root, &method, &path).await
                },
            ),
        )
        .route(
            "/chat.html",
            any(|method: Method| async move { pages::chat_page(&method) }),
        )
        .route(
            "/favicon.ico",
            any(|method: Method| async move { assets::favicon(&method) }),
        )
        .route(
            "/healthz",
            any(|method: Method| async move { pages::healthz(&method) }),
        )
        .route("/echo", any(echo_route))
        .route("/chat", any(chat_route))
        .route("/connection/websocket", any(hub_route))
        .fallback(|| async { pages::not_found(PATHS) })
        .with_state(app)
}

/// The routes of a separate API address (`api_listen`): the server API,
/// `/metrics`, `/info`, `/live` and `/ready`.
pub(crate) fn api_routes(app: Arc<App>) -> Router {
    with_api(Router::new())
        .route("/live", any(ops::live))
        .route("/ready", any(ops::ready))
        .fallback(|| async { pages::not_found(API_PATHS) })
        .with_state(app)
}

/// Adds the server API, `/metrics` and `/info`.
fn with_api(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router
        .route("/api/{method}", any(api::route))
        .route("/metrics", any(ops::metrics))
        .route("/info", any(ops::info))
}

/// `/echo`: WebSocket echo.
async fn echo_route(
    State(app): State<Arc<App>>,
    method: Method,
    upgrade: Option<WebSocketUpgrade>,
) -> Response {
    let Some(upgrade) = upgrade else {
        return pages::websocket_only(&method);
    };
    if let Err(refusal) = check_origin(&app, upgrade.request()) {
        return refusal.into_response();
    }
    let slot = match take_slot(&app) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    // Logged here, in the connection's span (which names the peer); the
    // session task runs outside any span (see `hub_route`).
    tracing::info!(route = "/echo", "websocket session opened");
    let shutdown = app.shutdown.clone();
    app.echo_socket
        .apply(upgrade)
        .on_upgrade(move |ws| echo::run(ws, shutdown, slot))
}

/// `/chat`: the chat room, subprotocol `chat` or `superchat`.
async fn chat_route(
    State(app): State<Arc<App>>,
    method: Method,
    upgrade: Option<WebSocketUpgrade>,
) -> Response {
    let Some(upgrade) = upgrade else {
        return pages::websocket_only(&method);
    };
    if let Err(refusal) = check_origin(&app, upgrade.request()) {
        return refusal.into_response();
    }
    // RFC 6455 §4.2.2: the chosen subprotocol is one the client offered;
    // the room takes the first it supports in the client's order.
    let Some(protocol) = ChatProtocol::choose(&upgrade.request().subprotocols) else {
        tracing::info!(
            route = "/chat",
            "upgrade refused: no chat subprotocol offered"
        );
        return Refusal::NoChatProtocol.into_response();
    };
    let slot = match take_slot(&app) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    let span = tracing::Span::current();
    app.chat_socket
        .apply(upgrade)
        .protocols([protocol.name()])
        .on_upgrade(move |ws| {
            async move {
                let _slot = slot;
                tracing::info!(
                    route = "/chat",
                    subprotocol = protocol.name(),
                    "websocket session opened"
                );
                chat::run_member(ws, protocol, &app.hub, &app.members, app.shutdown.clone()).await;
                tracing::info!(route = "/chat", "websocket session ended");
            }
            .instrument(span)
        })
}

/// `/connection/websocket`: the Centrifugo client protocol. The format is
/// Protobuf for the `centrifuge-protobuf` subprotocol or
/// `?format=protobuf`, JSON otherwise (hub-core's rule).
async fn hub_route(
    State(app): State<Arc<App>>,
    method: Method,
    uri: http::Uri,
    upgrade: Option<WebSocketUpgrade>,
) -> Response {
    let Some(upgrade) = upgrade else {
        return pages::websocket_only(&method);
    };
    if let Err(refusal) = check_origin(&app, upgrade.request()) {
        return refusal.into_response();
    }
    let negotiated = Format::negotiate(
        upgrade.request().subprotocols.iter().map(String::as_str),
        uri.query(),
    );
    let slot = match take_slot(&app) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    let mut upgrade = app.hub_socket.apply(upgrade);
    if let Some(subprotocol) = negotiated.subprotocol {
        upgrade = upgrade.protocols([subprotocol]);
    }
    let format = negotiated.format;
    let client = client_id();
    // Logged here, in the connection's span (which names the peer), with
    // the client id the session's own lines carry. The session task runs
    // outside that span: a live span keeps its registry entry and fields
    // (about 400 bytes) for the connection's whole life.
    tracing::info!(
        route = "/connection/websocket",
        client,
        ?format,
        "websocket session opened"
    );
    // The session's future is the task's whole state: wrapping it in an
    // async block of its own would store the WebSocket a second time.
    // On a plain port the session runs over the TCP stream itself, not
    // hyper's boxed connection: under fan-out every delivery polls the
    // read side, and the box's wrappers cost cache misses and a virtual
    // call each time (and an allocation per connection).
    upgrade.on_upgrade_downcast::<TcpStream, _, _>(move |ws| match ws {
        Downcast::Direct(ws) => Either::Left(hub_session::run(ws, format, client, app, slot)),
        Downcast::Boxed(ws) => Either::Right(hub_session::run(ws, format, client, app, slot)),
    })
}
