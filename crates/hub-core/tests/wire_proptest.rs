//! Properties: arbitrary bytes never panic the decoder, and generated
//! commands and replies survive encode -> decode in both formats.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use prost::Message as _;
use serde_json::Value;
use switchboard_hub_core::wire::{
    ClientInfo, Command, ConnectRequest, ConnectResult, Disconnect, Error, Format, HistoryRequest,
    HistoryResult, Join, Leave, PingRequest, PresenceRequest, PresenceResult, PresenceStatsResult,
    Publication, PublishRequest, Push, Reply, RpcRequest, SendRequest, StreamPosition,
    SubscribeRequest, SubscribeResult, Unsubscribe, WireError,
};

/// Compact JSON text, the only thing a JSON-form bytes field can hold.
fn json_text() -> impl Strategy<Value = Bytes> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    prop_oneof![
        Just(Bytes::new()),
        value.prop_map(|value| Bytes::from(value.to_string()))
    ]
}

fn text() -> impl Strategy<Value = String> {
    ".{0,10}"
}

fn client_info() -> impl Strategy<Value = ClientInfo> {
    (text(), text(), json_text(), json_text()).prop_map(|(user, client, conn_info, chan_info)| {
        ClientInfo {
            user,
            client,
            conn_info,
            chan_info,
        }
    })
}

fn publication() -> impl Strategy<Value = Publication> {
    (
        json_text(),
        option::of(client_info()),
        any::<u64>(),
        btree_map("[a-z]{1,3}", text(), 0..3),
        any::<i64>(),
    )
        .prop_map(|(data, info, offset, tags, time)| Publication {
            data,
            info,
            offset,
            tags,
            time,
            ..Publication::default()
        })
}

