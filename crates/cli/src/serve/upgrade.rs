//! WebSocket upgrade requests: routing, the Origin allow-list, subprotocol
//! choice and the session limit, then the session itself.

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use switchboard::{Accept, Reject, UpgradeRequest};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;

use super::chat::ChatProtocol;
use super::http::{close_gracefully, write_response};
use super::rewind::Rewind;
use super::{chat, echo, App};

/// The WebSocket endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Echo,
    Chat,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Echo => "/echo",
            Route::Chat => "/chat",
        }
    }
}

/// Runs the handshake for an upgrade request whose head is at the start of
/// `prefix`, then the session. Refusals are answered over HTTP.
pub(crate) async fn dispatch<S>(mut io: S, prefix: Bytes, request: Request<()>, app: &App)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let route = match request.uri().path() {
        "/echo" => Route::Echo,
        "/chat" => Route::Chat,
        path => {
            tracing::debug!(path, "upgrade request for an unknown path");
            let mut response = Response::new(());
            *response.status_mut() = StatusCode::NOT_FOUND;
            let body = b"no WebSocket endpoint here; try /echo or /chat\n";
            let _ = write_response(&mut io, response, body, false).await;
            close_gracefully(&mut io).await;
            return;
        }
    };
    drop(request);
    let server = match route {
        Route::Echo => &app.echo_server,
        Route::Chat => &app.chat_server,
    };
    let mut permit = None;
    let mut chat_protocol = None;
    let accepted = server
        .accept_with(Rewind::new(prefix, io), |request| {
            decide(route, request, app, &mut permit, &mut chat_protocol)
        })
        .await;
    let ws = match accepted {
        Ok(ws) => ws,
        Err(error) => {
            tracing::info!(route = route.name(), %error, "upgrade refused");
            return;
        }
    };
    // Held until the session ends: it is what --max-connections counts.
    let _permit = permit;
    let protocol = chat_protocol.map(ChatProtocol::name);
    tracing::info!(
        route = route.name(),
        subprotocol = protocol,
        "websocket session opened"
    );
    match (route, chat_protocol) {
        (Route::Chat, Some(protocol)) => {
            chat::run_member(ws, protocol, &app.room, app.shutdown.clone()).await
        }
        _ => echo::run(ws, app.shutdown.clone()).await,
    }
    tracing::info!(route = route.name(), "websocket session ended");
}

/// The server's answer to a valid upgrade request. Checks run cheapest and
/// most specific first; the session slot is taken last so refusals never
/// hold one.
fn decide(
    route: Route,
    request: &UpgradeRequest,
    app: &App,
    permit: &mut Option<OwnedSemaphorePermit>,
    chat_protocol: &mut Option<ChatProtocol>,
) -> Result<Accept, Reject> {
    // RFC 6455 §10.2: a server that only serves certain sites checks the
    // Origin browsers send and refuses others with a 403. Clients without
    // an Origin are not browsers and cannot be ridden by a foreign page.
    if let Some(origin) = &request.origin {
        if !app.origin_allowed(origin) {
            return Err(Reject::new(StatusCode::FORBIDDEN).body(format!(
                "origin {origin} is not allowed; the server operator can allow it with --origin {origin}\n"
            )));
        }
    }
    let mut accept = Accept::new();
    if route == Route::Chat {
        // RFC 6455 §4.2.2: the chosen subprotocol is one the client offered.
        let Some(protocol) = ChatProtocol::choose(&request.subprotocols) else {
            return Err(Reject::new(StatusCode::BAD_REQUEST).body(
                "the chat room speaks the subprotocols `chat` and `superchat`; offer one in \
                 Sec-WebSocket-Protocol (switchboard connect --subprotocol chat)\n",
            ));
        };
        accept = accept.subprotocol(protocol.name());
        *chat_protocol = Some(protocol);
    }
    match app.sessions.clone().try_acquire_owned() {
        Ok(slot) => *permit = Some(slot),
        Err(_) => {
            tracing::warn!(
                max_connections = app.max_connections,
                "session limit reached, refusing an upgrade with 503"
            );
            return Err(Reject::new(StatusCode::SERVICE_UNAVAILABLE)
                .header(RETRY_AFTER, HeaderValue::from_static("1"))
                .body("too many WebSocket connections; try again later\n"));
        }
    }
    Ok(accept)
}
