//! One conformance suite, two engines: the memory engine (hub-core's
//! `Node` with the hub's idempotency cache, on a virtual clock) and the
//! Redis engine (a real `redis-server`, real time). Each case runs the
//! same steps and asserts the same results against both: publish
//! numbering, history (limit, since, reverse), recovery (recovered, not
//! recovered, epoch change), TTL and metadata expiry, lost data,
//! idempotency, history removal and presence.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_hub_core::config::NodeConfig;
use switchboard_hub_core::history::{HistoryQuery, HistoryRead, Publication, Recovery};
use switchboard_hub_core::idempotency::IdempotencyCache;
use switchboard_hub_core::position::{Epoch, StreamPosition};
use switchboard_hub_core::presence::{ClientInfo, PresenceStats};
use switchboard_hub_core::{HubError, Node, SessionId, Settings};
use switchboard_hub_redis::{HistoryOptions, RedisBroker, RedisEngineError};
use switchboard_testkit::daemon::Daemon;

/// Small windows so that trimming and expiry show quickly, yet TTLs long
/// enough that a loaded machine finishes a case's reads before they end.
const HISTORY_SIZE: usize = 5;
const HISTORY_TTL: Duration = Duration::from_secs(3);
const META_TTL: Duration = Duration::from_secs(6);
/// Past a TTL, with room for Redis's millisecond expiry.
const MARGIN: Duration = Duration::from_millis(150);
const MAX_LIMIT: usize = 300;
const CHANNEL: &str = "news";

/// What the cases need from an engine.
trait EngineUnderTest {
    async fn publish(
        &mut self,
        channel: &str,
        data: &str,
        key: Option<&str>,
    ) -> (StreamPosition, bool);
    async fn history(
        &mut self,
        channel: &str,
        query: HistoryQuery,
    ) -> Result<HistoryRead, HubError>;
    async fn recover(&mut self, channel: &str, since: StreamPosition)
        -> (StreamPosition, Recovery);
    async fn history_remove(&mut self, channel: &str);
    async fn join(&mut self, channel: &str, session: u64, user: &str);
    async fn leave(&mut self, channel: &str, session: u64);
    async fn presence(&mut self, channel: &str) -> (Vec<String>, PresenceStats);
    /// Lets `by` pass (virtual time for memory, real time for Redis).
    async fn advance(&mut self, by: Duration);
    /// Loses every channel's state, like a restart without persistence.
    async fn lose_everything(&mut self);
}

fn settings() -> Arc<Settings> {
    let mut config = NodeConfig::default();
    config.channel.history_size = HISTORY_SIZE;
    config.channel.history_ttl = HISTORY_TTL;
    config.channel.presence = true;
    config.history_meta_ttl = META_TTL;
    Settings::new(config).expect("a valid test config")
}

fn info(session: u64, user: &str) -> ClientInfo {
    ClientInfo {
        user: user.into(),
        client: format!("client-{session}"),
        conn_info: None,
        chan_info: None,
    }
}

struct Memory {
    node: Node,
    seed: u64,
    now: Instant,
    idempotency: IdempotencyCache<StreamPosition>,
}

impl Memory {
    fn new() -> Self {
        Self {
            node: Node::new(settings(), 1),
            seed: 1,
            now: Instant::now(),
            idempotency: IdempotencyCache::new(Duration::from_secs(300)),
        }
    }
}

impl EngineUnderTest for Memory {
    async fn publish(
        &mut self,
        channel: &str,
        data: &str,
        key: Option<&str>,
    ) -> (StreamPosition, bool) {
        if let Some(key) = key {
            if let Some(position) = self.idempotency.get(self.now, channel, key) {
                return (position, true);
            }
        }
        let outcome = self
            .node
            .publish(self.now, channel, Bytes::from(data.to_owned()), None)
            .unwrap();
        let position = outcome.position.unwrap();
        if let Some(key) = key {
            self.idempotency.insert(self.now, channel, key, position);
        }
        (position, false)
    }

    async fn history(
        &mut self,
        channel: &str,
        query: HistoryQuery,
    ) -> Result<HistoryRead, HubError> {
        self.node.history(self.now, channel, &query)
    }

    async fn recover(
        &mut self,
        channel: &str,
        since: StreamPosition,
    ) -> (StreamPosition, Recovery) {
        // A subscribe with recovery, then the subscriber leaves again so
        // that it does not keep the stream alive.
        let session = SessionId(u64::MAX);
        let outcome = self
            .node
            .subscribe(
                self.now,
                session,
                channel,
                Arc::new(info(0, "")),
                Some(since),
            )
            .unwrap();
        self.node.unsubscribe(self.now, session, channel);
        (outcome.position.unwrap(), outcome.recovery.unwrap())
    }

