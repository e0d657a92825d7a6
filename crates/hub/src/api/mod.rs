//! The server HTTP API, compatible with Centrifugo's: `POST /api/<method>`
//! with a JSON body, authenticated by `X-API-Key: KEY` or
//! `Authorization: apikey KEY`.
//!
//! Replies are `{"result":{...}}` or `{"error":{"code":..,"message":..}}`
//! with HTTP 200, as Centrifugo sends them (the `cent` client reads both);
//! a missing or wrong key gets 401, a body that is not JSON 400, an
//! unknown method 404 and a method other than POST 405. `batch` takes
//! `{"commands":[{"publish":{...}},...]}` and answers
//! `{"replies":[{"publish":{...}},...]}` in order.

mod error;
mod methods;
mod pattern;
mod requests;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::app::App;
use error::ApiError;
pub(crate) use methods::registry_node;
use methods::{execute, Context, METHODS};

/// Who this node is, for `info`.
#[derive(Debug, Clone)]
pub(crate) struct NodeIdentity {
    /// Unique per process (a UUID).
    pub(crate) uid: String,
    /// The node's name (the host name).
    pub(crate) name: String,
}

impl NodeIdentity {
    /// A fresh identity for this process, named `name` (default: the host
    /// name).
    pub(crate) fn new(name: Option<String>) -> Self {
        NodeIdentity {
            uid: crate::ids::client_id(),
            name: name.unwrap_or_else(host_name),
        }
    }
}

/// The machine's host name (`switchboard` when it has none).
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "switchboard".to_owned())
}

/// The API's access rule and identity.
#[derive(Debug, Clone)]
pub(crate) struct ApiAccess {
    /// The key requests must carry; `None` (loopback only) lets every
    /// request in.
    pub(crate) key: Option<String>,
    /// This node, for `info`.
    pub(crate) node: NodeIdentity,
}

impl ApiAccess {
    /// Whether `headers` carry the key (or no key is required).
    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(key) = &self.key else {
            return true;
        };
        let presented = headers
            .get("x-api-key")
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .or_else(|| {
                let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
                let (scheme, credentials) = value.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("apikey")
                    .then_some(credentials.trim())
            });
        presented.is_some_and(|presented| same_key(presented.as_bytes(), key.as_bytes()))
    }
}

/// Compares keys in time independent of where they differ.
fn same_key(presented: &[u8], expected: &[u8]) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    presented
        .iter()
        .zip(expected)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

/// `/api/<method>`.
pub(crate) async fn route(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the server API takes POST /api/<method> with a JSON body\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !app.api.allows(&headers) {
        return plain(
            StatusCode::UNAUTHORIZED,
            "unauthorized: send the API key as `X-API-Key: KEY` or `Authorization: apikey KEY`\n",
        );
    }
    let Some(method_name) = METHODS.iter().copied().find(|known| *known == name) else {
        let error = ApiError::method_not_found(&name);
        return (StatusCode::NOT_FOUND, json_body(&json!({ "error": error }))).into_response();
    };
    if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() && !body.is_empty() {
        return plain(
            StatusCode::BAD_REQUEST,
            "bad request: the body must be one JSON object\n",
        );
    }
    let params: &[u8] = if body.is_empty() { b"{}" } else { &body };
    let context = Context {
        hub: &app.hub,
        node: &app.api.node,
    };
    let metrics = app.hub.engine.metrics();
    let reply = if method_name == "batch" {
        batch(&context, params, metrics).await
    } else {
        let outcome = execute(&context, method_name, params).await;
        metrics.api_command(method_name, outcome.is_ok());
        match outcome {
            Ok(result) => json!({ "result": result }),
            Err(error) => json!({ "error": error }),
        }
    };
    (StatusCode::OK, json_body(&reply)).into_response()
}

/// `batch`: every command in order; each reply under its method's name,
/// or `error`.
async fn batch(context: &Context<'_>, params: &[u8], metrics: &crate::metrics::Metrics) -> Value {
    #[derive(serde::Deserialize)]
    struct Batch {
        #[serde(default)]
        commands: Vec<Map<String, Value>>,
    }
    let request: Batch = match serde_json::from_slice(params) {
        Ok(request) => request,
        Err(error) => {
            metrics.api_command("batch", false);
            return json!({ "error": ApiError::bad_request(error) });
        }
    };
    metrics.api_command("batch", true);
    let mut replies = Vec::with_capacity(request.commands.len());
    for command in &request.commands {
        let mut entries = command.iter();
        let (Some((name, params)), None) = (entries.next(), entries.next()) else {
            let error = ApiError::bad_request("each command has exactly one method");
            replies.push(json!({ "error": error }));
            continue;
        };
        let Some(method) = METHODS
            .iter()
            .copied()
            .find(|known| known == name && *known != "batch")
        else {
            replies.push(json!({ "error": ApiError::method_not_found(name) }));
            continue;
        };
        let params = serde_json::to_vec(params).unwrap_or_default();
        let outcome = execute(context, method, &params).await;
        metrics.api_command(method, outcome.is_ok());
        replies.push(match outcome {
            Ok(result) => json!({ method: result }),
            Err(error) => json!({ "error": error }),
        });
    }
    json!({ "replies": replies })
}

fn json_body(value: &Value) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}
