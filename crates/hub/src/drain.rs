//! The paced drain: after the stop signal, WebSocket sessions are closed
//! a batch per tick so that their reconnects (to other nodes, or to this
//! service once it is back) arrive spread over the drain window instead
//! of all at once.
//!
//! Decisions:
//! * One batch every [`DRAIN_TICK`] (250 ms), the first at once. With `n`
//!   sessions open when the drain starts and a window `w`, there are
//!   `ticks = max(1, w / DRAIN_TICK)` batches of `ceil(n / ticks)`
//!   sessions, the last released one tick before the window ends, so the
//!   close handshakes fit in the window too. A window of 0 closes every
//!   session at once. A session that starts during the drain (its upgrade
//!   was answered just before the signal) joins the queue and counts
//!   against the same per-tick bound.
//! * During the drain the listener keeps accepting so that probes and
//!   scrapers get answers: `/live`, `/ready` (503), `/info` and `/metrics`
//!   answer as usual; WebSocket upgrades and server API calls are refused
//!   with 503 and `Retry-After` (see [`refuse_while_draining`]).
//! * The drain ends when the last session is gone or at the deadline
//!   (window + [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE)), whichever comes first.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE, RETRY_AFTER, UPGRADE};
use http::{Method, StatusCode};

use crate::app::App;

/// How often a batch of sessions is released.
pub const DRAIN_TICK: Duration = Duration::from_millis(250);
/// `Retry-After` on refusals during the drain, in seconds: long enough
/// for a load balancer to have taken this node out of rotation.
const RETRY_AFTER_SECONDS: &str = "5";

/// How a drain releases its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrainPlan {
    /// Sessions released per tick at most.
    pub(crate) batch: usize,
    /// Time between batches.
    pub(crate) tick: Duration,
    /// Batches needed for the sessions open at the start.
    pub(crate) ticks: u32,
}

impl DrainPlan {
    /// The plan for `open` sessions over `window` (see the module
    /// documentation for the formula).
    pub(crate) fn new(open: usize, window: Duration) -> DrainPlan {
        let slots = (window.as_millis() / DRAIN_TICK.as_millis()).max(1);
        let slots = usize::try_from(slots).unwrap_or(usize::MAX);
        let batch = open.div_ceil(slots).max(1);
        let ticks = open.div_ceil(batch);
        DrainPlan {
            batch,
            tick: DRAIN_TICK,
            ticks: u32::try_from(ticks).unwrap_or(u32::MAX),
        }
    }
}

/// Refuses WebSocket upgrades (HTTP/1.1 `Upgrade: websocket` and
/// HTTP/2 extended CONNECT) and server API calls once the drain has
/// started, with 503 and `Retry-After`; everything else passes. Requests
/// admitted before the signal are not affected: they finish.
pub(crate) async fn refuse_while_draining(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    if !app.shutdown.is_stopping() {
        return next.run(request).await;
    }
    let refusal = if is_websocket_upgrade(&request) {
        Some("the server is shutting down; connect again (another node will answer)\n")
    } else if request.uri().path().starts_with("/api/") {
        Some("the server is shutting down; send the API call again (another node will answer)\n")
    } else {
        None
    };
    match refusal {
        Some(body) => {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, Body::from(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            response
        }
        None => next.run(request).await,
    }
}

/// An HTTP/1.1 upgrade to WebSocket, or an HTTP/2 CONNECT (extended
/// CONNECT is how WebSockets start over HTTP/2).
fn is_websocket_upgrade(request: &Request) -> bool {
    if request.method() == Method::CONNECT {
        return true;
    }
    let mentions = |name, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    mentions(UPGRADE, "websocket") || mentions(CONNECTION, "upgrade")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_over_the_window() {
        let plan = DrainPlan::new(2_000, Duration::from_secs(4));
        assert_eq!(plan.tick, DRAIN_TICK);
        // 16 ticks of 250 ms in 4 s.
        assert_eq!(plan.batch, 125);
        assert_eq!(plan.ticks, 16);

        let plan = DrainPlan::new(2_001, Duration::from_secs(4));
        assert_eq!(plan.batch, 126, "rounded up so the window suffices");
        assert_eq!(plan.ticks, 16);
    }

    #[test]
    fn few_sessions_leave_one_per_tick() {
        let plan = DrainPlan::new(3, Duration::from_secs(30));
        assert_eq!(plan.batch, 1);
        assert_eq!(plan.ticks, 3);
    }

    #[test]
    fn a_window_shorter_than_a_tick_closes_everyone_at_once() {
        let plan = DrainPlan::new(500, Duration::ZERO);
        assert_eq!(plan.batch, 500);
        assert_eq!(plan.ticks, 1);
        let plan = DrainPlan::new(0, Duration::from_secs(30));
        assert_eq!(plan.batch, 1);
        assert_eq!(plan.ticks, 0);
    }
}
