//! MQTT 3.1.1 at QoS 0 over WebSocket (subprotocol `mqtt`): CONNECT /
//! CONNACK, SUBSCRIBE / SUBACK, PUBLISH, PINGRESP. Control packets travel
//! in binary WebSocket messages and may span or share them.

use switchboard_proto::Message;

use super::reassembly::Reassembly;
use super::{Client, ServerError};

const NAME: &str = "MQTT";
/// Keep-alive announced in CONNECT, in seconds: longer than any benchmark
/// run, so the client never needs to send PINGREQ.
const KEEP_ALIVE_SECS: u16 = 900;
const SUBSCRIBE_PACKET_ID: u16 = 1;

/// Where a client's setup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// CONNECT sent.
    Connecting,
    /// CONNACK received; a subscriber has sent SUBSCRIBE.
    Subscribing,
    /// Connected (publisher) or subscribed (subscriber).
    Ready,
}

/// An MQTT client with a fixed client id.
#[derive(Debug)]
pub(super) struct Mqtt {
    client_id: String,
    /// The topic to subscribe to once connected; `None` for a publisher.
    topic: Option<String>,
    setup: Setup,
    stream: Reassembly,
}

impl Mqtt {
    pub(super) fn new(client_id: String) -> Self {
        Mqtt {
            client_id,
            topic: None,
            setup: Setup::Connecting,
            stream: Reassembly::default(),
        }
    }

    fn connect_packet(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(16 + self.client_id.len());
        put_string(&mut body, b"MQTT");
        body.push(4); // protocol level 3.1.1
        body.push(0x02); // clean session
        body.extend_from_slice(&KEEP_ALIVE_SECS.to_be_bytes());
        put_string(&mut body, self.client_id.as_bytes());
        packet(0x10, &[&body])
    }
}

impl Client for Mqtt {
    fn start_subscriber(&mut self, channel: &str, out: &mut Vec<Message>) {
        self.topic = Some(channel.to_owned());
        out.push(Message::binary(self.connect_packet()));
    }

    fn start_publisher(&mut self, out: &mut Vec<Message>) {
        out.push(Message::binary(self.connect_packet()));
    }

    fn is_ready(&self) -> bool {
        self.setup == Setup::Ready
    }

    fn publish(&mut self, channel: &str, payload: &[u8], out: &mut Vec<Message>) {
        let mut topic = Vec::with_capacity(channel.len() + 2);
        put_string(&mut topic, channel.as_bytes());
        out.push(Message::binary(packet(0x30, &[&topic, payload])));
    }

    fn receive(
        &mut self,
        message: &[u8],
        _text: bool,
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        let Mqtt {
            topic,
            setup,
            stream,
            ..
        } = self;
        stream.feed(message, |data| {
            let mut at = 0;
            while let Some(packet) = next_packet(&data[at..])? {
                handle_packet(
                    packet.first,
                    packet.body,
                    topic.as_deref(),
                    setup,
                    out,
                    deliver,
                )?;
                at += packet.len;
            }
            Ok(at)
        })
    }
}

fn handle_packet(
    first: u8,
    body: &[u8],
    topic: Option<&str>,
    setup: &mut Setup,
    out: &mut Vec<Message>,
    deliver: &mut dyn FnMut(&[u8]),
) -> Result<(), ServerError> {
    match first >> 4 {
        3 => {
            let qos = (first >> 1) & 0x3;
            let topic_len = body
                .get(..2)
                .map(|len| usize::from(u16::from_be_bytes([len[0], len[1]])))
                .ok_or_else(|| ServerError::malformed(NAME, "a PUBLISH without a topic"))?;
            let payload_at = 2 + topic_len + if qos > 0 { 2 } else { 0 };
            let payload = body
                .get(payload_at..)
                .ok_or_else(|| ServerError::malformed(NAME, "a PUBLISH shorter than its topic"))?;
            deliver(payload);
        }
        2 => {
            // CONNACK: flags, return code.
            match body.get(1) {
                Some(0) => {}
                Some(code) => {
                    return Err(ServerError::Refused(format!(
                        "MQTT CONNACK return code {code}"
                    )))
                }
                None => return Err(ServerError::malformed(NAME, "a short CONNACK")),
            }
            *setup = match topic {
                Some(topic) => {
                    let mut request = SUBSCRIBE_PACKET_ID.to_be_bytes().to_vec();
                    put_string(&mut request, topic.as_bytes());
                    request.push(0); // QoS 0
                    out.push(Message::binary(packet(0x82, &[&request])));
                    Setup::Subscribing
                }
                None => Setup::Ready,
            };
        }
        9 => {
            // SUBACK: packet id, one return code per topic.
            match body.get(2) {
                Some(0x80) => return Err(ServerError::Refused("MQTT SUBACK failure".into())),
                Some(_) if *setup == Setup::Subscribing => *setup = Setup::Ready,
                _ => return Err(ServerError::malformed(NAME, "an unexpected SUBACK")),
            }
        }
        13 => {} // PINGRESP
        kind => {
            return Err(ServerError::malformed(
                NAME,
                format!("unexpected control packet type {kind}"),
            ))
        }
    }
    Ok(())
}

