//! Redis going back to older data (an older snapshot loaded after a crash,
//! a lost append-only tail): the channel's metadata returns with the SAME
//! epoch and a LOWER top offset. A node that saw the higher offsets makes
//! the next publish or read start a new epoch, so that a position never
//! names two publications and recovering clients get `recovered: false`
//! instead of a silent gap. Simulated by lowering the top offset and
//! trimming the stream in place; bounded by `support::TEST_DEADLINE`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use switchboard_hub_core::history::Recovery;
use switchboard_hub_core::position::StreamPosition;
use switchboard_hub_redis::{HistoryOptions, RedisBroker};

const HISTORY: HistoryOptions = HistoryOptions {
    size: 100,
    ttl: Duration::from_secs(60),
};

async fn publish(broker: &RedisBroker, channel: &str) -> StreamPosition {
    broker
        .publish(
            channel,
            &Bytes::from_static(b"{}"),
            None,
            Some(HISTORY),
            None,
        )
        .await
        .unwrap()
        .position
}

/// Puts `channel` back to offset 2, as an older snapshot would.
async fn roll_back_to_offset_2(
    redis: &switchboard_testkit::daemon::Daemon,
    broker: &RedisBroker,
    channel: &str,
) {
    let keys = broker.keys();
    support::raw(redis, &["HSET", &keys.meta(channel), "t", "2"]).await;
    support::raw(redis, &["XTRIM", &keys.stream(channel), "MAXLEN", "2"]).await;
}

#[tokio::test]
async fn a_node_that_saw_higher_offsets_moves_the_channel_to_a_new_epoch() {
    support::within_deadline(async {
        let redis = support::start_redis();
        let (subscriber, _events) = support::broker(support::config(&redis, "a")).await;
        let (stranger, _other_events) = support::broker(support::config(&redis, "b")).await;
        // Node a has a local subscriber: it tracks the channel.
        subscriber.subscribe("feed").await.unwrap();
        let mut last = StreamPosition::default();
        for _ in 0..5 {
            last = publish(&subscriber, "feed").await;
        }
        assert_eq!(last.offset, 5);
        roll_back_to_offset_2(&redis, &subscriber, "feed").await;
        // A node that never saw the channel cannot tell: it reads the
        // rolled-back top.
        let position = stranger.position("feed", HISTORY).await.unwrap();
        assert_eq!(position, StreamPosition::new(2, last.epoch));
        // Node a can: its next publish starts a new epoch at offset 1.
        let next = publish(&subscriber, "feed").await;
        assert_ne!(
            next.epoch, last.epoch,
            "offsets 3..=5 must not be given again"
        );
        assert_eq!(next.offset, 1);
        // A client at the old position 5 is told it lost publications.
        let (_, recovery) = stranger.recover("feed", last, HISTORY, 100).await.unwrap();
        assert_eq!(recovery, Recovery::NotRecovered);
        // The same rule on the read path: roll back again, then read.
        for _ in 0..4 {
            last = publish(&subscriber, "feed").await;
        }
        roll_back_to_offset_2(&redis, &subscriber, "feed").await;
        let read = subscriber.position("feed", HISTORY).await.unwrap();
        assert_ne!(read.epoch, last.epoch);
        assert_eq!(read.offset, 0);
    })
    .await;
}

#[tokio::test]
async fn a_top_kept_by_redis_keeps_its_epoch() {
    support::within_deadline(async {
        let redis = support::start_redis();
        let (node, _events) = support::broker(support::config(&redis, "a")).await;
        node.subscribe("feed").await.unwrap();
        let first = publish(&node, "feed").await;
        let second = publish(&node, "feed").await;
        assert_eq!(second, StreamPosition::new(2, first.epoch));
        let read = node.position("feed", HISTORY).await.unwrap();
        assert_eq!(read, second, "nothing was lost: same epoch, same top");
    })
    .await;
}
