//! Connect, subscribe, publish and the commands around them, on virtual
//! time with no sockets, in both wire formats.

mod harness;

use bytes::Bytes;
use harness::Sim;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::config::{ChannelOptions, NamespaceConfig};
use switchboard_hub_core::wire::{self, Command, Format};
use switchboard_hub_core::NodeConfig;

const FORMATS: [Format; 2] = [Format::Json, Format::Protobuf];

fn error_code(reply: &wire::Reply) -> u32 {
    reply.error.as_ref().map_or(0, |error| error.code)
}

fn config_with(namespace: &str, options: ChannelOptions) -> NodeConfig {
    NodeConfig {
        namespaces: vec![NamespaceConfig {
            name: namespace.into(),
            options,
        }],
        ..NodeConfig::default()
    }
}

#[test]
fn connect_reply_carries_client_ping_and_pong() {
    for format in FORMATS {
        let mut sim = Sim::new(NodeConfig::default());
        let client = sim.connect(format);
        let connect = sim.clients[client].replies[0].connect.clone().unwrap();
        assert_eq!(connect.client, format!("client-{client}"));
        assert_eq!(connect.ping, 25);
        assert!(connect.pong);
        assert!(!connect.version.is_empty());
    }
}

#[test]
fn publications_reach_subscribers_of_both_formats_in_order() {
    let mut sim = Sim::new(NodeConfig::default());
    let json = sim.connect(Format::Json);
    let protobuf = sim.connect(Format::Protobuf);
    let outsider = sim.connect(Format::Json);
    for client in [json, protobuf] {
        let reply = sim.subscribe(client, "news");
        let result = reply.subscribe.unwrap();
        assert!(result.recoverable && result.positioned);
        assert_eq!(result.offset, 0);
    }
    for index in 0..3 {
        let reply = sim.publish(json, "news", &format!("{{\"n\":{index}}}"));
        assert!(reply.publish.is_some() && reply.error.is_none());
    }
    sim.pump();
    for client in [json, protobuf] {
        let view = sim.view(client, "news");
        assert_eq!(view.offsets, vec![1, 2, 3]);
        assert_eq!(view.payloads[2], Bytes::from_static(b"{\"n\":2}"));
    }
    assert!(sim.view(outsider, "news").offsets.is_empty());
}

#[test]
fn idle_channel_reply_carries_its_position() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    sim.server_publish("idle", "{}");
    sim.server_publish("idle", "{}");
    let epoch = sim.node.position("idle").unwrap().epoch;
    let result = sim.subscribe(client, "idle").subscribe.unwrap();
    assert_eq!(result.offset, 2);
    assert_eq!(result.epoch, epoch.as_str());
    assert!(result.publications.is_empty());
    assert!(!result.recovered && !result.was_recovering);
}

#[test]
fn presence_and_stats() {
    for format in FORMATS {
        let mut sim = Sim::new(NodeConfig::default());
        let a = sim.connect(format);
        let b = sim.connect(format);
        sim.subscribe(a, "room");
        sim.subscribe(b, "room");
        let presence = sim.request(
            a,
            Command {
                presence: Some(wire::PresenceRequest {
                    channel: "room".into(),
                }),
                ..Command::default()
            },
        );
        let clients = presence.presence.unwrap().presence;
        assert_eq!(clients.len(), 2);
        assert!(clients.contains_key("client-0") && clients.contains_key("client-1"));
        let stats = sim.request(
            a,
            Command {
                presence_stats: Some(wire::PresenceStatsRequest {
                    channel: "room".into(),
                }),
                ..Command::default()
            },
        );
        let stats = stats.presence_stats.unwrap();
        assert_eq!((stats.num_clients, stats.num_users), (2, 1));
        sim.unsubscribe(b, "room");
        let stats = sim.request(
            a,
            Command {
                presence_stats: Some(wire::PresenceStatsRequest {
                    channel: "room".into(),
                }),
                ..Command::default()
            },
        );
        assert_eq!(stats.presence_stats.unwrap().num_clients, 1);
    }
}

