//! The JSON form: the exact commands the SDKs send decode as meant, and
//! replies encode to the exact strings Centrifugo sends.

use std::collections::BTreeMap;

use bytes::Bytes;
use switchboard_hub_core::codes::{DisconnectCode, ErrorCode, UnsubscribeCode};
use switchboard_hub_core::wire::{
    ClientInfo, Command, ConnectResult, Format, HistoryResult, Join, PingResult, PresenceResult,
    PresenceStatsResult, Publication, PublishResult, Push, Reply, StreamPosition, SubscribeResult,
    UnsubscribeResult, WireError, DEFAULT_MAX_COMMANDS_PER_FRAME,
};

fn decode_one(text: &str) -> Command {
    let mut commands = Format::Json
        .decode_commands(text.as_bytes(), DEFAULT_MAX_COMMANDS_PER_FRAME)
        .unwrap_or_else(|error| panic!("{text} does not decode: {error}"));
    assert_eq!(commands.len(), 1, "{text}");
    commands.remove(0)
}

fn encode(reply: &Reply) -> String {
    let bytes = Format::Json
        .encode_message(reply)
        .expect("the reply encodes");
    String::from_utf8(bytes.to_vec()).expect("JSON is UTF-8")
}

#[test]
fn centrifuge_js_connect() {
    let command = decode_one(r#"{"connect":{"name":"js","token":"t0k"},"id":1}"#);
    assert_eq!(command.id, 1);
    let connect = command.connect.expect("a connect request");
    assert_eq!(connect.name, "js");
    assert_eq!(connect.token, "t0k");
    assert!(connect.data.is_empty());
    assert!(command.subscribe.is_none());
}

#[test]
fn centrifuge_python_connect_with_server_side_subs() {
    let command = decode_one(
        r#"{"id": 1, "connect": {"name": "python", "version": "0.4.0", "data": {"app": "x"}, "subs": {"news": {"recover": true, "offset": 0, "epoch": ""}}}}"#,
    );
    let connect = command.connect.expect("a connect request");
    assert_eq!(connect.version, "0.4.0");
    assert_eq!(connect.data, Bytes::from_static(br#"{"app": "x"}"#));
    assert!(connect.subs["news"].recover);
}

#[test]
fn centrifuge_js_recovering_subscribe() {
    let command = decode_one(
        r#"{"subscribe":{"channel":"news","positioned":true,"recoverable":true,"join_leave":true,"flag":1,"recover":true,"offset":12,"epoch":"xyz","tf":{"op":"eq"}},"id":2}"#,
    );
    let subscribe = command.subscribe.expect("a subscribe request");
    assert_eq!(subscribe.channel, "news");
    assert!(
        subscribe.recover && subscribe.recoverable && subscribe.positioned && subscribe.join_leave
    );
    assert_eq!((subscribe.epoch.as_str(), subscribe.offset), ("xyz", 12));
    assert_eq!(subscribe.flag, 1);
}

#[test]
fn publish_data_is_the_raw_json_text() {
    let command = decode_one(
        r#"{"publish":{"channel":"chat","data":{"text":"hi","n":[1,2.5,null]}},"id":3}"#,
    );
    let publish = command.publish.expect("a publish request");
    assert_eq!(
        publish.data,
        Bytes::from_static(br#"{"text":"hi","n":[1,2.5,null]}"#)
    );
    let string_data = decode_one(r#"{"publish":{"channel":"chat","data":"plain"},"id":4}"#);
    assert_eq!(
        string_data.publish.expect("a publish request").data,
        Bytes::from_static(br#""plain""#)
    );
}

#[test]
fn publish_with_data_that_is_not_json_is_rejected() {
    let error = Format::Json
        .decode_commands(br#"{"publish":{"channel":"chat","data":{text}},"id":3}"#, 8)
        .expect_err("invalid JSON data");
    assert!(
        matches!(error, WireError::InvalidJson { index: 0, .. }),
        "{error:?}"
    );
    assert_eq!(error.disconnect_code(), DisconnectCode::BAD_REQUEST);
}

#[test]
fn the_other_commands_the_sdks_send() {
    let history = decode_one(
        r#"{"history":{"channel":"news","limit":10,"since":{"offset":3,"epoch":"e1"},"reverse":true},"id":4}"#,
    )
    .history
    .expect("a history request");
    assert_eq!(history.limit, 10);
    assert_eq!(
        history.since,
        Some(StreamPosition {
            offset: 3,
            epoch: "e1".into()
        })
    );
    assert!(history.reverse);
    assert_eq!(
        decode_one(r#"{"presence":{"channel":"a"},"id":5}"#)
            .presence
            .unwrap()
            .channel,
        "a"
    );
    assert_eq!(
        decode_one(r#"{"presence_stats":{"channel":"b"},"id":6}"#)
            .presence_stats
            .unwrap()
            .channel,
        "b"
    );
    assert_eq!(
        decode_one(r#"{"unsubscribe":{"channel":"c"},"id":7}"#)
            .unsubscribe
            .unwrap()
            .channel,
        "c"
    );
    let rpc = decode_one(r#"{"rpc":{"method":"sum","data":[1,2]},"id":8}"#)
        .rpc
        .unwrap();
    assert_eq!((rpc.method.as_str(), &rpc.data[..]), ("sum", &b"[1,2]"[..]));
    let send = decode_one(r#"{"send":{"data":{"k":1}}}"#);
    assert_eq!(
        (send.id, &send.send.unwrap().data[..]),
        (0, &br#"{"k":1}"#[..])
    );
    assert_eq!(
        decode_one(r#"{"refresh":{"token":"t2"},"id":9}"#)
            .refresh
            .unwrap()
            .token,
        "t2"
    );
    let sub_refresh = decode_one(r#"{"sub_refresh":{"channel":"d","token":"t3"},"id":10}"#)
        .sub_refresh
        .unwrap();
    assert_eq!(
        (sub_refresh.channel.as_str(), sub_refresh.token.as_str()),
        ("d", "t3")
    );
    assert!(decode_one(r#"{"ping":{},"id":11}"#).ping.is_some());
}

#[test]
fn an_empty_object_is_the_pong() {
    assert_eq!(decode_one("{}"), Command::default());
}

#[test]
fn unknown_keys_are_ignored() {
    let command = decode_one(
        r#"{"id":2,"future":{"x":[1]},"subscribe":{"channel":"a","cursor":"c","asc":true}}"#,
    );
    assert_eq!(command.subscribe.unwrap().channel, "a");
}

#[test]
fn server_ping_is_an_empty_object() {
    assert_eq!(encode(&Reply::default()), "{}");
}

#[test]
fn connect_reply() {
    let reply = Reply {
        id: 1,
        connect: Some(ConnectResult {
            client: "9f1c2d4e-0000-4000-8000-000000000001".into(),
            version: "0.1.0".into(),
            ping: 25,
            pong: true,
            ..ConnectResult::default()
        }),
        ..Reply::default()
    };
    assert_eq!(
        encode(&reply),
        r#"{"id":1,"connect":{"client":"9f1c2d4e-0000-4000-8000-000000000001","version":"0.1.0","ping":25,"pong":true}}"#
    );
}

#[test]
fn recovered_subscribe_reply() {
    let reply = Reply {
        id: 2,
        subscribe: Some(SubscribeResult {
            recoverable: true,
            epoch: "ep".into(),
            publications: vec![Publication {
                data: Bytes::from_static(br#"{"n":1}"#),
                offset: 5,
                ..Publication::default()
            }],
            recovered: true,
            offset: 5,
            positioned: true,
            was_recovering: true,
            ..SubscribeResult::default()
        }),
        ..Reply::default()
    };
    assert_eq!(
        encode(&reply),
        r#"{"id":2,"subscribe":{"recoverable":true,"epoch":"ep","publications":[{"data":{"n":1},"offset":5}],"recovered":true,"offset":5,"positioned":true,"was_recovering":true}}"#
    );
}

#[test]
fn error_reply() {
    let reply = Reply {
        id: 3,
        error: Some(ErrorCode::BAD_REQUEST.to_error()),
        ..Reply::default()
    };
    assert_eq!(
        encode(&reply),
        r#"{"id":3,"error":{"code":107,"message":"bad request"}}"#
    );
    let reply = Reply {
        id: 4,
        error: Some(ErrorCode::INTERNAL.to_error()),
        ..Reply::default()
    };
    assert_eq!(
        encode(&reply),
        r#"{"id":4,"error":{"code":100,"message":"internal server error","temporary":true}}"#
    );
}

#[test]
fn empty_results_are_empty_objects() {
    let unsubscribe = Reply {
        id: 7,
        unsubscribe: Some(UnsubscribeResult {}),
        ..Reply::default()
    };
    assert_eq!(encode(&unsubscribe), r#"{"id":7,"unsubscribe":{}}"#);
    let publish = Reply {
        id: 8,
        publish: Some(PublishResult {}),
        ..Reply::default()
    };
    assert_eq!(encode(&publish), r#"{"id":8,"publish":{}}"#);
    let ping = Reply {
        id: 9,
        ping: Some(PingResult {}),
        ..Reply::default()
    };
    assert_eq!(encode(&ping), r#"{"id":9,"ping":{}}"#);
}

#[test]
fn presence_history_and_stats_keep_their_fields_as_centrifugo_does() {
    let presence = Reply {
        id: 4,
        presence: Some(PresenceResult {
            presence: BTreeMap::from([(
                "c1".to_owned(),
                ClientInfo {
                    client: "c1".into(),
                    conn_info: Bytes::from_static(b"{\"a\":1}"),
                    ..ClientInfo::default()
                },
            )]),
        }),
        ..Reply::default()
    };
    assert_eq!(
        encode(&presence),
        r#"{"id":4,"presence":{"presence":{"c1":{"user":"","client":"c1","conn_info":{"a":1}}}}}"#
    );
    let stats = Reply {
        id: 5,
        presence_stats: Some(PresenceStatsResult::default()),
        ..Reply::default()
    };
    assert_eq!(
        encode(&stats),
        r#"{"id":5,"presence_stats":{"num_clients":0,"num_users":0}}"#
    );
    let history = Reply {
        id: 6,
        history: Some(HistoryResult::default()),
        ..Reply::default()
    };
    assert_eq!(
        encode(&history),
        r#"{"id":6,"history":{"publications":[],"epoch":"","offset":0}}"#
    );
}

#[test]
fn publication_and_join_pushes() {
    let publication = Push {
        channel: "news".into(),
        publication: Some(Publication {
            data: Bytes::from_static(br#"{"text":"hi"}"#),
            offset: 7,
            info: Some(ClientInfo {
                user: "u1".into(),
                client: "c1".into(),
                ..ClientInfo::default()
            }),
            ..Publication::default()
        }),
        ..Push::default()
    };
    let bytes = Format::Json
        .encode_push(publication)
        .expect("the push encodes");
    assert_eq!(
        &bytes[..],
        br#"{"push":{"channel":"news","pub":{"data":{"text":"hi"},"info":{"user":"u1","client":"c1"},"offset":7}}}"#
    );
    let join = Push {
        channel: "chat".into(),
        join: Some(Join {
            info: Some(ClientInfo {
                client: "c2".into(),
                ..ClientInfo::default()
            }),
        }),
        ..Push::default()
    };
    assert_eq!(
        &Format::Json.encode_push(join).unwrap()[..],
        br#"{"push":{"channel":"chat","join":{"info":{"user":"","client":"c2"}}}}"#
    );
}

#[test]
fn unsubscribe_and_disconnect_pushes() {
    let unsubscribe = Push {
        channel: "c".into(),
        unsubscribe: Some(UnsubscribeCode::INSUFFICIENT_STATE.to_unsubscribe()),
        ..Push::default()
    };
    assert_eq!(
        &Format::Json.encode_push(unsubscribe).unwrap()[..],
        br#"{"push":{"channel":"c","unsubscribe":{"code":2500,"reason":"insufficient state"}}}"#
    );
    let disconnect = Push {
        disconnect: Some(DisconnectCode::SLOW.to_disconnect()),
        ..Push::default()
    };
    assert_eq!(
        &Format::Json.encode_push(disconnect).unwrap()[..],
        br#"{"push":{"disconnect":{"code":3008,"reason":"slow","reconnect":true}}}"#
    );
}

#[test]
fn data_that_is_not_json_cannot_go_to_a_json_client() {
    let push = Push {
        channel: "bin".into(),
        publication: Some(Publication {
            data: Bytes::from_static(&[0xff, 0x00, 0x01]),
            ..Publication::default()
        }),
        ..Push::default()
    };
    let error = Format::Json
        .encode_push(push.clone())
        .expect_err("binary data is not JSON");
    assert!(matches!(error, WireError::NotJsonData { .. }), "{error:?}");
    assert_eq!(
        error.disconnect_code(),
        DisconnectCode::INAPPROPRIATE_PROTOCOL
    );
    assert!(
        Format::Protobuf.encode_push(push).is_ok(),
        "Protobuf carries any bytes"
    );
}

#[test]
fn a_failed_encode_leaves_the_batch_as_it_was() {
    let mut batch = bytes::BytesMut::new();
    Format::Json
        .encode_reply(&Reply::default(), &mut batch)
        .unwrap();
    let bad = Reply {
        id: 2,
        publish: None,
        push: Some(Push {
            publication: Some(Publication {
                data: Bytes::from_static(b"{oops"),
                ..Publication::default()
            }),
            ..Push::default()
        }),
        ..Reply::default()
    };
    assert!(Format::Json.encode_reply(&bad, &mut batch).is_err());
    assert_eq!(&batch[..], b"{}");
}

#[test]
fn line_breaks_inside_data_do_not_split_the_batch() {
    let push = Push {
        channel: "n".into(),
        publication: Some(Publication {
            data: Bytes::from_static(b"{\n  \"a\": \"x\\ny\"\r\n}"),
            ..Publication::default()
        }),
        ..Push::default()
    };
    let bytes = Format::Json.encode_push(push).unwrap();
    assert!(!bytes.contains(&b'\n') && !bytes.contains(&b'\r'));
    assert_eq!(
        &bytes[..],
        br#"{"push":{"channel":"n","pub":{"data":{   "a": "x\ny"  }}}}"#
    );
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["push"]["pub"]["data"]["a"], "x\ny");
}
