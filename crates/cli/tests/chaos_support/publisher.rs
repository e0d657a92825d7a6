//! The publisher: a loop of server API publishes (`POST /api/publish`
//! through HAProxy, so to any node) with sequential data `{"n": N}`. Each
//! publish carries the idempotency key `chaos-N` and is retried with it
//! until a node acknowledges it, so a publish whose answer was lost to a
//! fault is not published twice while Redis keeps the key.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::http;

/// How long one publication may keep failing before the publisher gives up
/// (and the test fails): longer than any fault the tests inject.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// Pause between two attempts of one publication.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// One acknowledged publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The data's sequence number.
    pub n: u64,
    /// The offset the node answered.
    pub offset: u64,
    /// The epoch the node answered.
    pub epoch: String,
}

/// What the publisher did so far.
#[derive(Debug, Default, Clone)]
pub struct PublishLog {
    /// Every acknowledged publication, in order.
    pub published: Vec<Published>,
    /// Attempts that failed and were retried.
    pub retries: u64,
    /// The first few distinct failures, for the report.
    pub failures: Vec<String>,
    /// Set when a publication failed for [`GIVE_UP_AFTER`].
    pub gave_up: Option<String>,
}

impl PublishLog {
    /// The last acknowledged publication.
    pub fn last(&self) -> Option<&Published> {
        self.published.last()
    }

    /// Positions the hub acknowledged for two different publications:
    /// `(epoch, offset, first n, second n)`. A position must name one
    /// publication for good, or recovery across it would deliver the wrong
    /// data without a `recovered: false`.
    pub fn reused_positions(&self) -> Vec<(String, u64, u64, u64)> {
        let mut seen: std::collections::HashMap<(&str, u64), u64> = Default::default();
        let mut reused = Vec::new();
        for p in &self.published {
            if let Some(&first) = seen.get(&(p.epoch.as_str(), p.offset)) {
                if first != p.n {
                    reused.push((p.epoch.clone(), p.offset, first, p.n));
                }
            } else {
                seen.insert((p.epoch.as_str(), p.offset), p.n);
            }
        }
        reused
    }
}

/// How the publisher publishes.
#[derive(Debug, Clone)]
pub struct PublisherSpec {
    /// Where `POST /api/publish` goes (HAProxy).
    pub api: SocketAddr,
    /// The channel.
    pub channel: String,
    /// Pause after each acknowledged publication.
    pub interval: Duration,
    /// Bytes of padding in each publication's data (`"pad": "xxx..."`).
    pub pad: usize,
}

/// A running publisher.
pub struct Publisher {
    log: Arc<Mutex<PublishLog>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Starts publishing n = 0, 1, 2, ...
    pub fn start(spec: PublisherSpec) -> Publisher {
        let log = Arc::new(Mutex::new(PublishLog::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(publish_loop(spec, Arc::clone(&log), Arc::clone(&stop)));
        Publisher { log, stop, task }
    }

    /// A snapshot of what it did so far.
    pub fn log(&self) -> PublishLog {
        self.log.lock().expect("publish log").clone()
    }

    /// How many publications were acknowledged so far.
    pub fn count(&self) -> usize {
        self.log.lock().expect("publish log").published.len()
    }

    /// Waits until `more` further publications were acknowledged, bounded.
    pub async fn wait_for_more(&self, more: usize, within: Duration) {
        let target = self.count() + more;
        let reached = super::eventually(within, || async { self.count() >= target }).await;
        let log = self.log();
        assert!(
            reached,
            "the publisher did not get {more} more publications acknowledged within {within:?} \
             (at {} of {target}; {} retries; failures {:?}; gave up: {:?})",
            log.published.len(),
            log.retries,
            log.failures,
            log.gave_up
        );
    }

    /// Finishes the publication in flight, stops, and returns the log; fails
    /// the test if a publication was given up.
    pub async fn stop(self) -> PublishLog {
        self.stop.store(true, Ordering::Relaxed);
        tokio::time::timeout(GIVE_UP_AFTER + Duration::from_secs(5), self.task)
            .await
            .expect("the publisher stops")
            .expect("the publisher task");
        let log = self.log.lock().expect("publish log").clone();
        assert!(
            log.gave_up.is_none(),
            "the publisher gave up: {:?} ({} acknowledged, {} retries, failures {:?})",
            log.gave_up,
            log.published.len(),
            log.retries,
            log.failures
        );
        log
    }
}

async fn publish_loop(spec: PublisherSpec, log: Arc<Mutex<PublishLog>>, stop: Arc<AtomicBool>) {
    let pad = "x".repeat(spec.pad);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut data = json!({ "n": n });
        if !pad.is_empty() {
            data["pad"] = json!(pad);
        }
        let body = json!({
            "channel": spec.channel,
            "data": data,
            "idempotency_key": format!("chaos-{n}"),
        })
        .to_string();
        let started = tokio::time::Instant::now();
        loop {
            match publish_once(spec.api, &body).await {
                Ok((offset, epoch)) => {
                    log.lock()
                        .expect("publish log")
                        .published
                        .push(Published { n, offset, epoch });
                    break;
                }
                Err(failure) => {
                    let mut log = log.lock().expect("publish log");
                    log.retries += 1;
                    if log.failures.len() < 8 && !log.failures.contains(&failure) {
                        log.failures.push(failure.clone());
                    }
                    if started.elapsed() > GIVE_UP_AFTER {
                        log.gave_up = Some(format!("publication n={n}: {failure}"));
                        return;
                    }
                }
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        n += 1;
        if !spec.interval.is_zero() {
            tokio::time::sleep(spec.interval).await;
        }
    }
}

/// One attempt: the `(offset, epoch)` the node acknowledged, or why not.
async fn publish_once(api: SocketAddr, body: &str) -> Result<(u64, String), String> {
    let response = http::post_json(api, "/api/publish", body).await?;
    if response.status != 200 {
        return Err(format!(
            "HTTP {}: {}",
            response.status,
            response.body.trim()
        ));
    }
    let reply: Value = serde_json::from_str(&response.body)
        .map_err(|e| format!("not JSON ({e}): {}", response.body))?;
    if !reply["error"].is_null() {
        return Err(format!("API error {}", reply["error"]));
    }
    let result = &reply["result"];
    match (result["offset"].as_u64(), result["epoch"].as_str()) {
        (Some(offset), Some(epoch)) => Ok((offset, epoch.to_owned())),
        _ => Err(format!("publish result without a position: {reply}")),
    }
}