#[test]
fn join_and_leave_pushes_only_where_enabled_and_asked_for() {
    let quiet = ChannelOptions {
        join_leave: false,
        ..ChannelOptions::default()
    };
    let mut sim = Sim::new(config_with("quiet", quiet));
    let a = sim.connect(Format::Json);
    let b = sim.connect(Format::Protobuf);
    let c = sim.connect(Format::Json);
    for channel in ["loud", "quiet:room"] {
        sim.subscribe_with_join_leave(a, channel);
        sim.subscribe_with_join_leave(b, channel);
    }
    // c does not ask for joins and leaves: it gets none, but others see it.
    sim.subscribe(c, "loud");
    sim.pump();
    sim.unsubscribe(b, "loud");
    sim.drop_connection(b);
    sim.pump();
    let loud = sim.view(a, "loud");
    assert_eq!(loud.joins, vec!["client-0", "client-1", "client-2"]);
    assert_eq!(loud.leaves, vec!["client-1"]);
    let unasked = sim.view(c, "loud");
    assert!(unasked.joins.is_empty() && unasked.leaves.is_empty());
    let quiet = sim.view(a, "quiet:room");
    assert!(quiet.joins.is_empty() && quiet.leaves.is_empty());
}

#[test]
fn force_push_join_leave_reaches_subscribers_that_did_not_ask() {
    let forced = ChannelOptions {
        force_push_join_leave: true,
        ..ChannelOptions::default()
    };
    let mut sim = Sim::new(config_with("forced", forced));
    let a = sim.connect(Format::Json);
    let b = sim.connect(Format::Json);
    sim.subscribe(a, "forced:room");
    sim.subscribe(b, "forced:room");
    sim.pump();
    sim.unsubscribe(b, "forced:room");
    sim.pump();
    let view = sim.view(a, "forced:room");
    assert_eq!(view.joins, vec!["client-0", "client-1"]);
    assert_eq!(view.leaves, vec!["client-1"]);
}

#[test]
fn permissions_follow_namespace_options() {
    let locked = ChannelOptions {
        allow_publish_for_client: false,
        allow_publish_for_subscriber: true,
        allow_history_for_client: false,
        allow_presence_for_client: false,
        ..ChannelOptions::default()
    };
    let mut sim = Sim::new(config_with("locked", locked));
    let client = sim.connect(Format::Json);
    assert_eq!(error_code(&sim.publish(client, "locked:a", "{}")), 103);
    sim.subscribe(client, "locked:a");
    assert_eq!(error_code(&sim.publish(client, "locked:a", "{}")), 0);
    let history = sim.request(
        client,
        Command {
            history: Some(wire::HistoryRequest {
                channel: "locked:a".into(),
                ..wire::HistoryRequest::default()
            }),
            ..Command::default()
        },
    );
    assert_eq!(error_code(&history), 103);
    let presence = sim.request(
        client,
        Command {
            presence: Some(wire::PresenceRequest {
                channel: "locked:a".into(),
            }),
            ..Command::default()
        },
    );
    assert_eq!(error_code(&presence), 103);
}

#[test]
fn history_without_history_is_not_available() {
    let mut sim = Sim::new(config_with(
        "plain",
        ChannelOptions {
            allow_history_for_client: true,
            allow_presence_for_client: true,
            ..ChannelOptions::restrictive()
        },
    ));
    let client = sim.connect(Format::Json);
    let history = sim.request(
        client,
        Command {
            history: Some(wire::HistoryRequest {
                channel: "plain:x".into(),
                ..wire::HistoryRequest::default()
            }),
            ..Command::default()
        },
    );
    assert_eq!(error_code(&history), 108);
    let result = sim.subscribe(client, "plain:x").subscribe.unwrap();
    assert!(!result.recoverable && !result.positioned);
}

#[test]
fn history_reads_limit_and_reverse() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Protobuf);
    for _ in 0..5 {
        sim.server_publish("h", "{}");
    }
    let mut read = |limit: i32, reverse: bool| {
        let reply = sim.request(
            client,
            Command {
                history: Some(wire::HistoryRequest {
                    channel: "h".into(),
                    limit,
                    reverse,
                    since: None,
                }),
                ..Command::default()
            },
        );
        let result = reply.history.unwrap();
        assert_eq!(result.offset, 5);
        result
            .publications
            .iter()
            .map(|publication| publication.offset)
            .collect::<Vec<_>>()
    };
    assert_eq!(read(0, false), Vec::<u64>::new());
    assert_eq!(read(-1, false), vec![1, 2, 3, 4, 5]);
    assert_eq!(read(2, true), vec![5, 4]);
}

