//! The Protobuf form: hand-computed bytes prove client.proto's field numbers
//! and wire types, and the varint length framing.

use std::collections::BTreeMap;

use bytes::Bytes;
use switchboard_hub_core::wire::{
    ClientInfo, Command, ConnectResult, Format, PresenceResult, Publication, Push, Reply,
    StreamPosition, SubscribeResult, DEFAULT_MAX_COMMANDS_PER_FRAME,
};

fn encode(reply: &Reply) -> Vec<u8> {
    Format::Protobuf
        .encode_message(reply)
        .expect("Protobuf always encodes")
        .to_vec()
}

fn decode(frame: &[u8]) -> Vec<Command> {
    Format::Protobuf
        .decode_commands(frame, DEFAULT_MAX_COMMANDS_PER_FRAME)
        .unwrap_or_else(|error| panic!("{frame:02x?} does not decode: {error}"))
}

#[test]
fn server_ping_is_a_zero_length_reply() {
    assert_eq!(encode(&Reply::default()), [0x00]);
}

#[test]
fn connect_reply_bytes() {
    let reply = Reply {
        id: 1,
        connect: Some(ConnectResult {
            client: "ab".into(),
            ping: 25,
            pong: true,
            ..ConnectResult::default()
        }),
        ..Reply::default()
    };
    // Reply.id=1 (field 1 varint), Reply.connect (field 5, 8 bytes):
    // client (field 1, "ab"), ping (field 7, 25), pong (field 8, true).
    let body = [
        0x08, 0x01, 0x2a, 0x08, 0x0a, 0x02, b'a', b'b', 0x38, 0x19, 0x40, 0x01,
    ];
    assert_eq!(encode(&reply), [&[body.len() as u8][..], &body].concat());
}

#[test]
fn subscribe_reply_bytes() {
    let reply = Reply {
        id: 2,
        subscribe: Some(SubscribeResult {
            epoch: "e".into(),
            recovered: true,
            offset: 5,
            was_recovering: true,
            ..SubscribeResult::default()
        }),
        ..Reply::default()
    };
    // SubscribeResult: epoch=6 (0x32), recovered=8 (0x40), offset=9 (0x48),
    // was_recovering=12 (0x60); Reply.subscribe is field 6 (0x32).
    let body = [
        0x08, 0x02, 0x32, 0x09, 0x32, 0x01, b'e', 0x40, 0x01, 0x48, 0x05, 0x60, 0x01,
    ];
    assert_eq!(encode(&reply), [&[body.len() as u8][..], &body].concat());
}

#[test]
fn publication_push_bytes() {
    let push = Push {
        channel: "c".into(),
        publication: Some(Publication {
            data: Bytes::from_static(b"{}"),
            offset: 300,
            ..Publication::default()
        }),
        ..Push::default()
    };
    // Publication: data=4 (0x22), offset=6 (0x30, 300 = ac 02);
    // Push: channel=2 (0x12), pub=4 (0x22); Reply.push=4 (0x22).
    let publication = [0x22, 0x02, b'{', b'}', 0x30, 0xac, 0x02];
    let push_bytes = [
        &[0x12, 0x01, b'c', 0x22, publication.len() as u8][..],
        &publication,
    ]
    .concat();
    let reply = [&[0x22, push_bytes.len() as u8][..], &push_bytes].concat();
    let expected = [&[reply.len() as u8][..], &reply].concat();
    assert_eq!(
        Format::Protobuf.encode_push(push).unwrap().to_vec(),
        expected
    );
}

#[test]
fn presence_map_bytes() {
    let reply = Reply {
        id: 6,
        presence: Some(PresenceResult {
            presence: BTreeMap::from([(
                "k".to_owned(),
                ClientInfo {
                    client: "k".into(),
                    ..ClientInfo::default()
                },
            )]),
        }),
        ..Reply::default()
    };
    // A map entry is a message: key=1 ("k"), value=2 (ClientInfo.client=2).
    let entry = [0x0a, 0x01, b'k', 0x12, 0x03, 0x12, 0x01, b'k'];
    let result = [&[0x0a, entry.len() as u8][..], &entry].concat();
    let body = [&[0x08, 0x06, 0x4a, result.len() as u8][..], &result].concat();
    assert_eq!(encode(&reply), [&[body.len() as u8][..], &body].concat());
}

