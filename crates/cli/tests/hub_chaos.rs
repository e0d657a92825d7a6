//! Chaos tests (issue 12, point 6): three `switchboard serve` nodes on the
//! Redis engine behind HAProxy (round robin, no stickiness, health checks on
//! `/ready`), six centrifuge-python clients (three JSON, three Protobuf)
//! subscribed with recovery through HAProxy to a channel with history, and a
//! publisher looping through the server API (via HAProxy, so any node) with
//! sequential data and idempotency keys. One fault per test.
//!
//! Every test asserts the same rule (chaos_support::check): each subscriber
//! ends with every offset of its channel from its first subscription to the
//! last publish, each exactly once and in order, or with an explicit
//! `recovered: false` after which it has every offset from the new position
//! on; and what it received at each offset is what the publisher was told
//! is there. Then the fault's own expectations (who reconnected, with which
//! code, whether the epoch changed).
//!
//! Time bound of every test: 90 s (`TEST_BOUND`, enforced by a timeout);
//! each takes 10 to 20 s on two cores. Needs redis-server, haproxy and
//! centrifuge-python (`scripts/install-deps.sh`); a missing one fails the
//! test saying so. `SWITCHBOARD_SKIP_INTEROP=1` skips (and says so).

mod chaos_support;

use std::time::Duration;

use chaos_support::cluster::ClusterSpec;
use chaos_support::redis::Persistence;
use chaos_support::scenario::{ChaosRun, BEFORE_FAULT};
use chaos_support::subscribers::Subscribers;
use chaos_support::{eventually, run_bounded, skip_requested};

/// The bound on each whole test, start-up included.
const TEST_BOUND: Duration = Duration::from_secs(90);

/// Subscriber clients per test (alternately JSON and Protobuf).
const CLIENTS: usize = 6;

/// Publications acknowledged after the fault before the publisher stops.
const AFTER_FAULT: usize = 100;

const THREE_NODES_PERSISTENT: ClusterSpec = ClusterSpec {
    nodes: 3,
    redis: Some(Persistence::AppendOnly),
};

const THREE_NODES_VOLATILE: ClusterSpec = ClusterSpec {
    nodes: 3,
    redis: Some(Persistence::None),
};

fn chaos_test<F: std::future::Future<Output = ()>>(name: &str, body: F) {
    if skip_requested(name) {
        return;
    }
    run_bounded(TEST_BOUND, name, body);
}

/// The harness itself on the memory engine (one node, no Redis): the node
/// is SIGKILLed and restarted, so its channel comes back with a new epoch;
/// every subscriber must show the explicit `recovered: false`, then every
/// publication from its new position. Bound: 90 s.
#[test]
fn memory_node_restart_is_an_explicit_loss() {
    chaos_test("memory_node_restart_is_an_explicit_loss", async {
        let spec = ClusterSpec {
            nodes: 1,
            redis: None,
        };
        let mut run = ChaosRun::start("memory-restart", spec, 2).await;
        run.publish_more(BEFORE_FAULT).await;
        run.cluster.nodes[0].kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        run.cluster.nodes[0].start_again().await;
        run.publish_more(AFTER_FAULT).await;
        let outcome = run.finish().await;
        for (label, index, summary) in &outcome.summaries {
            assert!(
                summary.not_recovered >= 1 && summary.epochs.len() >= 2,
                "{label} client {index}: a restarted memory node has a new epoch, which must \
                 show as `recovered: false`: {summary:?}"
            );
        }
    });
}

