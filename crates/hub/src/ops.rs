//! Operations endpoints: `/live` (the process is up), `/ready` (accepting
//! and the engine answers: with Redis, its pub/sub connection is up and
//! probed), `/info` (node, uptime and counts as JSON; with Redis, every
//! live node of the registry under `nodes`) and `/metrics` (Prometheus
//! text format).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use serde_json::json;
use switchboard_hub_core::session::SERVER_VERSION;

use crate::api::registry_node;
use crate::app::App;
use crate::metrics::CONTENT_TYPE;

/// `/live`: answers as long as the process serves HTTP at all.
pub(crate) async fn live() -> Response {
    text(StatusCode::OK, "live\n")
}

/// `/ready`: 200 while the server accepts connections and its engine
/// answers; 503 once it is shutting down (load balancers stop sending
/// new clients before the drain closes the open ones).
pub(crate) async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.shutdown.is_stopping() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    if !app.hub.engine.is_healthy() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "engine unavailable\n");
    }
    text(StatusCode::OK, "ready\n")
}

/// `/info`: the node, its uptime and counts; with the Redis engine also
/// `nodes`, every live node in the registry (or `nodes_error` while Redis
/// does not answer).
pub(crate) async fn info(State(app): State<Arc<App>>) -> Response {
    let stats = app.hub.engine.stats();
    let mut body = json!({
        "uid": app.api.node.uid,
        "name": app.api.node.name,
        "version": SERVER_VERSION,
        "uptime": app.hub.engine.metrics().uptime().as_secs(),
        "num_clients": stats.num_clients,
        "num_users": stats.num_users,
        "num_channels": stats.num_channels,
        "num_subs": stats.num_subs,
        "ready": !app.shutdown.is_stopping(),
    });
    match app.hub.engine.nodes().await {
        Some(Ok(nodes)) => {
            body["nodes"] = nodes.iter().map(registry_node).collect();
        }
        Some(Err(error)) => body["nodes_error"] = error.to_string().into(),
        None => {}
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `/metrics`: every counter and gauge of the hub.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    let engine = &app.hub.engine;
    let page = engine
        .metrics()
        .render(&engine.node_counters(), &engine.stats());
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], page).into_response()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}
