//! Commands per connection per second (`client_command_rate`) on virtual
//! time: error 111 over the limit, 3013 for a client that keeps going, and
//! pongs never counted.

mod harness;

use std::time::Duration;

use bytes::Bytes;
use harness::Sim;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::wire::{self, Command, Format};
use switchboard_hub_core::NodeConfig;

fn limited(rate: u32, burst: u32) -> NodeConfig {
    NodeConfig {
        client_command_rate: rate,
        client_command_burst: burst,
        ..NodeConfig::default()
    }
}

fn publish(channel: &str) -> Command {
    Command {
        publish: Some(wire::PublishRequest {
            channel: channel.into(),
            data: Bytes::from_static(b"{\"n\":1}"),
        }),
        ..Command::default()
    }
}

/// The error code of each reply to `ids`, 0 for a success.
fn outcomes(sim: &Sim, client: usize, ids: &[u32]) -> Vec<u32> {
    ids.iter()
        .map(|id| {
            let reply = sim.clients[client]
                .replies
                .iter()
                .find(|reply| reply.id == *id)
                .unwrap_or_else(|| panic!("no reply to {id}"));
            reply.error.as_ref().map_or(0, |error| error.code)
        })
        .collect()
}

/// Sends `count` publishes in one message; returns their ids.
fn burst_of_publishes(sim: &mut Sim, client: usize, count: usize) -> Vec<u32> {
    let mut commands = Vec::new();
    for _ in 0..count {
        let mut command = publish("rate");
        command.id = sim.next_id(client);
        commands.push(command);
    }
    let ids = commands.iter().map(|command| command.id).collect();
    sim.send(client, commands);
    ids
}

#[test]
fn commands_over_the_rate_get_111_and_the_bucket_refills() {
    for format in [Format::Json, Format::Protobuf] {
        // 10 per second, bursts of 5. The connect command took one token.
        let mut sim = Sim::new(limited(10, 5));
        let client = sim.connect(format);
        let ids = burst_of_publishes(&mut sim, client, 6);
        assert_eq!(outcomes(&sim, client, &ids), [0, 0, 0, 0, 111, 111]);
        let refused = sim.clients[client]
            .replies
            .iter()
            .find(|reply| reply.id == ids[5])
            .unwrap();
        let error = refused.error.as_ref().unwrap();
        assert_eq!(error.message, "too many requests");
        assert!(error.temporary, "111 tells the client to retry later");
        assert!(sim.clients[client].open);

        // 300 ms refill three tokens.
        sim.advance(Duration::from_millis(300));
        let ids = burst_of_publishes(&mut sim, client, 4);
        assert_eq!(outcomes(&sim, client, &ids), [0, 0, 0, 111]);
        assert!(sim.clients[client].open);
    }
}

#[test]
fn a_client_that_keeps_going_is_disconnected_with_3013() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = Sim::new(limited(10, 5));
        let client = sim.connect(format);
        // 4 tokens left, then 5 refusals are tolerated; the 6th closes.
        let ids = burst_of_publishes(&mut sim, client, 9);
        assert_eq!(
            outcomes(&sim, client, &ids),
            [0, 0, 0, 0, 111, 111, 111, 111, 111]
        );
        assert!(sim.clients[client].open);
        let _ = burst_of_publishes(&mut sim, client, 1);
        assert!(!sim.clients[client].open);
        assert_eq!(
            sim.clients[client].closed_with,
            Some(DisconnectCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(DisconnectCode::TOO_MANY_REQUESTS.code, 3013);
    }
}

#[test]
fn a_quiet_second_forgives_earlier_refusals() {
    let mut sim = Sim::new(limited(10, 5));
    let client = sim.connect(Format::Json);
    let ids = burst_of_publishes(&mut sim, client, 9);
    assert_eq!(
        outcomes(&sim, client, &ids)
            .iter()
            .filter(|c| **c == 111)
            .count(),
        5
    );
    sim.advance(Duration::from_secs(2));
    // A full bucket again and a clean slate: 5 served, 5 refused, open.
    let ids = burst_of_publishes(&mut sim, client, 10);
    assert_eq!(
        outcomes(&sim, client, &ids),
        [0, 0, 0, 0, 0, 111, 111, 111, 111, 111]
    );
    assert!(sim.clients[client].open);
}

#[test]
fn pongs_do_not_count_and_no_limit_is_the_default() {
    let mut sim = Sim::new(limited(1, 1));
    let client = sim.connect(Format::Json);
    // Many pings answered over minutes; the client never sends a command
    // beyond connect, and the pongs cost nothing.
    sim.advance(Duration::from_secs(25 * 20));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(1));
    let ids = burst_of_publishes(&mut sim, client, 1);
    assert_eq!(outcomes(&sim, client, &ids), [0]);

    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Protobuf);
    let ids = burst_of_publishes(&mut sim, client, 50);
    assert!(outcomes(&sim, client, &ids).iter().all(|code| *code == 0));
}
