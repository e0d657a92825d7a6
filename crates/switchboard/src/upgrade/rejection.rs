//! Why an HTTP request could not become a WebSocket, as an HTTP response.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::Full;
use switchboard_proto::HandshakeError;

/// An HTTP request that cannot be upgraded; return
/// [`into_response`](UpgradeRejection::into_response) to the client.
///
/// The response is the one the protocol core decides on
/// ([`HandshakeError::to_response`]): 405 with `Allow: GET` for other
/// methods, 426 with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`
/// for plain HTTP requests and unsupported versions, 400 for malformed
/// upgrade headers, each with a one-line text body saying what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeRejection {
    /// The request breaks RFC 6455 §4.2.1 (or is not an upgrade request at
    /// all). The client sent it; the response tells it what to fix.
    #[error("not a valid WebSocket upgrade request: {0}")]
    Handshake(#[from] HandshakeError),
    /// The request is a valid upgrade, but the HTTP server cannot hand the
    /// connection over: it carries no `hyper::upgrade::OnUpgrade` (a
    /// request that did not come from a hyper server).
    /// Answered with 426 so the client retries over HTTP/1.1.
    #[error("this HTTP connection cannot be upgraded to a WebSocket; serve it with hyper's HTTP/1.1 server or its HTTP/2 server with enable_connect_protocol() (axum::serve does HTTP/1.1)")]
    NotUpgradable,
}

impl UpgradeRejection {
    /// The HTTP status the client gets (400, 405 or 426).
    pub fn status(&self) -> StatusCode {
        match self {
            UpgradeRejection::Handshake(error) => error.status(),
            UpgradeRejection::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
        }
    }

    /// The rejection as a response head and body, for servers that build
    /// their own body type.
    pub fn to_parts(&self) -> (http::Response<()>, Bytes) {
        match self {
            UpgradeRejection::Handshake(error) => error.to_response(),
            UpgradeRejection::NotUpgradable => {
                // Same shape as the core's 426 for a missing `Upgrade:
                // websocket`, with this variant's own explanation.
                let (mut response, _) = HandshakeError::NotWebSocketUpgrade.to_response();
                let body = Bytes::from(format!("{self}\n"));
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                (response, body)
            }
        }
    }

    /// The rejection as a hyper response (status, headers and text body).
    pub fn into_response(self) -> http::Response<Full<Bytes>> {
        let (response, body) = self.to_parts();
        response.map(|()| Full::new(body))
    }
}