    async fn history_remove(&mut self, channel: &str) {
        self.node.history_remove(channel).unwrap();
    }

    async fn join(&mut self, channel: &str, session: u64, user: &str) {
        self.node
            .subscribe(
                self.now,
                SessionId(session),
                channel,
                Arc::new(info(session, user)),
                None,
            )
            .unwrap();
    }

    async fn leave(&mut self, channel: &str, session: u64) {
        self.node.unsubscribe(self.now, SessionId(session), channel);
    }

    async fn presence(&mut self, channel: &str) -> (Vec<String>, PresenceStats) {
        let clients = self.node.presence(channel).unwrap();
        let stats = self.node.presence_stats(channel).unwrap();
        (
            sorted(clients.iter().map(|info| info.client.clone())),
            stats,
        )
    }

    async fn advance(&mut self, by: Duration) {
        self.now += by;
        self.node.handle_timeout(self.now);
    }

    async fn lose_everything(&mut self) {
        self.seed += 1;
        self.node = Node::new(settings(), self.seed);
    }
}

struct Redis {
    daemon: Daemon,
    broker: RedisBroker,
}

impl Redis {
    async fn new() -> Self {
        let daemon = support::start_redis();
        let mut config = support::config(&daemon, "conformance");
        config.history_meta_ttl = META_TTL;
        let (broker, _events) = support::broker(config).await;
        Self { daemon, broker }
    }

    fn options() -> HistoryOptions {
        HistoryOptions {
            size: HISTORY_SIZE,
            ttl: HISTORY_TTL,
        }
    }
}

fn refused(error: RedisEngineError) -> HubError {
    match error {
        RedisEngineError::Refused(error) => error,
        other => panic!("Redis failed: {other}"),
    }
}

impl EngineUnderTest for Redis {
    async fn publish(
        &mut self,
        channel: &str,
        data: &str,
        key: Option<&str>,
    ) -> (StreamPosition, bool) {
        let data = Bytes::from(data.to_owned());
        let published = self
            .broker
            .publish(channel, &data, None, Some(Self::options()), key)
            .await
            .unwrap();
        (published.position, published.duplicate)
    }

    async fn history(
        &mut self,
        channel: &str,
        query: HistoryQuery,
    ) -> Result<HistoryRead, HubError> {
        self.broker
            .history(channel, &query, Self::options(), MAX_LIMIT)
            .await
            .map_err(refused)
    }

    async fn recover(
        &mut self,
        channel: &str,
        since: StreamPosition,
    ) -> (StreamPosition, Recovery) {
        self.broker
            .recover(channel, since, Self::options(), MAX_LIMIT)
            .await
            .unwrap()
    }

    async fn history_remove(&mut self, channel: &str) {
        self.broker.history_remove(channel).await.unwrap();
    }

    async fn join(&mut self, channel: &str, session: u64, user: &str) {
        self.broker
            .presence_add(channel, &info(session, user))
            .await
            .unwrap();
    }

    async fn leave(&mut self, channel: &str, session: u64) {
        self.broker
            .presence_remove(channel, &format!("client-{session}"))
            .await
            .unwrap();
    }

    async fn presence(&mut self, channel: &str) -> (Vec<String>, PresenceStats) {
        let clients = self.broker.presence(channel).await.unwrap();
        let stats = self.broker.presence_stats(channel).await.unwrap();
        (sorted(clients.into_iter().map(|info| info.client)), stats)
    }

