//! The plain HTTP answers: the native-WebSocket chat page (`/chat.html`),
//! `/healthz`, and what WebSocket routes and unknown paths say to requests
//! that are not upgrades. The demo page at `/` is in `assets`.

use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

/// The chat page served at `/chat.html`: the `/chat` room with the
/// browser's native WebSocket, compiled in so it works without built assets.
pub const CHAT_PAGE: &str = include_str!("chat.html");

const TEXT: &str = "text/plain; charset=utf-8";

/// `/chat.html`: the native-WebSocket chat page.
pub(crate) fn chat_page(method: &Method) -> Response {
    only_get_or_head(method).unwrap_or_else(|| {
        plain(
            StatusCode::OK,
            "text/html; charset=utf-8",
            CHAT_PAGE.as_bytes(),
        )
    })
}

/// `/healthz`: `200 ok`.
pub(crate) fn healthz(method: &Method) -> Response {
    only_get_or_head(method).unwrap_or_else(|| plain(StatusCode::OK, TEXT, b"ok"))
}

/// A WebSocket route asked without `Upgrade: websocket`: 426 with the
/// headers RFC 6455 §4.2.2 names, so the client knows what to send.
pub(crate) fn websocket_only(method: &Method) -> Response {
    only_get_or_head(method).unwrap_or_else(|| {
        let mut response = plain(
            StatusCode::UPGRADE_REQUIRED,
            TEXT,
            b"this endpoint speaks WebSocket: connect with a WebSocket client (e.g. `switchboard connect`)\n",
        );
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        response
    })
}

/// Any path outside the route table.
pub(crate) fn not_found(paths: &'static str) -> Response {
    let body = format!("not found; try {paths}\n");
    plain(StatusCode::NOT_FOUND, TEXT, body.as_bytes())
}

/// `None` for GET and HEAD; a 405 naming them otherwise. (A HEAD answer
/// is the GET answer: hyper sends its head, `Content-Length` included,
/// and drops the body.)
pub(crate) fn only_get_or_head(method: &Method) -> Option<Response> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let mut response = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        TEXT,
        b"only GET and HEAD are allowed here\n",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}

/// A response that caches nowhere (every answer reflects the live server).
pub(crate) fn plain(status: StatusCode, content_type: &'static str, body: &[u8]) -> Response {
    let mut response = (status, body.to_vec()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
