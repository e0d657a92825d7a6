//! The shape every chaos test shares: start the cluster, the subscribers
//! and the publisher; let publications flow; (the test injects its fault);
//! keep publishing through the recovery; stop the publisher; wait until
//! every subscriber has reached the last publish; check each one.

use std::time::Duration;

use serde_json::{json, Value};

use super::check::{self, Summary, Target};
use super::cluster::{Cluster, ClusterSpec, NAMESPACE};
use super::http;
use super::publisher::{PublishLog, Publisher, PublisherSpec};
use super::subscribers::Subscribers;

/// How long the subscribers may take to reach the last publish once the
/// publisher stopped.
pub const CATCH_UP_DEADLINE: Duration = Duration::from_secs(30);

/// Publications acknowledged before the fault (about 1 s of publishing).
pub const BEFORE_FAULT: usize = 60;

/// A running chaos test.
pub struct ChaosRun {
    /// Name, for messages.
    pub name: String,
    /// The channel.
    pub channel: String,
    /// Redis, nodes and HAProxy.
    pub cluster: Cluster,
    /// The subscriber processes (usually one).
    pub subscribers: Vec<Subscribers>,
    /// The publisher, until [`ChaosRun::finish`].
    pub publisher: Option<Publisher>,
}

/// The outcome: one summary per subscriber client, and the publisher's log.
pub struct Outcome {
    /// `(process label, client index, summary)`.
    pub summaries: Vec<(String, usize, Summary)>,
    /// What the publisher did.
    pub published: PublishLog,
}

impl ChaosRun {
    /// Starts the cluster and `clients` subscribers through HAProxy, waits
    /// until all are subscribed, then starts publishing every 10 ms.
    pub async fn start(name: &str, spec: ClusterSpec, clients: usize) -> ChaosRun {
        let mut run = ChaosRun::start_without_publisher(name, spec, clients).await;
        run.start_publisher(Duration::from_millis(10), 0);
        run
    }

    /// Like [`ChaosRun::start`], without starting the publisher.
    pub async fn start_without_publisher(
        name: &str,
        spec: ClusterSpec,
        clients: usize,
    ) -> ChaosRun {
        let cluster = Cluster::start(spec).await;
        let channel = format!("{NAMESPACE}:{name}");
        let mut subscribers =
            Subscribers::start("subscribers", &cluster.hub_url(), &channel, clients);
        subscribers.wait_subscribed().await;
        cluster.wait_spread().await;
        ChaosRun {
            name: name.to_owned(),
            channel,
            cluster,
            subscribers: vec![subscribers],
            publisher: None,
        }
    }

    /// Starts the publisher (once).
    pub fn start_publisher(&mut self, interval: Duration, pad: usize) {
        assert!(self.publisher.is_none(), "one publisher per run");
        self.publisher = Some(Publisher::start(PublisherSpec {
            api: self.cluster.entry(),
            channel: self.channel.clone(),
            interval,
            pad,
        }));
    }

    /// The publisher.
    pub fn publisher(&self) -> &Publisher {
        self.publisher.as_ref().expect("the publisher runs")
    }

    /// Waits until `count` more publications were acknowledged (bounded by
    /// the publisher's own give-up time).
    pub async fn publish_more(&self, count: usize) {
        self.publisher()
            .wait_for_more(count, super::publisher::GIVE_UP_AFTER)
            .await;
    }

    /// A server API call through HAProxy; the `result` object.
    pub async fn api(&self, method: &str, params: Value) -> Result<Value, String> {
        let response = http::post_json(
            self.cluster.entry(),
            &format!("/api/{method}"),
            &params.to_string(),
        )
        .await?;
        let reply: Value = serde_json::from_str(&response.body)
            .map_err(|e| format!("HTTP {} not JSON ({e}): {}", response.status, response.body))?;
        if response.status != 200 || !reply["error"].is_null() {
            return Err(format!("HTTP {}: {reply}", response.status));
        }
        Ok(reply["result"].clone())
    }

    /// `presence_stats` of the channel: the number of clients, if the API
    /// answered.
    pub async fn presence_clients(&self) -> Option<u64> {
        self.api("presence_stats", json!({ "channel": self.channel }))
            .await
            .ok()
            .and_then(|r| r["num_clients"].as_u64())
    }

    /// The node names the server API's `info` lists (the Redis registry).
    pub async fn registered_nodes(&self) -> Option<Vec<String>> {
        let info = self.api("info", json!({})).await.ok()?;
        let mut names: Vec<String> = info["nodes"]
            .as_array()?
            .iter()
            .filter_map(|n| n["name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        Some(names)
    }

    /// Stops the publisher, waits (bounded) until every subscriber reached
    /// the last publish, and checks every subscriber; fails the test with
    /// every violation, the events around it and the cluster's logs.
    pub async fn finish(mut self) -> Outcome {
        let published = self
            .publisher
            .take()
            .expect("the publisher runs")
            .stop()
            .await;
        let target = Target::of(&published);
        let caught_up = super::eventually(CATCH_UP_DEADLINE, || async {
            self.subscribers.iter().all(|s| {
                s.events()
                    .iter()
                    .all(|events| check::reached(events, &target))
            })
        })
        .await;
        let mut failures = Vec::new();
        let reused = published.reused_positions();
        if !reused.is_empty() {
            failures.push(format!(
                "the hub acknowledged {} publication(s) at a position it had already given \
                 another one (epoch, offset, first n, second n), first ones: {:?}",
                reused.len(),
                &reused[..reused.len().min(5)]
            ));
        }
        let mut summaries = Vec::new();
        for subscribers in &self.subscribers {
            for (index, events) in subscribers.events().iter().enumerate() {
                match check::check(events, &target) {
                    Ok(summary) => summaries.push((subscribers.label().to_owned(), index, summary)),
                    Err(error) => failures.push(format!(
                        "{} client {index}: {error}\n(stderr: {})",
                        subscribers.label(),
                        subscribers.stderr()
                    )),
                }
            }
        }
        if !failures.is_empty() {
            panic!(
                "{}: {} violation(s) of the rule (caught up in time: {caught_up}; last publish \
                 offset {} epoch {}; {} publications, {} retries, failures {:?}):\n{}\n{}",
                self.name,
                failures.len(),
                target.offset,
                target.epoch,
                published.published.len(),
                published.retries,
                published.failures,
                failures.join("\n\n"),
                self.cluster.logs()
            );
        }
        eprintln!(
            "{}: {} publications ({} retried attempts; failures seen: {:?})",
            self.name,
            published.published.len(),
            published.retries,
            published.failures
        );
        for (label, index, summary) in &summaries {
            eprintln!("{}: {label} client {index}: {summary:?}", self.name);
        }
        Outcome {
            summaries,
            published,
        }
    }
}
