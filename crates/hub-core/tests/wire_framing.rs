//! Batching and splitting: several commands or replies in one WebSocket
//! message, split the way the SDKs split them, and every way a frame fails.

use bytes::{Bytes, BytesMut};
use prost::Message as _;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::wire::{
    Command, Format, Publication, Push, Reply, SubscribeResult, WireError,
    DEFAULT_MAX_COMMANDS_PER_FRAME,
};

fn json_error(frame: &[u8]) -> WireError {
    Format::Json
        .decode_commands(frame, DEFAULT_MAX_COMMANDS_PER_FRAME)
        .expect_err("the frame must be rejected")
}

fn protobuf_error(frame: &[u8]) -> WireError {
    Format::Protobuf
        .decode_commands(frame, DEFAULT_MAX_COMMANDS_PER_FRAME)
        .expect_err("the frame must be rejected")
}

fn replies() -> Vec<Reply> {
    vec![
        Reply {
            id: 1,
            subscribe: Some(SubscribeResult::default()),
            ..Reply::default()
        },
        Reply::default(),
        Reply {
            push: Some(Push {
                channel: "c".into(),
                publication: Some(Publication {
                    data: Bytes::from_static(b"[1]"),
                    offset: 1,
                    ..Publication::default()
                }),
                ..Push::default()
            }),
            ..Reply::default()
        },
    ]
}

/// Splits a JSON batch as centrifuge-js does: on newlines, skipping blanks.
fn split_json(batch: &[u8]) -> Vec<Reply> {
    std::str::from_utf8(batch)
        .expect("JSON batches are UTF-8")
        .split('\n')
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("each line is one reply"))
        .collect()
}

/// Splits a Protobuf batch as the SDKs do: varint-length-delimited replies.
fn split_protobuf(mut batch: &[u8]) -> Vec<Reply> {
    let mut replies = Vec::new();
    while !batch.is_empty() {
        replies.push(
            Reply::decode_length_delimited(&mut batch).expect("each reply is length-delimited"),
        );
    }
    replies
}

#[test]
fn json_replies_batch_with_newlines_between() {
    let mut batch = BytesMut::new();
    for reply in replies() {
        Format::Json.encode_reply(&reply, &mut batch).unwrap();
    }
    assert_eq!(
        &batch[..],
        br#"{"id":1,"subscribe":{}}
{}
{"push":{"channel":"c","pub":{"data":[1],"offset":1}}}"#
    );
    assert_eq!(split_json(&batch), replies());
}

#[test]
fn protobuf_replies_batch_with_length_prefixes() {
    let mut batch = BytesMut::new();
    for reply in replies() {
        Format::Protobuf.encode_reply(&reply, &mut batch).unwrap();
    }
    assert_eq!(
        &batch[..4],
        [0x04, 0x08, 0x01, 0x32],
        "id 1, then an empty subscribe result"
    );
    assert_eq!(split_protobuf(&batch), replies());
}

#[test]
fn a_shared_push_joins_a_batch() {
    for format in [Format::Json, Format::Protobuf] {
        let [first, _, push_reply] = <[Reply; 3]>::try_from(replies()).unwrap();
        let shared = format
            .encode_push(push_reply.push.clone().unwrap())
            .unwrap();
        let mut batch = BytesMut::new();
        format.encode_reply(&first, &mut batch).unwrap();
        format.append_encoded(&shared, &mut batch);
        let split = match format {
            Format::Json => split_json(&batch),
            Format::Protobuf => split_protobuf(&batch),
        };
        assert_eq!(split, [first, push_reply], "{format:?}");
    }
}

#[test]
fn json_commands_split_on_newlines_with_blank_lines_and_crlf_tolerated() {
    let frame = b"{\"id\":1,\"ping\":{}}\r\n\n{}\n{\"id\":2,\"presence\":{\"channel\":\"a\"}}\n";
    let commands = Format::Json
        .decode_commands(frame, DEFAULT_MAX_COMMANDS_PER_FRAME)
        .unwrap();
    assert_eq!(commands.len(), 3);
    assert_eq!(commands[0].id, 1);
    assert_eq!(commands[1], Command::default());
    assert_eq!(commands[2].presence.as_ref().unwrap().channel, "a");
}