fn subscribe_request() -> impl Strategy<Value = SubscribeRequest> {
    (
        text(),
        text(),
        any::<bool>(),
        text(),
        any::<u64>(),
        json_text(),
        any::<[bool; 3]>(),
        any::<i64>(),
    )
        .prop_map(
            |(
                channel,
                token,
                recover,
                epoch,
                offset,
                data,
                [positioned, recoverable, join_leave],
                flag,
            )| {
                SubscribeRequest {
                    channel,
                    token,
                    recover,
                    epoch,
                    offset,
                    data,
                    positioned,
                    recoverable,
                    join_leave,
                    flag,
                    ..SubscribeRequest::default()
                }
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    let connect = (
        text(),
        json_text(),
        btree_map("[a-z]{1,3}", subscribe_request(), 0..2),
        text(),
    )
        .prop_map(|(token, data, subs, name)| ConnectRequest {
            token,
            data,
            subs,
            name,
            ..ConnectRequest::default()
        });
    let history = (
        text(),
        any::<i32>(),
        option::of((any::<u64>(), text())),
        any::<bool>(),
    )
        .prop_map(|(channel, limit, since, reverse)| HistoryRequest {
            channel,
            limit,
            since: since.map(|(offset, epoch)| StreamPosition { offset, epoch }),
            reverse,
        });
    (
        any::<u32>(),
        option::of(connect),
        option::of(subscribe_request()),
        option::of(
            (text(), json_text()).prop_map(|(channel, data)| PublishRequest { channel, data }),
        ),
        option::of(history),
        option::of(text().prop_map(|channel| PresenceRequest { channel })),
        option::of(Just(PingRequest {})),
        option::of(json_text().prop_map(|data| SendRequest { data })),
        option::of((json_text(), text()).prop_map(|(data, method)| RpcRequest { data, method })),
    )
        .prop_map(
            |(id, connect, subscribe, publish, history, presence, ping, send, rpc)| Command {
                id,
                connect,
                subscribe,
                publish,
                history,
                presence,
                ping,
                send,
                rpc,
                ..Command::default()
            },
        )
}

fn push() -> impl Strategy<Value = Push> {
    (
        text(),
        option::of(publication()),
        option::of(option::of(client_info()).prop_map(|info| Join { info })),
        option::of(option::of(client_info()).prop_map(|info| Leave { info })),
        option::of((any::<u32>(), text()).prop_map(|(code, reason)| Unsubscribe { code, reason })),
        option::of(
            (any::<u32>(), text(), any::<bool>()).prop_map(|(code, reason, reconnect)| {
                Disconnect {
                    code,
                    reason,
                    reconnect,
                }
            }),
        ),
    )
        .prop_map(
            |(channel, publication, join, leave, unsubscribe, disconnect)| Push {
                channel,
                publication,
                join,
                leave,
                unsubscribe,
                disconnect,
                ..Push::default()
            },
        )
}

fn reply() -> impl Strategy<Value = Reply> {
    let error =
        (any::<u32>(), text(), any::<bool>()).prop_map(|(code, message, temporary)| Error {
            code,
            message,
            temporary,
        });
    let connect = (text(), text(), any::<u32>(), any::<bool>(), json_text()).prop_map(
        |(client, version, ping, pong, data)| ConnectResult {
            client,
            version,
            ping,
            pong,
            data,
            ..ConnectResult::default()
        },
    );
    let subscribe = (
        any::<[bool; 4]>(),
        text(),
        vec(publication(), 0..3),
        any::<u64>(),
        json_text(),
    )
        .prop_map(
            |(
                [recoverable, recovered, positioned, was_recovering],
                epoch,
                publications,
                offset,
                data,
            )| SubscribeResult {
                recoverable,
                epoch,
                publications,
                recovered,
                offset,
                positioned,
                data,
                was_recovering,
                ..SubscribeResult::default()
            },
        );
    let history = (vec(publication(), 0..3), text(), any::<u64>()).prop_map(
        |(publications, epoch, offset)| HistoryResult {
            publications,
            epoch,
            offset,
        },
    );
    let presence =
        btree_map(text(), client_info(), 0..3).prop_map(|presence| PresenceResult { presence });
    let stats =
        (any::<u32>(), any::<u32>()).prop_map(|(num_clients, num_users)| PresenceStatsResult {
            num_clients,
            num_users,
        });
    (
        any::<u32>(),
        option::of(error),
        option::of(push()),
        option::of(connect),
        option::of(subscribe),
        option::of(history),
        option::of(presence),
        option::of(stats),
    )
        .prop_map(
            |(id, error, push, connect, subscribe, history, presence, presence_stats)| Reply {
                id,
                error,
                push,
                connect,
                subscribe,
                history,
                presence,
                presence_stats,
                ..Reply::default()
            },
        )
}

/// Splits a reply batch back into replies, the way the SDKs do.
fn split_replies(format: Format, batch: &[u8]) -> Vec<Reply> {
    match format {
        Format::Json => batch
            .split(|&byte| byte == b'\n')
            .map(|line| serde_json::from_slice(line).expect("each line is one reply"))
            .collect(),
        Format::Protobuf => {
            let mut rest = batch;
            let mut replies = Vec::new();
            while !rest.is_empty() {
                replies.push(
                    Reply::decode_length_delimited(&mut rest).expect("length-delimited replies"),
                );
            }
            replies
        }
    }
}

fn assert_typed(result: Result<Vec<Command>, WireError>, max: usize) {
    match result {
        Ok(commands) => assert!(!commands.is_empty() && commands.len() <= max),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_decode_or_fail_with_a_typed_error(frame in vec(any::<u8>(), 0..256), max in 1usize..8) {
        assert_typed(Format::Json.decode_commands(&frame, max), max);
        assert_typed(Format::Protobuf.decode_commands(&frame, max), max);
    }

    #[test]
    fn json_like_text_never_panics(frame in "[{}\\[\\]\":,0-9a-z \n]{0,64}") {
        assert_typed(Format::Json.decode_commands(frame.as_bytes(), 4), 4);
    }

    #[test]
    fn commands_round_trip_in_json(commands in vec(command(), 1..4)) {
        let lines: Vec<String> =
            commands.iter().map(|command| serde_json::to_string(command).expect("commands serialize")).collect();
        let frame = lines.join("\n");
        prop_assert_eq!(Format::Json.decode_commands(frame.as_bytes(), 4).unwrap(), commands);
    }

    #[test]
    fn commands_round_trip_in_protobuf(commands in vec(command(), 1..4)) {
        let mut frame = Vec::new();
        for command in &commands {
            command.encode_length_delimited(&mut frame).expect("a Vec grows");
        }
        prop_assert_eq!(Format::Protobuf.decode_commands(&frame, 4).unwrap(), commands);
    }

    #[test]
    fn replies_round_trip_in_both_formats(replies in vec(reply(), 1..4)) {
        for format in [Format::Json, Format::Protobuf] {
            let mut batch = BytesMut::new();
            for reply in &replies {
                format.encode_reply(reply, &mut batch).unwrap();
            }
            prop_assert_eq!(&split_replies(format, &batch), &replies);
        }
    }

    #[test]
    fn a_push_encoded_once_matches_the_reply_it_wraps(push in push()) {
        for format in [Format::Json, Format::Protobuf] {
            let shared = format.encode_push(push.clone()).unwrap();
            let wrapped = Reply { push: Some(push.clone()), ..Reply::default() };
            prop_assert_eq!(split_replies(format, &shared), vec![wrapped]);
        }
    }
}

#[test]
fn tags_and_maps_survive_both_formats() {
    let reply = Reply {
        presence: Some(PresenceResult {
            presence: BTreeMap::from([
                ("a".to_owned(), ClientInfo::default()),
                ("b".to_owned(), ClientInfo::default()),
            ]),
        }),
        ..Reply::default()
    };
    for format in [Format::Json, Format::Protobuf] {
        let bytes = format.encode_message(&reply).unwrap();
        assert_eq!(split_replies(format, &bytes), std::slice::from_ref(&reply));
    }
}