/// Redis stopped (SIGTERM: it writes its append-only file) and started
/// again 1 s later with its data: nodes report not ready meanwhile,
/// publishes fail and are retried, subscribers recover every publication
/// with the same epoch (no `recovered: false`). Bound: 90 s.
#[test]
fn redis_restart_with_persistence_loses_nothing() {
    chaos_test("redis_restart_with_persistence_loses_nothing", async {
        let mut run = ChaosRun::start("redis-persistent", THREE_NODES_PERSISTENT, CLIENTS).await;
        run.publish_more(BEFORE_FAULT).await;
        let redis = run.cluster.redis.as_mut().expect("redis");
        redis.stop().await;
        let node = run.cluster.nodes[0].addr();
        let red = eventually(Duration::from_secs(5), || async {
            matches!(chaos_support::http::get(node, "/ready").await, Ok(r) if r.status == 503)
        })
        .await;
        assert!(
            red,
            "/ready of node1 did not turn 503 within 5 s of Redis stopping"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        run.cluster.redis.as_mut().expect("redis").start_again();
        run.publish_more(AFTER_FAULT).await;
        let outcome = run.finish().await;
        for (label, index, summary) in &outcome.summaries {
            assert_eq!(
                (summary.not_recovered, summary.epochs.len()),
                (0, 1),
                "{label} client {index}: Redis kept its data, so nothing may be lost: {summary:?}"
            );
        }
    });
}

/// Redis killed and started again without persistence: every channel's
/// data is gone, the next publish starts a new epoch, and every subscriber
/// gets an explicit `recovered: false`, then every publication of the new
/// epoch. Bound: 90 s.
#[test]
fn redis_restart_without_persistence_is_an_explicit_loss() {
    chaos_test(
        "redis_restart_without_persistence_is_an_explicit_loss",
        async {
            let mut run = ChaosRun::start("redis-volatile", THREE_NODES_VOLATILE, CLIENTS).await;
            run.publish_more(BEFORE_FAULT).await;
            let redis = run.cluster.redis.as_mut().expect("redis");
            redis.stop().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            redis.start_again();
            run.publish_more(AFTER_FAULT).await;
            let outcome = run.finish().await;
            let first_epoch = &outcome.published.published[0].epoch;
            let last_epoch = &outcome.published.last().expect("published").epoch;
            assert_ne!(
                first_epoch, last_epoch,
                "publishing after Redis lost its data must start a new epoch"
            );
            for (label, index, summary) in &outcome.summaries {
                assert!(
                    summary.not_recovered >= 1 && summary.epochs.last() == Some(last_epoch),
                    "{label} client {index}: Redis lost the channel, which must show as \
                 `recovered: false` and the new epoch: {summary:?}"
                );
            }
        },
    );
}

/// `CLIENT KILL TYPE pubsub` cuts every node's pub/sub connection: the
/// nodes reconnect, resubscribe and resynchronise from the streams, and
/// every subscriber has every publication. Bound: 90 s.
#[test]
fn client_kill_pubsub_loses_nothing() {
    chaos_test("client_kill_pubsub_loses_nothing", async {
        let run = ChaosRun::start("client-kill", THREE_NODES_VOLATILE, CLIENTS).await;
        run.publish_more(BEFORE_FAULT).await;
        let redis = run.cluster.redis.as_ref().expect("redis");
        let killed = redis
            .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .await
            .expect("CLIENT KILL TYPE pubsub");
        assert!(
            killed.parse::<u64>().is_ok_and(|k| k >= 3),
            "CLIENT KILL TYPE pubsub killed {killed} connections; each of the 3 nodes holds one"
        );
        run.publish_more(AFTER_FAULT).await;
        let outcome = run.finish().await;
        for (label, index, summary) in &outcome.summaries {
            assert_eq!(
                summary.not_recovered, 0,
                "{label} client {index}: no data was lost, so nothing may be: {summary:?}"
            );
        }
    });
}

/// node1 SIGKILLed (no drain): its clients lose their connections, HAProxy
/// sends their reconnects to the other nodes, and they recover every
/// publication there; node1's presence entries and registry entry expire
/// (no ghosts); node1 comes back afterwards. Bound: 90 s.
#[test]
fn node_sigkill_loses_nothing() {
    chaos_test("node_sigkill_loses_nothing", async {
        let mut run = ChaosRun::start("node-kill", THREE_NODES_VOLATILE, CLIENTS).await;
        run.publish_more(BEFORE_FAULT).await;
        let on_node1 = run.cluster.clients_per_node().await[0].expect("node1 /info");
        run.cluster.nodes[0].kill();
        run.publish_more(AFTER_FAULT).await;
        // No ghosts: node1's members and its registry entry expire (TTL 3 s)
        // while its clients are counted once, on their new nodes.
        let clean = eventually(Duration::from_secs(15), || async {
            run.presence_clients().await == Some(CLIENTS as u64)
                && run
                    .registered_nodes()
                    .await
                    .is_some_and(|n| n == ["node2", "node3"])
        })
        .await;
        assert!(
            clean,
            "15 s after node1 died, presence should count the {CLIENTS} clients once and the \
             registry list node2 and node3: presence {:?}, registry {:?}",
            run.presence_clients().await,
            run.registered_nodes().await
        );
        run.cluster.nodes[0].start_again().await;
        run.publish_more(AFTER_FAULT / 2).await;
        let outcome = run.finish().await;
        let moved = outcome
            .summaries
            .iter()
            .filter(|(_, _, s)| s.connects >= 2)
            .count() as u64;
        assert_eq!(
            moved, on_node1,
            "the {on_node1} clients node1 held must have reconnected elsewhere, and only they"
        );
        for (label, index, summary) in &outcome.summaries {
            assert_eq!(
                summary.not_recovered, 0,
                "{label} client {index}: a node's death loses no data: {summary:?}"
            );
        }
    });
}

/// A subscriber that stops reading (its process SIGSTOPped) while 8 KiB
/// publications flow: its node disconnects it with 3008 without affecting
/// anyone else; once it reads again it reconnects and recovers every
/// publication. The other clients never reconnect. Bound: 90 s.
#[test]
fn slow_consumer_is_cut_with_3008_and_recovers() {
    chaos_test("slow_consumer_is_cut_with_3008_and_recovers", async {
        let spec = THREE_NODES_VOLATILE;
        let mut run = ChaosRun::start_without_publisher("slow-consumer", spec, CLIENTS).await;
        let mut slow = Subscribers::start("slow", &run.cluster.hub_url(), &run.channel, 1);
        slow.wait_subscribed().await;
        run.subscribers.push(slow);
        run.start_publisher(Duration::from_millis(1), 8192);
        run.publish_more(BEFORE_FAULT).await;
        run.subscribers[1].stop_reading();
        let everyone = CLIENTS as u64 + 1;
        let cut = eventually(Duration::from_secs(40), || async {
            run.presence_clients().await == Some(everyone - 1)
        })
        .await;
        assert!(
            cut,
            "the stopped subscriber was not disconnected within 40 s (presence still counts {:?} \
             of {everyone})",
            run.presence_clients().await
        );
        run.subscribers[1].resume_reading();
        run.publish_more(AFTER_FAULT).await;
        let outcome = run.finish().await;
        for (label, index, summary) in &outcome.summaries {
            if label == "slow" {
                assert!(
                    summary.reconnect_codes.contains(&3008)
                        && summary.recovered >= 1
                        && summary.not_recovered == 0,
                    "the slow subscriber must be disconnected with 3008 and recover everything: \
                     {summary:?}"
                );
            } else {
                assert!(
                    summary.connects == 1 && summary.reconnect_codes.is_empty(),
                    "{label} client {index} read all along and must not have been disturbed: \
                     {summary:?}"
                );
            }
        }
    });
}

/// A rolling drain: each node in turn gets SIGTERM, closes its clients
/// with 3001 over its 1 s drain window, exits, and is started again before
/// the next one drains, so the cluster stays up. Every client is moved at
/// least once and loses nothing. Bound: 90 s.
#[test]
fn rolling_drain_of_every_node_loses_nothing() {
    chaos_test("rolling_drain_of_every_node_loses_nothing", async {
        let mut run = ChaosRun::start("rolling-drain", THREE_NODES_VOLATILE, CLIENTS).await;
        run.publish_more(BEFORE_FAULT).await;
        for index in 0..run.cluster.nodes.len() {
            let status = run.cluster.nodes[index]
                .drain(Duration::from_secs(10))
                .await;
            assert!(
                status.success(),
                "{} exited with {status} after its drain",
                run.cluster.nodes[index].name()
            );
            run.cluster.nodes[index].start_again().await;
            run.publish_more(BEFORE_FAULT / 2).await;
        }
        run.publish_more(AFTER_FAULT / 2).await;
        let outcome = run.finish().await;
        for (label, index, summary) in &outcome.summaries {
            assert!(
                summary.reconnect_codes.contains(&3001) && summary.not_recovered == 0,
                "{label} client {index}: every node drained, so every client was moved with 3001 \
                 at least once, and lost nothing: {summary:?}"
            );
        }
    });
}
