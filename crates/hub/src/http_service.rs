//! The hyper service in front of the route table: per-request bookkeeping
//! the router does not do (the connection decision and the `Server`
//! header) and the first-request flag of the connection.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::ext::Protocol;
use switchboard::UpgradeRequest;
use tower_service::Service;

use crate::app::App;

/// One connection's service: the shared router plus a flag raised when
/// the first request head has arrived, and the app whose metrics count
/// WebSocket requests by HTTP version.
#[derive(Debug, Clone)]
pub(crate) struct HttpService {
    router: Router,
    first_request_seen: Arc<AtomicBool>,
    app: Arc<App>,
}

impl HttpService {
    pub(crate) fn new(router: Router, first_request_seen: Arc<AtomicBool>, app: Arc<App>) -> Self {
        HttpService {
            router,
            first_request_seen,
            app,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for HttpService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.first_request_seen.store(true, Ordering::Relaxed);
        let keep_alive = wants_keep_alive(request.version(), request.headers());
        let upgrade = asks_for_upgrade(request.headers());
        let http2 = request.version() >= Version::HTTP_2;
        if opens_websocket(&request) {
            self.app.hub.engine.metrics().websocket_request(http2);
        }
        // axum's Router is always ready (its poll_ready never waits).
        let answer = self.router.clone().call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            if http2 {
                // HTTP/2 has no connection-level headers (RFC 9113 §8.2.2).
                let server = HeaderValue::from_static("switchboard");
                response.headers_mut().insert(header::SERVER, server);
            } else {
                finish_headers(&mut response, keep_alive, upgrade);
            }
            Ok(response)
        })
    }
}

/// Adds `Server` and the connection decision. A refused upgrade closes
/// the connection (the client meant to leave HTTP anyway); other answers
/// follow the client's keep-alive wish, which hyper honours from the
/// `Connection` header.
fn finish_headers(response: &mut Response<Body>, keep_alive: bool, upgrade: bool) {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static("switchboard"));
    if switching {
        return;
    }
    let connection = if keep_alive && !upgrade {
        "keep-alive"
    } else {
        "close"
    };
    headers.insert(header::CONNECTION, HeaderValue::from_static(connection));
}

/// Whether the request asks to open a WebSocket: `Upgrade: websocket` on
/// HTTP/1.1, or an RFC 8441 extended CONNECT (`:protocol`) on HTTP/2.
fn opens_websocket<B>(request: &Request<B>) -> bool {
    let protocol = request.extensions().get::<Protocol>().map(Protocol::as_str);
    if UpgradeRequest::is_extended_connect(request.method(), protocol) {
        return true;
    }
    request
        .headers()
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.trim().eq_ignore_ascii_case("websocket"))
}

/// Whether the request carries the `Upgrade` header (any protocol).
fn asks_for_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
}

/// HTTP/1.1 connections persist unless the client says `Connection:
/// close`; HTTP/1.0 ones only if it says `keep-alive` (RFC 9112 §9.3).
fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let has_token = |token: &str| {
        headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    };
    if version == Version::HTTP_10 {
        has_token("keep-alive")
    } else {
        !has_token("close")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn keep_alive_follows_the_version_default_and_connection_tokens() {
        assert!(wants_keep_alive(Version::HTTP_11, &headers(&[])));
        assert!(!wants_keep_alive(
            Version::HTTP_11,
            &headers(&[("connection", "Close")])
        ));
        assert!(!wants_keep_alive(Version::HTTP_10, &headers(&[])));
        assert!(wants_keep_alive(
            Version::HTTP_10,
            &headers(&[("connection", "keep-alive")])
        ));
        assert!(!wants_keep_alive(
            Version::HTTP_11,
            &headers(&[("connection", "upgrade, close")])
        ));
    }

    #[test]
    fn refused_upgrades_close_and_switching_responses_are_left_alone() {
        let mut refused = Response::new(Body::empty());
        *refused.status_mut() = StatusCode::FORBIDDEN;
        finish_headers(&mut refused, true, true);
        assert_eq!(refused.headers()[header::CONNECTION], "close");
        assert_eq!(refused.headers()[header::SERVER], "switchboard");

        let mut switching = Response::new(Body::empty());
        *switching.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        switching
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        finish_headers(&mut switching, true, true);
        assert_eq!(switching.headers()[header::CONNECTION], "upgrade");
    }
}
