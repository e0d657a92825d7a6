//! Positions and recovery: reconnecting subscribers get every missed
//! publication once and in order, or `recovered: false` with the current
//! position, never a partial recovery.

mod harness;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::Sim;
use switchboard_hub_core::session::{Delivery, LiveDelivery};
use switchboard_hub_core::wire::Format;
use switchboard_hub_core::{ChannelOptions, NodeConfig};

fn small_history(size: usize, ttl: Duration) -> NodeConfig {
    NodeConfig {
        channel: ChannelOptions {
            history_size: size,
            history_ttl: ttl,
            ..ChannelOptions::default()
        },
        ..NodeConfig::default()
    }
}

#[test]
fn recovers_every_missed_publication_once_in_order() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = Sim::new(NodeConfig::default());
        let client = sim.connect(format);
        sim.subscribe(client, "feed");
        sim.server_publish("feed", "{\"n\":1}");
        sim.server_publish("feed", "{\"n\":2}");
        sim.pump();
        sim.drop_connection(client);
        for n in 3..=7 {
            sim.server_publish("feed", &format!("{{\"n\":{n}}}"));
        }
        sim.reconnect(client);
        let reply = sim.subscribe(client, "feed").subscribe.unwrap();
        assert!(reply.was_recovering && reply.recovered);
        assert_eq!(reply.offset, 7);
        sim.server_publish("feed", "{\"n\":8}");
        sim.pump();
        let view = sim.view(client, "feed");
        assert_eq!(view.offsets, (1..=8).collect::<Vec<_>>());
        assert_eq!(view.payloads[4], Bytes::from_static(b"{\"n\":5}"));
        assert_eq!(view.recoveries, vec![(false, false), (true, true)]);
    }
}

#[test]
fn recovery_with_nothing_missed_is_recovered_and_empty() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    sim.subscribe(client, "feed");
    sim.server_publish("feed", "{}");
    sim.pump();
    sim.drop_connection(client);
    sim.reconnect(client);
    let reply = sim.subscribe(client, "feed").subscribe.unwrap();
    assert!(reply.recovered && reply.publications.is_empty());
    assert_eq!(sim.view(client, "feed").offsets, vec![1]);
}

#[test]
fn falling_out_of_the_size_window_is_not_recovered() {
    let mut sim = Sim::new(small_history(3, Duration::from_secs(300)));
    let client = sim.connect(Format::Protobuf);
    sim.subscribe(client, "feed");
    sim.server_publish("feed", "{}");
    sim.pump();
    sim.drop_connection(client);
    for _ in 0..4 {
        sim.server_publish("feed", "{}");
    }
    sim.reconnect(client);
    let reply = sim.subscribe(client, "feed").subscribe.unwrap();
    assert!(reply.was_recovering && !reply.recovered);
    assert!(reply.publications.is_empty(), "never a partial recovery");
    assert_eq!(reply.offset, 5);
    assert_eq!(sim.view(client, "feed").offsets, vec![1]);
}

#[test]
fn falling_out_of_the_ttl_window_is_not_recovered() {
    let mut sim = Sim::new(small_history(100, Duration::from_secs(60)));
    let client = sim.connect(Format::Json);
    sim.subscribe(client, "feed");
    sim.pump();
    sim.drop_connection(client);
    sim.server_publish("feed", "{}");
    sim.advance(Duration::from_secs(30));
    sim.server_publish("feed", "{}");
    sim.advance(Duration::from_secs(31));
    sim.reconnect(client);
    let reply = sim.subscribe(client, "feed").subscribe.unwrap();
    assert!(!reply.recovered && reply.publications.is_empty());
    assert_eq!(reply.offset, 2);
}

