//! Chaos: Redis restored from an older snapshot, as after a crash with
//! RDB-only persistence (Debian's default redis.conf saves snapshots, and
//! restoring a backup does the same). Three Redis nodes behind HAProxy, six
//! centrifuge-python clients, a publisher through the API (the harness of
//! hub_chaos.rs). A `SAVE` is taken mid-run, 60 more publications follow,
//! then Redis is SIGKILLed and restarted, loading the snapshot: the
//! channel's metadata is back with the SAME epoch and an OLDER top offset.
//!
//! A position `(epoch, offset)` must name one publication for good: a
//! client holding a position from before the rollback would otherwise
//! "recover" the publications numbered again after it with
//! `recovered: true`, never seeing the ones Redis lost (a silent gap). The
//! nodes remember the highest position they saw per channel, and the
//! publish and read scripts start a new epoch when Redis's top is below it
//! under the same epoch: every subscriber gets `recovered: false` and the
//! new epoch, and meets the chaos rule. The harness fails on any position
//! acknowledged for two publications (what happened before that fix).
//!
//! Time bound: 90 s (enforced). Needs redis-server, haproxy and
//! centrifuge-python (`scripts/install-deps.sh`).

mod chaos_support;

use std::time::Duration;

use chaos_support::cluster::ClusterSpec;
use chaos_support::redis::Persistence;
use chaos_support::scenario::{ChaosRun, BEFORE_FAULT};
use chaos_support::{run_bounded, skip_requested};

const TEST_BOUND: Duration = Duration::from_secs(90);

#[test]
fn redis_restored_from_an_older_snapshot_never_reuses_a_position() {
    let name = "redis_restored_from_an_older_snapshot_never_reuses_a_position";
    if skip_requested(name) {
        return;
    }
    run_bounded(TEST_BOUND, name, async {
        let spec = ClusterSpec {
            nodes: 3,
            redis: Some(Persistence::None),
        };
        let mut run = ChaosRun::start("redis-snapshot", spec, 6).await;
        run.publish_more(BEFORE_FAULT).await;
        let redis = run.cluster.redis.as_mut().expect("redis");
        redis.command(&["SAVE"]).await.expect("SAVE");
        run.publish_more(BEFORE_FAULT).await;
        let redis = run.cluster.redis.as_mut().expect("redis");
        redis.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        redis.start_again();
        run.publish_more(100).await;
        let outcome = run.finish().await;
        let first_epoch = &outcome.published.published[0].epoch;
        let last_epoch = &outcome.published.last().expect("published").epoch;
        assert_ne!(
            first_epoch, last_epoch,
            "publishing after Redis went back to older data must start a new epoch"
        );
        for (label, index, summary) in &outcome.summaries {
            assert!(
                summary.not_recovered >= 1 && summary.epochs.last() == Some(last_epoch),
                "{label} client {index}: Redis went back to an older snapshot, which must show \
                 as `recovered: false` and the new epoch: {summary:?}"
            );
        }
    });
}
