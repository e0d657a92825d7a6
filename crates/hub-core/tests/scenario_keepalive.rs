//! Pings, pongs, the connect deadline and the slow-consumer rule, on
//! virtual time.

mod harness;

use std::time::Duration;

use harness::Sim;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::wire::{Format, Reply};
use switchboard_hub_core::NodeConfig;

fn pings(sim: &Sim, client: usize) -> usize {
    sim.clients[client]
        .replies
        .iter()
        .filter(|reply| **reply == Reply::default())
        .count()
}

#[test]
fn pings_every_interval_while_pongs_come_back() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = Sim::new(NodeConfig::default());
        let client = sim.connect(format);
        sim.advance(Duration::from_secs(24));
        assert_eq!(pings(&sim, client), 0);
        sim.advance(Duration::from_secs(1));
        assert_eq!(pings(&sim, client), 1);
        sim.advance(Duration::from_secs(25 * 10));
        assert_eq!(pings(&sim, client), 11);
        assert!(sim.clients[client].open);
    }
}

#[test]
fn ping_is_an_empty_object_in_json_and_a_zero_length_reply_in_protobuf() {
    let mut sim = Sim::new(NodeConfig::default());
    for (format, expected) in [(Format::Json, &b"{}"[..]), (Format::Protobuf, &b"\x00"[..])] {
        let client = sim.connect(format);
        sim.clients[client].session.poll_transmit();
        let now = sim.now + Duration::from_secs(25);
        sim.clients[client].session.handle_timeout(now);
        let message = sim.clients[client].session.poll_transmit().unwrap();
        assert_eq!(&message[..], expected);
    }
}

#[test]
fn missing_pong_disconnects_with_no_pong() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    sim.clients[client].auto_pong = false;
    sim.advance(Duration::from_secs(25));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(7));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.clients[client].closed_with,
        Some(DisconnectCode::NO_PONG)
    );
    assert!(DisconnectCode::NO_PONG.reconnect());
}

#[test]
fn connection_without_connect_is_dropped_as_stale() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.open(Format::Protobuf);
    sim.advance(Duration::from_secs(9));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.clients[client].closed_with, Some(DisconnectCode::STALE));
}

#[test]
fn outbound_overflow_disconnects_the_slow_subscriber_only() {
    let mut sim = Sim::new(NodeConfig {
        client_queue_max_messages: 5,
        ..NodeConfig::default()
    });
    let fast = sim.connect(Format::Json);
    let slow = sim.connect(Format::Json);
    sim.subscribe(fast, "firehose");
    sim.subscribe(slow, "firehose");
    sim.pump();
    for _ in 0..6 {
        sim.server_publish("firehose", "{}");
        sim.pump_one(fast);
    }
    assert_eq!(sim.clients[slow].closed_with, Some(DisconnectCode::SLOW));
    assert!(DisconnectCode::SLOW.reconnect());
    assert!(sim.clients[fast].open);
    assert_eq!(
        sim.view(fast, "firehose").offsets,
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(sim.node.subscribers("firehose").len(), 1);
}

#[test]
fn slow_subscriber_recovers_after_reconnect() {
    let mut sim = Sim::new(NodeConfig {
        client_queue_max_bytes: 300,
        ..NodeConfig::default()
    });
    let slow = sim.connect(Format::Protobuf);
    sim.subscribe(slow, "firehose");
    for _ in 0..20 {
        sim.server_publish("firehose", "{\"payload\":\"0123456789\"}");
    }
    assert_eq!(sim.clients[slow].closed_with, Some(DisconnectCode::SLOW));
    sim.reconnect(slow);
    let reply = sim.subscribe(slow, "firehose").subscribe.unwrap();
    // It received no live publication before it was dropped, so it
    // recovers all 20 from offset 0.
    assert!(reply.was_recovering && reply.recovered);
    assert_eq!(
        sim.view(slow, "firehose").offsets,
        (1..=20).collect::<Vec<_>>()
    );
}