#[test]
fn empty_frames_are_rejected() {
    for frame in [&b""[..], b"\n", b" \r\n \n"] {
        assert!(
            matches!(json_error(frame), WireError::EmptyFrame),
            "{frame:?}"
        );
    }
    assert!(matches!(protobuf_error(b""), WireError::EmptyFrame));
}

#[test]
fn json_lines_that_are_not_objects() {
    for (frame, index) in [
        (&b"[1]"[..], 0),
        (b"\"x\"", 0),
        (b"{}\n7", 1),
        (b"{}\nnull", 1),
    ] {
        match json_error(frame) {
            WireError::NotJsonObject { index: got } => assert_eq!(got, index, "{frame:?}"),
            other => panic!("{frame:?}: {other:?}"),
        }
    }
}

#[test]
fn json_lines_that_do_not_parse() {
    for frame in [
        &b"{\"id\":"[..],
        b"{\"id\":-1}",
        b"{\"id\":\"one\"}",
        b"{\"subscribe\":{\"channel\":\"\xff\"}}",
        b"{} {}",
    ] {
        assert!(
            matches!(json_error(frame), WireError::InvalidJson { index: 0, .. }),
            "{frame:?}"
        );
    }
    assert!(matches!(
        json_error(b"{}\n{\"id\":1,}"),
        WireError::InvalidJson { index: 1, .. }
    ));
}

#[test]
fn protobuf_bodies_that_do_not_decode() {
    // Length 2: field 1 (id) as a varint whose bytes run out.
    assert!(matches!(
        protobuf_error(&[0x02, 0x08, 0x80]),
        WireError::InvalidProtobuf { index: 0, .. }
    ));
    // Second command: field 4 (connect) declares 5 bytes inside a 2-byte body.
    assert!(matches!(
        protobuf_error(&[0x00, 0x02, 0x22, 0x05]),
        WireError::InvalidProtobuf { index: 1, .. }
    ));
}

#[test]
fn protobuf_length_prefix_errors() {
    assert!(matches!(
        protobuf_error(&[0x80]),
        WireError::TruncatedLength { index: 0 }
    ));
    assert!(matches!(
        protobuf_error(&[0x00, 0xff, 0xff]),
        WireError::TruncatedLength { index: 1 }
    ));
    assert!(matches!(
        protobuf_error(&[0xff; 11]),
        WireError::InvalidLength { index: 0 }
    ));
    match protobuf_error(&[0x05, 0x08, 0x01]) {
        WireError::LengthBeyondFrame {
            index,
            declared,
            remaining,
        } => {
            assert_eq!((index, declared, remaining), (0, 5, 2));
        }
        other => panic!("{other:?}"),
    }
    let mut huge = Vec::new();
    prost::encoding::encode_varint(u64::MAX, &mut huge);
    assert!(matches!(
        protobuf_error(&huge),
        WireError::LengthBeyondFrame {
            declared: u64::MAX,
            ..
        }
    ));
}

#[test]
fn too_many_commands() {
    assert_eq!(
        Format::Json
            .decode_commands(b"{}\n{}\n{}", 3)
            .unwrap()
            .len(),
        3
    );
    assert!(matches!(
        Format::Json.decode_commands(b"{}\n{}\n{}\n{}", 3),
        Err(WireError::TooManyCommands { max: 3 })
    ));
    assert_eq!(
        Format::Protobuf.decode_commands(&[0; 3], 3).unwrap().len(),
        3
    );
    assert!(matches!(
        Format::Protobuf.decode_commands(&[0; 4], 3),
        Err(WireError::TooManyCommands { max: 3 })
    ));
}

#[test]
fn decode_errors_close_with_bad_request_and_say_what_to_fix() {
    let errors = [
        json_error(b""),
        json_error(b"[]"),
        json_error(b"{"),
        protobuf_error(&[0x80]),
        protobuf_error(&[0xff; 11]),
        protobuf_error(&[0x05]),
        protobuf_error(&[0x01, 0x07]),
        Format::Json.decode_commands(b"{}\n{}", 1).unwrap_err(),
    ];
    for error in errors {
        assert_eq!(
            error.disconnect_code(),
            DisconnectCode::BAD_REQUEST,
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(": ") && message.len() > 40, "{message}");
    }
}
