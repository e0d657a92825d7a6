//! Publishes sent together (`RedisBroker::publish_in_order`, what a
//! session does with the publishes that arrived together) keep the order
//! they were given, including when Redis has lost its script cache (a new
//! server, a restart, SCRIPT FLUSH): a per-call NOSCRIPT retry would send
//! the retried calls after the ones behind them. Bounded by
//! `support::TEST_DEADLINE`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use switchboard_hub_core::history::HistoryQuery;
use switchboard_hub_redis::{HistoryOptions, PublishRequest};

const HISTORY: HistoryOptions = HistoryOptions {
    size: 1000,
    ttl: Duration::from_secs(60),
};

/// `count` payloads `{"n":N}`, N from `first`.
fn payloads(first: u64, count: u64) -> Vec<Bytes> {
    (first..first + count)
        .map(|n| Bytes::from(format!("{{\"n\":{n}}}")))
        .collect()
}

fn requests<'a>(channel: &'a str, payloads: &'a [Bytes]) -> Vec<PublishRequest<'a>> {
    payloads
        .iter()
        .map(|data| PublishRequest {
            channel,
            data,
            info: None,
            history: Some(HISTORY),
            idempotency_key: None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_its_order_with_and_without_the_script_cached() {
    support::within_deadline(async {
        let redis = support::start_redis();
        let (broker, _events) = support::broker(support::config(&redis, "a")).await;
        // A fresh server has no script cached; then flushed ones (on a
        // two-thread runtime, per-call retries came back out of order in
        // about one run in three of a single flush); then a warm one.
        let mut sent = Vec::new();
        let rounds = [
            (0u64, false),
            (1, true),
            (2, true),
            (3, true),
            (4, true),
            (5, false),
        ];
        for (round, flush) in rounds {
            if flush {
                support::raw(&redis, &["SCRIPT", "FLUSH"]).await;
            }
            let batch = payloads(round * 50 + 1, 50);
            let results = broker.publish_in_order(&requests("order", &batch)).await;
            let offsets: Vec<u64> = results
                .into_iter()
                .map(|result| result.expect("published").position.offset)
                .collect();
            let expected: Vec<u64> = (round * 50 + 1..=round * 50 + 50).collect();
            assert_eq!(
                offsets, expected,
                "round {round}: offsets in the order given"
            );
            sent.extend(batch);
        }
        let history = broker
            .history(
                "order",
                &HistoryQuery {
                    since: None,
                    limit: None,
                    reverse: false,
                },
                HISTORY,
                1000,
            )
            .await
            .unwrap();
        let stored: Vec<Bytes> = history
            .publications
            .iter()
            .map(|publication| publication.data.clone())
            .collect();
        assert_eq!(stored, sent, "the stream holds every payload in order");
        // One on its own still loads the script it needs.
        support::raw(&redis, &["SCRIPT", "FLUSH"]).await;
        let single = payloads(301, 1);
        let result = broker.publish_in_order(&requests("order", &single)).await;
        assert_eq!(result[0].as_ref().unwrap().position.offset, 301);
    })
    .await;
}
