//! Random interleavings of publishes, dropped connections, resubscribes
//! (some racing publications) and clock advances: every client ends with
//! every offset exactly once, in order, except across an explicit
//! `recovered: false`.

mod harness;

use std::time::Duration;

use harness::{Sim, ViewEvent};
use proptest::prelude::*;
use switchboard_hub_core::wire::Format;
use switchboard_hub_core::{ChannelOptions, NodeConfig};

const CLIENTS: usize = 3;
const CHANNEL: &str = "stream";

#[derive(Debug, Clone)]
enum Op {
    Publish,
    Pump(usize),
    Drop(usize),
    Resubscribe(usize),
    ResubscribeRacing(usize, u8),
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Publish),
        3 => (0..CLIENTS).prop_map(Op::Pump),
        1 => (0..CLIENTS).prop_map(Op::Drop),
        1 => (0..CLIENTS).prop_map(Op::Resubscribe),
        1 => ((0..CLIENTS), 1u8..4).prop_map(|(client, count)| Op::ResubscribeRacing(client, count)),
        1 => (1u8..40).prop_map(Op::Advance),
    ]
}

fn config() -> NodeConfig {
    NodeConfig {
        channel: ChannelOptions {
            history_size: 6,
            history_ttl: Duration::from_secs(60),
            ..ChannelOptions::default()
        },
        ..NodeConfig::default()
    }
}

/// Checks one client's log: offsets follow each other by one, and may
/// jump only at a subscribe reply that did not recover.
fn check_log(events: &[ViewEvent]) -> Result<u64, TestCaseError> {
    let mut last: Option<u64> = None;
    for event in events {
        match *event {
            ViewEvent::Subscribed {
                recovering,
                recovered,
                offset,
            } => {
                if recovering && recovered {
                    prop_assert!(last.is_some_and(|last| last <= offset));
                } else {
                    // A fresh start or an explicit `recovered: false`.
                    last = Some(offset);
                }
            }
            ViewEvent::Publication(offset) => {
                let expected = last.map_or(1, |last| last + 1);
                prop_assert_eq!(offset, expected, "log: {:?}", events);
                last = Some(offset);
            }
        }
    }
    Ok(last.unwrap_or(0))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_offset_once_or_an_explicit_recovered_false(ops in proptest::collection::vec(op(), 1..60)) {
        let mut sim = Sim::new(config());
        let formats = [Format::Json, Format::Protobuf, Format::Json];
        for format in formats {
            let client = sim.connect(format);
            sim.subscribe(client, CHANNEL);
        }
        for op in ops {
            match op {
                Op::Publish => {
                    sim.server_publish(CHANNEL, "{}");
                }
                Op::Pump(client) => sim.pump_one(client),
                Op::Drop(client) => sim.drop_connection(client),
                Op::Resubscribe(client) => {
                    if !sim.clients[client].open {
                        sim.reconnect(client);
                        sim.subscribe(client, CHANNEL);
                    }
                }
                Op::ResubscribeRacing(client, count) => {
                    if !sim.clients[client].open {
                        sim.reconnect(client);
                        sim.defer_subscribes = true;
                        sim.subscribe_command_only(client, CHANNEL);
                        sim.run_deferred_with(|sim| {
                            for _ in 0..count {
                                sim.server_publish(CHANNEL, "{}");
                            }
                        });
                    }
                }
                Op::Advance(seconds) => sim.advance(Duration::from_secs(u64::from(seconds))),
            }
        }
        // Everyone comes back and catches up.
        for client in 0..CLIENTS {
            if !sim.clients[client].open {
                sim.reconnect(client);
                sim.subscribe(client, CHANNEL);
            }
        }
        sim.pump();
        let top = sim.node.position(CHANNEL).map_or(0, |position| position.offset);
        for client in 0..CLIENTS {
            let view = sim.view(client, CHANNEL);
            let last = check_log(&view.events)?;
            prop_assert_eq!(last, top, "client {} log: {:?}", client, view.events);
        }
    }
}
