//! The node's timers: presence refreshes for local members (so that a
//! dead node's members expire within the presence TTL and no ghost stays)
//! and the registry heartbeat (so that `/info` and the API's `info` list
//! the live nodes).

use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::WeakInner;

/// Refreshes the presence entries of every local member, three times per
/// presence TTL, until the engine is gone.
pub(super) async fn refresh_presence(engine: WeakInner) {
    let Some(period) = engine
        .upgrade()
        .map(|inner| inner.broker.config().presence_ttl / 3)
    else {
        return;
    };
    let mut ticks = interval(period);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let members = inner.lock().channels.presence_members();
        let entries: Vec<(&str, &switchboard_hub_core::presence::ClientInfo)> = members
            .iter()
            .map(|(channel, info)| (&**channel, &**info))
            .collect();
        if let Err(error) = inner.broker.presence_refresh(&entries).await {
            tracing::warn!(%error, members = entries.len(), "presence refresh failed");
        }
    }
}

/// Refreshes this node's registry entry three times per node TTL, until
/// the engine is gone.
pub(super) async fn heartbeat(engine: WeakInner) {
    let Some(period) = engine
        .upgrade()
        .map(|inner| inner.broker.config().node_ttl / 3)
    else {
        return;
    };
    let mut ticks = interval(period);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = engine.upgrade() else {
            return;
        };
        inner.heartbeat().await;
    }
}

fn interval(period: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(period.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}
