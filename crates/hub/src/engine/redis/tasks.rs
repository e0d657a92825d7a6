//! The node's timers: presence refreshes for local members (so that a
//! dead node's members expire within the presence TTL and no ghost stays)
//! and the registry heartbeat (so that `/info` and the API's `info` list
//! the live nodes).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::{Inner, WeakInner};

/// Refreshes the presence entries of every local member, three times per
/// presence TTL, until the engine is gone.
pub(super) async fn refresh_presence(engine: WeakInner) {
    every_third_of(
        engine,
        |inner| inner.broker.config().presence_ttl,
        |inner| async move {
            let members = inner.lock().channels.presence_members();
            let entries: Vec<(&str, &switchboard_hub_core::presence::ClientInfo)> = members
                .iter()
                .map(|(channel, info)| (&**channel, &**info))
                .collect();
            if let Err(error) = inner.broker.presence_refresh(&entries).await {
                tracing::warn!(%error, members = entries.len(), "presence refresh failed");
            }
        },
    )
    .await;
}

/// Refreshes this node's registry entry three times per node TTL, until
/// the engine is gone.
pub(super) async fn heartbeat(engine: WeakInner) {
    every_third_of(
        engine,
        |inner| inner.broker.config().node_ttl,
        |inner| async move { inner.heartbeat().await },
    )
    .await;
}

/// Runs `tick` three times per `ttl` (at least every 10 ms apart; a late
/// tick delays the next rather than bunching them), from one period after
/// the start until the engine is gone.
async fn every_third_of<Fut>(
    engine: WeakInner,
    ttl: impl FnOnce(&Inner) -> Duration,
    mut tick: impl FnMut(Arc<Inner>) -> Fut,
) where
    Fut: Future<Output = ()>,
{
    let Some(period) = engine.upgrade().map(|inner| ttl(&inner) / 3) else {
        return;
    };
    let mut ticks = tokio::time::interval(period.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = engine.upgrade() else {
            return;
        };
        tick(inner).await;
    }
}