/// One control packet, parsed out of the stream.
struct Packet<'a> {
    /// Type and flags.
    first: u8,
    /// What follows the remaining length.
    body: &'a [u8],
    /// Bytes the whole packet takes in the stream.
    len: usize,
}

/// The next whole packet in `data`; `None` while incomplete.
fn next_packet(data: &[u8]) -> Result<Option<Packet<'_>>, ServerError> {
    let Some(&first) = data.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    for (index, &byte) in data[1..].iter().enumerate().take(4) {
        remaining |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            let start = index + 2;
            let end = start + remaining;
            return Ok((data.len() >= end).then(|| Packet {
                first,
                body: &data[start..end],
                len: end,
            }));
        }
    }
    if data.len() >= 5 {
        return Err(ServerError::malformed(
            NAME,
            "a remaining length over 4 bytes",
        ));
    }
    Ok(None)
}

/// An MQTT packet: `first` byte, remaining length, then `parts`.
fn packet(first: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|part| part.len()).sum();
    let mut out = Vec::with_capacity(len + 5);
    out.push(first);
    let mut remaining = len;
    loop {
        let byte = (remaining & 0x7f) as u8;
        remaining >>= 7;
        if remaining == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// An MQTT string: two bytes of length, then the bytes.
fn put_string(out: &mut Vec<u8>, value: &[u8]) {
    let len = u16::try_from(value.len()).expect("MQTT strings are under 64 KiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::binary;
    use super::*;

    fn publish_packet(payload: &[u8]) -> Vec<u8> {
        let mut client = Mqtt::new("p".into());
        let mut out = Vec::new();
        client.publish("bench/ch0", payload, &mut out);
        binary(&out[0]).to_vec()
    }

    #[test]
    fn setup_is_connect_connack_subscribe_suback() {
        let mut client = Mqtt::new("sub-1".into());
        let mut out = Vec::new();
        client.start_subscriber("bench/ch0", &mut out);
        assert_eq!(binary(&out[0])[0], 0x10);
        assert!(binary(&out[0]).ends_with(b"\x00\x05sub-1"));
        out.clear();
        client
            .receive(&[0x20, 2, 0, 0], false, &mut out, &mut |_| {})
            .unwrap();
        assert!(!client.is_ready());
        assert_eq!(binary(&out[0]), b"\x82\x0e\x00\x01\x00\x09bench/ch0\x00");
        client
            .receive(&[0x90, 3, 0, 1, 0], false, &mut out, &mut |_| {})
            .unwrap();
        assert!(client.is_ready());
    }

    #[test]
    fn publishes_split_across_messages_are_reassembled() {
        let payload = vec![b'x'; 300]; // a two-byte remaining length
        let mut stream = publish_packet(&payload);
        stream.extend_from_slice(&[0xd0, 0]); // PINGRESP
        stream.extend_from_slice(&publish_packet(b"tail"));
        for split in 0..=stream.len() {
            let mut client = Mqtt::new("s".into());
            let mut delivered = Vec::new();
            let mut out = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                client
                    .receive(chunk, false, &mut out, &mut |p| delivered.push(p.to_vec()))
                    .unwrap();
            }
            assert_eq!(
                delivered,
                [payload.clone(), b"tail".to_vec()],
                "split at {split}"
            );
        }
    }

    #[test]
    fn refusals_and_unknown_packets_end_the_connection() {
        let mut out = Vec::new();
        let refused = Mqtt::new("s".into()).receive(&[0x20, 2, 0, 5], false, &mut out, &mut |_| {});
        assert!(matches!(refused, Err(ServerError::Refused(_))));
        let mut client = Mqtt::new("s".into());
        client.start_subscriber("t", &mut out);
        client
            .receive(&[0x20, 2, 0, 0], false, &mut out, &mut |_| {})
            .unwrap();
        let failed = client.receive(&[0x90, 3, 0, 1, 0x80], false, &mut out, &mut |_| {});
        assert!(matches!(failed, Err(ServerError::Refused(_))));
        let unknown = Mqtt::new("s".into()).receive(&[0xf0, 0], false, &mut out, &mut |_| {});
        assert!(matches!(unknown, Err(ServerError::Malformed { .. })));
    }
}
