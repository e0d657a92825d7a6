//! Centrifugo's client protocol v2, Protobuf form (subprotocol
//! `centrifuge-protobuf`): binary messages holding varint-length-delimited
//! `Command`s (client) and `Reply`s (server). Only the few fields the
//! benchmark needs are encoded and decoded, by hand, with client.proto's
//! field numbers; an empty `Reply` is a ping, answered by an empty
//! `Command`.

use switchboard_proto::Message;

use super::centrifuge_setup::{CentrifugeSetup, NextStep, CONNECT_ID, SUBSCRIBE_ID};
use super::{Client, ServerError};

const NAME: &str = "Centrifugo Protobuf";

// Field numbers from client.proto.
const COMMAND_ID: u32 = 1;
const COMMAND_CONNECT: u32 = 4;
const COMMAND_SUBSCRIBE: u32 = 5;
const COMMAND_PUBLISH: u32 = 7;
const SUBSCRIBE_REQUEST_CHANNEL: u32 = 1;
const PUBLISH_REQUEST_CHANNEL: u32 = 1;
const PUBLISH_REQUEST_DATA: u32 = 2;
const REPLY_ID: u32 = 1;
const REPLY_ERROR: u32 = 2;
const REPLY_PUSH: u32 = 4;
const PUSH_PUB: u32 = 4;
const PUSH_UNSUBSCRIBE: u32 = 7;
const PUSH_DISCONNECT: u32 = 11;
const PUBLICATION_DATA: u32 = 4;

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// A Centrifugo Protobuf client.
#[derive(Debug)]
pub(super) struct CentrifugeProtobuf {
    setup: CentrifugeSetup,
}

impl CentrifugeProtobuf {
    pub(super) fn new() -> Self {
        CentrifugeProtobuf {
            setup: CentrifugeSetup::new(),
        }
    }

    fn handle_reply(
        &mut self,
        reply: &[u8],
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        if reply.is_empty() {
            out.push(Message::binary(vec![0u8])); // an empty Command, delimited
            return Ok(());
        }
        let mut id = 0;
        let mut error = None;
        for field in Fields(reply) {
            match field? {
                (REPLY_ID, Value::Varint(value)) => id = value,
                (REPLY_ERROR, Value::Bytes(bytes)) => error = Some(bytes),
                (REPLY_PUSH, Value::Bytes(push)) => return handle_push(push, deliver),
                _ => {}
            }
        }
        let error = error.map(|error| move || describe_error(error));
        if let NextStep::Subscribe(channel) = self.setup.on_reply(id, error)? {
            let mut request = Vec::new();
            put_bytes(&mut request, SUBSCRIBE_REQUEST_CHANNEL, channel.as_bytes());
            out.push(Message::binary(command(
                SUBSCRIBE_ID,
                COMMAND_SUBSCRIBE,
                &request,
            )));
        }
        Ok(())
    }
}

/// `Error { code = 1, message = 2 }` as text.
fn describe_error(error: &[u8]) -> String {
    let (mut code, mut message) = (0, String::new());
    for field in Fields(error).flatten() {
        match field {
            (1, Value::Varint(value)) => code = value,
            (2, Value::Bytes(bytes)) => message = String::from_utf8_lossy(bytes).into_owned(),
            _ => {}
        }
    }
    format!("Centrifugo error {code}: {message}")
}