    async fn advance(&mut self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    async fn lose_everything(&mut self) {
        support::raw(&self.daemon, &["FLUSHALL"]).await;
    }
}

fn sorted(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items
}

fn offsets(publications: &[Publication]) -> Vec<u64> {
    publications
        .iter()
        .map(|publication| publication.offset)
        .collect()
}

fn datas(publications: &[Publication]) -> Vec<String> {
    publications
        .iter()
        .map(|publication| String::from_utf8(publication.data.to_vec()).unwrap())
        .collect()
}

async fn publish_many(
    engine: &mut impl EngineUnderTest,
    channel: &str,
    count: u64,
) -> StreamPosition {
    let mut last = StreamPosition::default();
    for index in 1..=count {
        last = engine.publish(channel, &format!("m{index}"), None).await.0;
    }
    last
}

fn query(since: Option<StreamPosition>, limit: Option<usize>, reverse: bool) -> HistoryQuery {
    HistoryQuery {
        since,
        limit,
        reverse,
    }
}

/// A history read: since, limit, reverse, and the offsets expected.
type ReadCase = (Option<u64>, Option<usize>, bool, &'static [u64]);

// ---- the cases ----

async fn publish_numbers_each_channel_from_one(engine: &mut impl EngineUnderTest) {
    let first = engine.publish(CHANNEL, "a", None).await.0;
    let second = engine.publish(CHANNEL, "b", None).await.0;
    let other = engine.publish("other", "c", None).await.0;
    assert_eq!((first.offset, second.offset, other.offset), (1, 2, 1));
    assert_eq!(first.epoch, second.epoch);
    assert!(!first.epoch.is_empty());
}

async fn history_honours_limit_since_and_reverse(engine: &mut impl EngineUnderTest) {
    let top = publish_many(engine, CHANNEL, 8).await;
    assert_eq!(top.offset, 8);
    let at = |offset| StreamPosition::new(offset, top.epoch);
    let read = engine
        .history(CHANNEL, query(None, None, false))
        .await
        .unwrap();
    assert_eq!(read.position, top);
    assert_eq!(
        offsets(&read.publications),
        vec![4, 5, 6, 7, 8],
        "the window keeps the last {HISTORY_SIZE}"
    );
    assert_eq!(
        datas(&read.publications),
        vec!["m4", "m5", "m6", "m7", "m8"]
    );
    let cases: &[ReadCase] = &[
        (None, Some(2), false, &[4, 5]),
        (None, Some(2), true, &[8, 7]),
        (None, Some(0), false, &[]),
        (Some(5), None, false, &[6, 7, 8]),
        (Some(5), Some(1), false, &[6]),
        (Some(8), None, false, &[]),
        (Some(7), None, true, &[6, 5, 4]),
        (Some(7), Some(2), true, &[6, 5]),
        (Some(1), None, true, &[]),
        (Some(1), None, false, &[4, 5, 6, 7, 8]),
    ];
    for &(since, limit, reverse, expected) in cases {
        let read = engine
            .history(CHANNEL, query(since.map(at), limit, reverse))
            .await
            .unwrap();
        assert_eq!(
            offsets(&read.publications),
            expected,
            "since {since:?}, limit {limit:?}, reverse {reverse}"
        );
        assert_eq!(read.position, top);
    }
    let foreign = StreamPosition::new(3, Epoch::parse("elsewhere").unwrap());
    assert_eq!(
        engine
            .history(CHANNEL, query(Some(foreign), None, false))
            .await,
        Err(HubError::UnrecoverablePosition)
    );
    assert_eq!(
        engine
            .history(CHANNEL, query(Some(at(9)), None, false))
            .await,
        Err(HubError::UnrecoverablePosition)
    );
}

async fn recovery_is_all_or_nothing(engine: &mut impl EngineUnderTest) {
    let top = publish_many(engine, CHANNEL, 8).await;
    let at = |offset| StreamPosition::new(offset, top.epoch);
    assert_eq!(
        engine.recover(CHANNEL, at(8)).await,
        (top, Recovery::Recovered(Vec::new()))
    );
    let (position, recovery) = engine.recover(CHANNEL, at(5)).await;
    assert_eq!(position, top);
    match recovery {
        Recovery::Recovered(publications) => {
            assert_eq!(offsets(&publications), vec![6, 7, 8]);
            assert_eq!(datas(&publications), vec!["m6", "m7", "m8"]);
        }
        Recovery::NotRecovered => panic!("offsets 6..=8 are in the window"),
    }
    match engine.recover(CHANNEL, at(3)).await.1 {
        Recovery::Recovered(publications) => {
            assert_eq!(offsets(&publications), vec![4, 5, 6, 7, 8])
        }
        Recovery::NotRecovered => panic!("offsets 4..=8 are exactly the window"),
    }
    assert_eq!(
        engine.recover(CHANNEL, at(2)).await.1,
        Recovery::NotRecovered,
        "offset 3 left the window"
    );
    assert_eq!(
        engine.recover(CHANNEL, at(9)).await.1,
        Recovery::NotRecovered,
        "ahead of the stream"
    );
    let foreign = StreamPosition::new(8, Epoch::parse("elsewhere").unwrap());
    assert_eq!(
        engine.recover(CHANNEL, foreign).await.1,
        Recovery::NotRecovered
    );
}

async fn history_ttl_empties_the_window_but_keeps_the_position(engine: &mut impl EngineUnderTest) {
    let top = publish_many(engine, CHANNEL, 3).await;
    engine.advance(HISTORY_TTL + MARGIN).await;
    let read = engine
        .history(CHANNEL, query(None, None, false))
        .await
        .unwrap();
    assert_eq!(read.position, top);
    assert!(read.publications.is_empty());
    let at = |offset| StreamPosition::new(offset, top.epoch);
    assert_eq!(
        engine.recover(CHANNEL, at(2)).await.1,
        Recovery::NotRecovered
    );
    assert_eq!(
        engine.recover(CHANNEL, at(3)).await.1,
        Recovery::Recovered(Vec::new())
    );
    let next = engine.publish(CHANNEL, "after", None).await.0;
    assert_eq!(next, StreamPosition::new(4, top.epoch));
}

async fn meta_ttl_starts_a_new_epoch(engine: &mut impl EngineUnderTest) {
    let top = publish_many(engine, CHANNEL, 2).await;
    engine.advance(META_TTL + MARGIN).await;
    let (position, recovery) = engine.recover(CHANNEL, top).await;
    assert_eq!(recovery, Recovery::NotRecovered);
    assert_ne!(position.epoch, top.epoch);
    assert_eq!(position.offset, 0);
    let next = engine.publish(CHANNEL, "fresh", None).await.0;
    assert_eq!(next, StreamPosition::new(1, position.epoch));
}

async fn lost_data_means_a_new_epoch(engine: &mut impl EngineUnderTest) {
    let top = publish_many(engine, CHANNEL, 4).await;
    engine.lose_everything().await;
    let next = engine.publish(CHANNEL, "after loss", None).await.0;
    assert_eq!(next.offset, 1);
    assert_ne!(
        next.epoch, top.epoch,
        "a lost stream must not reuse its epoch"
    );
    let (position, recovery) = engine.recover(CHANNEL, top).await;
    assert_eq!(position, next);
    assert_eq!(recovery, Recovery::NotRecovered, "never a silent gap");
}

async fn idempotent_publishes_publish_once(engine: &mut impl EngineUnderTest) {
    let (first, duplicate) = engine.publish(CHANNEL, "once", Some("key-1")).await;
    assert!(!duplicate);
    let (again, duplicate) = engine.publish(CHANNEL, "once", Some("key-1")).await;
    assert!(duplicate);
    assert_eq!(again, first);
    let (other_key, duplicate) = engine.publish(CHANNEL, "twice", Some("key-2")).await;
    assert!(!duplicate);
    assert_eq!(other_key.offset, 2);
    let (other_channel, duplicate) = engine.publish("other", "once", Some("key-1")).await;
    assert!(!duplicate);
    assert_eq!(other_channel.offset, 1);
    let read = engine
        .history(CHANNEL, query(None, None, false))
        .await
        .unwrap();
    assert_eq!(datas(&read.publications), vec!["once", "twice"]);
}

async fn history_remove_keeps_the_position(engine: &mut impl EngineUnderTest) {
    let top = publish_many(engine, CHANNEL, 3).await;
    engine.history_remove(CHANNEL).await;
    let read = engine
        .history(CHANNEL, query(None, None, false))
        .await
        .unwrap();
    assert_eq!(read.position, top);
    assert!(read.publications.is_empty());
    assert_eq!(
        engine.publish(CHANNEL, "next", None).await.0,
        StreamPosition::new(4, top.epoch)
    );
}

async fn presence_counts_clients_and_users(engine: &mut impl EngineUnderTest) {
    engine.join(CHANNEL, 1, "alice").await;
    engine.join(CHANNEL, 2, "alice").await;
    engine.join(CHANNEL, 3, "bob").await;
    engine.join("other", 4, "carol").await;
    let (clients, stats) = engine.presence(CHANNEL).await;
    assert_eq!(clients, vec!["client-1", "client-2", "client-3"]);
    assert_eq!(
        stats,
        PresenceStats {
            num_clients: 3,
            num_users: 2
        }
    );
    engine.leave(CHANNEL, 3).await;
    let (clients, stats) = engine.presence(CHANNEL).await;
    assert_eq!(clients, vec!["client-1", "client-2"]);
    assert_eq!(
        stats,
        PresenceStats {
            num_clients: 2,
            num_users: 1
        }
    );
    assert_eq!(engine.presence("empty").await.1, PresenceStats::default());
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let mut engine = super::Memory::new();
                    super::$case(&mut engine).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    let mut engine = super::Redis::new().await;
                    tokio::time::timeout(super::support::TEST_DEADLINE, super::$case(&mut engine))
                        .await
                        .expect("the case finishes in time");
                }
            )*
        }
    };
}

conformance!(
    publish_numbers_each_channel_from_one,
    history_honours_limit_since_and_reverse,
    recovery_is_all_or_nothing,
    history_ttl_empties_the_window_but_keeps_the_position,
    meta_ttl_starts_a_new_epoch,
    lost_data_means_a_new_epoch,
    idempotent_publishes_publish_once,
    history_remove_keeps_the_position,
    presence_counts_clients_and_users,
);
