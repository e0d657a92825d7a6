//! Who may open a WebSocket: the Origin allow-list, the connection rate
//! and the session limit, decided before the 101 so that refusals are
//! plain HTTP answers.

use axum::response::{IntoResponse, Response};
use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::StatusCode;
use switchboard::UpgradeRequest;
use tokio::sync::OwnedSemaphorePermit;

use crate::app::App;

/// Why an upgrade request is answered over HTTP instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The browser Origin is not on the allow-list (403).
    Origin(String),
    /// `/chat` without `chat` or `superchat` among the offers (400).
    NoChatProtocol,
    /// `max_connections` sessions are open (503, `Retry-After: 1`).
    Full,
    /// More new connections per second than `connection_rate` allows
    /// (503, `Retry-After`: the whole seconds until a token is back).
    TooFast {
        /// Seconds until the next connection is admitted (at least 1).
        retry_after: u64,
    },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Refusal::Origin(origin) => (
                StatusCode::FORBIDDEN,
                format!(
                    "origin {origin} is not allowed; the server operator can allow it with --origin {origin}\n"
                ),
            ),
            Refusal::NoChatProtocol => (
                StatusCode::BAD_REQUEST,
                "the chat room speaks the subprotocols `chat` and `superchat`; offer one in \
                 Sec-WebSocket-Protocol (switchboard connect --subprotocol chat)\n"
                    .to_owned(),
            ),
            Refusal::Full => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many WebSocket connections; try again later\n".to_owned(),
            ),
            Refusal::TooFast { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "too many new WebSocket connections per second; retry in {retry_after} s\n"
                ),
            ),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match self {
            Refusal::Full => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Refusal::TooFast { retry_after } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Refusal::Origin(_) | Refusal::NoChatProtocol => {}
        }
        response
    }
}

/// RFC 6455 §10.2: a server that only serves certain sites checks the
/// Origin browsers send and refuses others with a 403. Clients without an
/// Origin are not browsers and cannot be ridden by a foreign page.
pub(crate) fn check_origin(app: &App, request: &UpgradeRequest) -> Result<(), Refusal> {
    match &request.origin {
        Some(origin) if !app.origin_allowed(origin) => {
            tracing::info!(%origin, "upgrade refused: origin not allowed");
            Err(Refusal::Origin(origin.clone()))
        }
        _ => Ok(()),
    }
}

/// Takes a token of the connection rate, then a session slot
/// (`max_connections`), held until the session ends. Taken last, after
/// every other check, so other refusals cost neither.
pub(crate) fn take_slot(app: &App) -> Result<OwnedSemaphorePermit, Refusal> {
    if let Some(rate) = &app.connection_rate {
        rate.admit().map_err(|retry_after| {
            tracing::warn!(
                retry_after,
                "connection rate exceeded, refusing an upgrade with 503"
            );
            Refusal::TooFast { retry_after }
        })?;
    }
    app.sessions.clone().try_acquire_owned().map_err(|_| {
        tracing::warn!(
            max_connections = app.max_connections,
            "session limit reached, refusing an upgrade with 503"
        );
        Refusal::Full
    })
}