#[test]
fn subscribe_command_and_pong_from_hand_made_bytes() {
    // SubscribeRequest: channel=1 "n", recover=3 true, epoch=6 "x", offset=7 7,
    // then an unknown field 17 (cursor) that must be skipped.
    let request = [
        0x0a, 0x01, b'n', 0x18, 0x01, 0x32, 0x01, b'x', 0x38, 0x07, 0x8a, 0x01, 0x01, b'c',
    ];
    let command = [&[0x08, 0x03, 0x2a, request.len() as u8][..], &request].concat();
    let frame = [&[command.len() as u8][..], &command, &[0x00]].concat();
    let commands = decode(&frame);
    assert_eq!(commands.len(), 2);
    let subscribe = commands[0].subscribe.as_ref().expect("a subscribe request");
    assert_eq!(commands[0].id, 3);
    assert_eq!(subscribe.channel, "n");
    assert!(subscribe.recover);
    assert_eq!((subscribe.epoch.as_str(), subscribe.offset), ("x", 7));
    assert_eq!(
        commands[1],
        Command::default(),
        "a zero-length command is the pong"
    );
}

#[test]
fn publish_and_history_commands_from_hand_made_bytes() {
    // PublishRequest: channel=1, data=2 (any bytes); Command.publish is field 7.
    let publish = [0x0a, 0x01, b'c', 0x12, 0x02, 0xff, 0x00];
    let publish_command = [&[0x08, 0x04, 0x3a, publish.len() as u8][..], &publish].concat();
    // HistoryRequest: channel=1, limit=7, since=8 {offset=1, epoch=2}, reverse=9;
    // Command.history is field 10 (0x52).
    let history = [
        0x0a, 0x01, b'h', 0x38, 0x02, 0x42, 0x05, 0x08, 0x01, 0x12, 0x01, b'e', 0x48, 0x01,
    ];
    let history_command = [&[0x08, 0x05, 0x52, history.len() as u8][..], &history].concat();
    let frame = [
        &[publish_command.len() as u8][..],
        &publish_command,
        &[history_command.len() as u8],
        &history_command,
    ]
    .concat();
    let commands = decode(&frame);
    let publish = commands[0].publish.as_ref().expect("a publish request");
    assert_eq!(publish.data, Bytes::from_static(&[0xff, 0x00]));
    let history = commands[1].history.as_ref().expect("a history request");
    assert_eq!(history.limit, 2);
    assert_eq!(
        history.since,
        Some(StreamPosition {
            offset: 1,
            epoch: "e".into()
        })
    );
    assert!(history.reverse);
}

#[test]
fn long_commands_use_multi_byte_length_prefixes() {
    let command = Command {
        id: 9,
        publish: Some(switchboard_hub_core::wire::PublishRequest {
            channel: "big".into(),
            data: Bytes::from(vec![7u8; 1000]),
        }),
        ..Command::default()
    };
    let body = prost::Message::encode_to_vec(&command);
    let mut frame = Vec::new();
    prost::encoding::encode_varint(body.len() as u64, &mut frame);
    assert_eq!(frame.len(), 2, "a 1 KiB command needs a two-byte prefix");
    frame.extend_from_slice(&body);
    assert_eq!(decode(&frame), [command]);
}

/// Bytes centrifuge-js 5's own Protobuf codec (`encodeCommands`, protobufjs)
/// produced for a connect, a recovering subscribe, a binary publish, a
/// history and a presence stats command, and a pong, in one message.
const CENTRIFUGE_JS_COMMANDS: &str = "0b080122070a017422026a731b08022a170a046e6577731801320378797a380c48015001580170010f08033a0b0a046e65777312030102ff16080452120a046e657773380a420608031202653148010a08054a060a046e65777300";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn commands_encoded_by_centrifuge_js() {
    let commands = decode(&unhex(CENTRIFUGE_JS_COMMANDS));
    assert_eq!(commands.len(), 6);
    let connect = commands[0].connect.as_ref().expect("connect");
    assert_eq!(
        (
            commands[0].id,
            connect.name.as_str(),
            connect.token.as_str()
        ),
        (1, "js", "t")
    );
    let subscribe = commands[1].subscribe.as_ref().expect("subscribe");
    assert_eq!(
        (
            subscribe.channel.as_str(),
            subscribe.epoch.as_str(),
            subscribe.offset
        ),
        ("news", "xyz", 12)
    );
    assert!(
        subscribe.recover && subscribe.recoverable && subscribe.positioned && subscribe.join_leave
    );
    assert_eq!(subscribe.flag, 1);
    let publish = commands[2].publish.as_ref().expect("publish");
    assert_eq!(&publish.data[..], [1, 2, 255]);
    let history = commands[3].history.as_ref().expect("history");
    assert_eq!((history.limit, history.reverse), (10, true));
    assert_eq!(
        history.since,
        Some(StreamPosition {
            offset: 3,
            epoch: "e1".into()
        })
    );
    assert_eq!(
        commands[4]
            .presence_stats
            .as_ref()
            .expect("presence stats")
            .channel,
        "news"
    );
    assert_eq!(commands[5], Command::default());
}