fn handle_push(push: &[u8], deliver: &mut dyn FnMut(&[u8])) -> Result<(), ServerError> {
    for field in Fields(push) {
        match field? {
            (PUSH_PUB, Value::Bytes(publication)) => {
                let mut data: &[u8] = &[];
                for field in Fields(publication) {
                    if let (PUBLICATION_DATA, Value::Bytes(bytes)) = field? {
                        data = bytes;
                    }
                }
                deliver(data);
            }
            (PUSH_UNSUBSCRIBE | PUSH_DISCONNECT, _) => {
                return Err(ServerError::Ended(
                    "a Centrifugo unsubscribe or disconnect push".into(),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

impl Client for CentrifugeProtobuf {
    fn start_subscriber(&mut self, channel: &str, out: &mut Vec<Message>) {
        self.setup.subscribe_after_connect(channel);
        self.start_publisher(out);
    }

    fn start_publisher(&mut self, out: &mut Vec<Message>) {
        out.push(Message::binary(command(CONNECT_ID, COMMAND_CONNECT, &[])));
    }

    fn is_ready(&self) -> bool {
        self.setup.is_ready()
    }

    fn publish(&mut self, channel: &str, payload: &[u8], out: &mut Vec<Message>) {
        let id = self.setup.next_publish_id();
        let mut request = Vec::with_capacity(channel.len() + payload.len() + 8);
        put_bytes(&mut request, PUBLISH_REQUEST_CHANNEL, channel.as_bytes());
        put_bytes(&mut request, PUBLISH_REQUEST_DATA, payload);
        out.push(Message::binary(command(id, COMMAND_PUBLISH, &request)));
    }

    fn receive(
        &mut self,
        message: &[u8],
        _text: bool,
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        let mut rest = message;
        while !rest.is_empty() {
            let (len, used) = varint(rest)
                .ok_or_else(|| ServerError::malformed(NAME, "a truncated length prefix"))?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|len| used.checked_add(len))
                .filter(|&end| end <= rest.len())
                .ok_or_else(|| ServerError::malformed(NAME, "a Reply longer than its message"))?;
            self.handle_reply(&rest[used..end], out, deliver)?;
            rest = &rest[end..];
        }
        Ok(())
    }

    fn publish_errors(&self) -> u64 {
        self.setup.publish_errors()
    }
}

/// A delimited `Command { id, <request field>: request }`.
fn command(id: u64, request_field: u32, request: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(request.len() + 16);
    put_varint(
        &mut body,
        u64::from(COMMAND_ID << 3 | u32::from(WIRE_VARINT)),
    );
    put_varint(&mut body, id);
    put_bytes(&mut body, request_field, request);
    let mut out = Vec::with_capacity(body.len() + 5);
    put_varint(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | u32::from(WIRE_LEN)));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A varint at the start of `bytes` and its length.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

/// A decoded field value (fixed-width values are skipped, not needed).
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one Protobuf message, in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), ServerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let truncated = || ServerError::malformed(NAME, "a truncated field");
        let field = (|| {
            let (key, used) = varint(self.0).ok_or_else(truncated)?;
            let rest = &self.0[used..];
            let number = (key >> 3) as u32;
            let (value, used) = match (key & 0x7) as u8 {
                WIRE_VARINT => {
                    let (value, used) = varint(rest).ok_or_else(truncated)?;
                    (Value::Varint(value), used)
                }
                WIRE_LEN => {
                    let (len, prefix) = varint(rest).ok_or_else(truncated)?;
                    let end = usize::try_from(len)
                        .ok()
                        .and_then(|len| prefix.checked_add(len))
                        .filter(|&end| end <= rest.len())
                        .ok_or_else(truncated)?;
                    (Value::Bytes(&rest[prefix..end]), end)
                }
                WIRE_FIXED64 if rest.len() >= 8 => (Value::Fixed, 8),
                WIRE_FIXED32 if rest.len() >= 4 => (Value::Fixed, 4),
                _ => return Err(ServerError::malformed(NAME, "an unknown wire type")),
            };
            self.0 = &rest[used..];
            Ok((number, value))
        })();
        if field.is_err() {
            self.0 = &[];
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::binary;
    use super::*;

    /// A delimited Reply with the given raw fields.
    fn reply(fields: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, fields.len() as u64);
        out.extend_from_slice(fields);
        out
    }

    fn publication_push(data: &[u8]) -> Vec<u8> {
        let mut publication = Vec::new();
        put_bytes(&mut publication, PUBLICATION_DATA, data);
        put_varint(&mut publication, 6 << 3); // offset
        put_varint(&mut publication, 42);
        let mut push = Vec::new();
        put_bytes(&mut push, 2, b"bench:ch0");
        put_bytes(&mut push, PUSH_PUB, &publication);
        let mut fields = Vec::new();
        put_bytes(&mut fields, REPLY_PUSH, &push);
        reply(&fields)
    }

    #[test]
    fn commands_use_client_proto_field_numbers() {
        let mut client = CentrifugeProtobuf::new();
        let mut out = Vec::new();
        client.start_subscriber("ch", &mut out);
        // len 4: id=1 (08 01), connect=4 empty (22 00)
        assert_eq!(binary(&out[0]), [4, 0x08, 1, 0x22, 0]);
        client
            .receive(&reply(&[0x08, 1, 0x2a, 0]), false, &mut out, &mut |_| {})
            .unwrap();
        // subscribe=5 { channel=1 "ch" }
        assert_eq!(binary(&out[1]), [8, 0x08, 2, 0x2a, 4, 0x0a, 2, b'c', b'h']);
        client
            .receive(&reply(&[0x08, 2, 0x32, 0]), false, &mut out, &mut |_| {})
            .unwrap();
        assert!(client.is_ready());
        client.publish("ch", b"xy", &mut out);
        assert_eq!(
            binary(&out[2]),
            [12, 0x08, 3, 0x3a, 8, 0x0a, 2, b'c', b'h', 0x12, 2, b'x', b'y']
        );
    }

    #[test]
    fn batched_replies_deliver_publications_and_answer_pings() {
        let mut client = CentrifugeProtobuf::new();
        let mut message = publication_push(b"first");
        message.push(0); // an empty Reply: ping
        message.extend_from_slice(&publication_push(b"second"));
        let mut out = Vec::new();
        let mut delivered = Vec::new();
        client
            .receive(&message, false, &mut out, &mut |p| {
                delivered.push(p.to_vec())
            })
            .unwrap();
        assert_eq!(delivered, [b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(out.len(), 1);
        assert_eq!(binary(&out[0]), [0]);
    }

    #[test]
    fn errors_and_truncation_end_the_connection() {
        let mut out = Vec::new();
        let mut client = CentrifugeProtobuf::new();
        client.start_subscriber("ch", &mut out);
        let mut error = Vec::new();
        put_varint(&mut error, 1 << 3);
        put_varint(&mut error, 1);
        put_bytes(&mut error, REPLY_ERROR, &[0x08, 101]);
        let refused = client.receive(&reply(&error), false, &mut out, &mut |_| {});
        assert!(matches!(refused, Err(ServerError::Refused(_))));
        let truncated = client.receive(&[9, 0x08], false, &mut out, &mut |_| {});
        assert!(matches!(truncated, Err(ServerError::Malformed { .. })));
    }
}