#[test]
fn channel_limit_unknown_namespace_and_duplicates() {
    let mut sim = Sim::new(NodeConfig {
        max_channels_per_connection: 2,
        max_channel_name_length: 10,
        ..NodeConfig::default()
    });
    let client = sim.connect(Format::Json);
    assert_eq!(error_code(&sim.subscribe(client, "nope:x")), 102);
    assert_eq!(error_code(&sim.subscribe(client, "a")), 0);
    assert_eq!(error_code(&sim.subscribe(client, "a")), 105);
    assert_eq!(error_code(&sim.subscribe(client, "b")), 0);
    assert_eq!(error_code(&sim.subscribe(client, "c")), 106);
    sim.unsubscribe(client, "a");
    assert_eq!(error_code(&sim.subscribe(client, "c")), 0);
    assert_eq!(error_code(&sim.subscribe(client, "d")), 106);
    assert_eq!(error_code(&sim.publish(client, "elevenchars", "{}")), 106);
    assert_eq!(error_code(&sim.subscribe(client, "")), 107);
}

#[test]
fn rpc_unknown_method_refresh_and_send() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    let rpc = sim.request(
        client,
        Command {
            rpc: Some(wire::RpcRequest::default()),
            ..Command::default()
        },
    );
    assert_eq!(error_code(&rpc), 108);
    assert_eq!(error_code(&sim.request(client, Command::default())), 104);
    let refresh = sim.request(
        client,
        Command {
            refresh: Some(wire::RefreshRequest::default()),
            ..Command::default()
        },
    );
    assert!(!refresh.refresh.unwrap().expires);
    let replies_before = sim.clients[client].replies.len();
    sim.send(
        client,
        vec![Command {
            send: Some(wire::SendRequest {
                data: Bytes::from_static(b"{}"),
            }),
            ..Command::default()
        }],
    );
    assert_eq!(sim.clients[client].replies.len(), replies_before);
    assert!(sim.clients[client].open);
}

#[test]
fn batched_commands_get_one_batched_answer_in_order() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Json);
    let commands: Vec<Command> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(index, channel)| {
            let mut command = Sim::subscribe_command(channel);
            command.id = 100 + index as u32;
            command
        })
        .collect();
    let before = sim.clients[client].replies.len();
    sim.send(client, commands);
    let ids: Vec<u32> = sim.clients[client].replies[before..]
        .iter()
        .map(|reply| reply.id)
        .collect();
    assert_eq!(ids, vec![100, 101, 102]);
}

#[test]
fn protocol_violations_close_with_bad_request() {
    for format in FORMATS {
        // A command before connect.
        let mut sim = Sim::new(NodeConfig::default());
        let client = sim.open(format);
        sim.send(client, vec![Sim::subscribe_command("a")]);
        assert_eq!(
            sim.clients[client].closed_with,
            Some(DisconnectCode::BAD_REQUEST)
        );
        // A frame that does not decode.
        let client = sim.connect(format);
        sim.send_raw(client, b"\xff\xff not a command");
        assert_eq!(
            sim.clients[client].closed_with,
            Some(DisconnectCode::BAD_REQUEST)
        );
        // A second connect.
        let client = sim.connect(format);
        sim.send(
            client,
            vec![Command {
                id: 9,
                connect: Some(wire::ConnectRequest::default()),
                ..Command::default()
            }],
        );
        assert_eq!(
            sim.clients[client].closed_with,
            Some(DisconnectCode::BAD_REQUEST)
        );
    }
}

#[test]
fn anonymous_connect_refused_when_disabled() {
    let mut sim = Sim::new(NodeConfig {
        allow_anonymous_connect: false,
        ..NodeConfig::default()
    });
    let client = sim.open(Format::Json);
    let reply = sim.request(
        client,
        Command {
            connect: Some(wire::ConnectRequest::default()),
            ..Command::default()
        },
    );
    assert_eq!(error_code(&reply), 101);
    assert!(!sim.clients[client].session.is_connected());
}

#[test]
fn publisher_subscribed_receives_its_own_publication_with_info() {
    let mut sim = Sim::new(NodeConfig::default());
    let client = sim.connect(Format::Protobuf);
    sim.subscribe(client, "echo");
    sim.publish(client, "echo", "[1,2]");
    sim.pump();
    let publication = sim.clients[client]
        .replies
        .iter()
        .find_map(|reply| reply.push.as_ref()?.publication.clone())
        .unwrap();
    assert_eq!(publication.offset, 1);
    assert_eq!(publication.info.unwrap().client, "client-0");
}