#[test]
fn node_restart_changes_the_epoch_and_is_not_recovered() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    sim.subscribe(client, "feed");
    sim.server_publish("feed", "{}");
    sim.pump();
    let old_epoch = sim.view(client, "feed").epoch;
    sim.restart_node();
    sim.server_publish("feed", "{}");
    sim.reconnect(client);
    let reply = sim.subscribe(client, "feed").subscribe.unwrap();
    assert!(reply.was_recovering && !reply.recovered);
    assert_ne!(reply.epoch, old_epoch);
    assert_eq!(reply.offset, 1);
}

#[test]
fn publication_racing_a_subscribe_is_neither_lost_nor_duplicated() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    sim.subscribe(client, "feed");
    sim.server_publish("feed", "{}");
    sim.pump();
    sim.drop_connection(client);
    sim.server_publish("feed", "{}");
    sim.reconnect(client);
    // The subscribe action runs, then publications land in the queue
    // before the session sees the outcome: some covered by the reply's
    // recovered publications, later ones not.
    sim.defer_subscribes = true;
    sim.subscribe_command_only(client, "feed");
    sim.run_deferred_with(|sim| {
        sim.server_publish("feed", "{}");
        sim.server_publish("feed", "{}");
    });
    sim.server_publish("feed", "{}");
    sim.pump();
    let view = sim.view(client, "feed");
    assert_eq!(view.offsets, vec![1, 2, 3, 4, 5]);
}

/// Hands `client`'s session a live publication at `offset` on `channel`
/// (a one-byte frame: only where it goes matters here).
fn deliver_live(sim: &mut Sim, client: usize, channel: &str, offset: u64) -> Delivery {
    let delivery = LiveDelivery {
        channel: Arc::from(channel),
        offset,
        frame: Bytes::from_static(b"\x00"),
    };
    sim.clients[client].session.deliver(&delivery)
}

#[test]
fn pushes_during_subscribe_are_buffered_and_released_after_the_reply() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Protobuf);
    sim.server_publish("feed", "{}");
    sim.defer_subscribes = true;
    sim.subscribe_command_only(client, "feed");
    // Offset 1 is covered by the reply's position: buffered, then dropped.
    assert_eq!(
        deliver_live(&mut sim, client, "feed", 1),
        Delivery::Buffered
    );
    assert_eq!(
        deliver_live(&mut sim, client, "feed", 2),
        Delivery::Buffered
    );
    assert_eq!(
        deliver_live(&mut sim, client, "elsewhere", 1),
        Delivery::Dropped
    );
    sim.defer_subscribes = false;
    sim.run_deferred();
    // The node said offset 1 at subscribe time; the buffered offset 2
    // follows it and is released after the reply.
    let replies = &sim.clients[client].replies;
    let reply_index = replies
        .iter()
        .position(|reply| reply.subscribe.is_some())
        .unwrap();
    assert_eq!(
        replies.len(),
        reply_index + 2,
        "only the uncovered push follows the reply"
    );
    assert_eq!(replies[reply_index].subscribe.as_ref().unwrap().offset, 1);
}

#[test]
fn gap_in_offsets_unsubscribes_with_insufficient_state() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    sim.subscribe(client, "feed");
    sim.server_publish("feed", "{}");
    sim.pump();
    // Lose offset 2 on the way (as a lossy engine would).
    sim.server_publish("feed", "{}");
    sim.clients[client].queue.clear();
    sim.clients[client].outbound =
        switchboard_hub_core::outbound::OutboundQueue::new(Default::default());
    sim.server_publish("feed", "{}");
    sim.pump();
    let view = sim.view(client, "feed");
    assert_eq!(view.offsets, vec![1]);
    assert_eq!(view.unsubscribes, vec![2500]);
    assert!(!sim
        .node
        .is_subscribed(switchboard_hub_core::SessionId(client as u64), "feed"));
    assert_eq!(sim.clients[client].session.take_counters().position_gaps, 1);
    // The client resubscribes from its position and recovers offsets 2-3.
    let reply = sim.subscribe(client, "feed").subscribe.unwrap();
    assert!(reply.recovered);
    assert_eq!(sim.view(client, "feed").offsets, vec![1, 2, 3]);
}
