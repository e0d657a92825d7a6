//! The NATS client protocol over nats-server's WebSocket listener: a text
//! protocol of `\r\n`-terminated lines (`INFO`, `CONNECT`, `SUB`, `PUB`,
//! `MSG`, `PING`/`PONG`, `+OK`/`-ERR`), carried in binary WebSocket
//! messages that may split or join lines and payloads freely.

use switchboard_proto::Message;

use super::reassembly::Reassembly;
use super::{Client, ServerError};

const NAME: &str = "NATS";
/// No `+OK` per command, no header support needed, no echo of our own
/// publications.
const CONNECT: &str = concat!(
    r#"CONNECT {"verbose":false,"pedantic":false,"protocol":1,"#,
    r#""echo":false,"headers":false,"lang":"rust","version":"switchboard-bench"}"#,
    "\r\n"
);

/// A NATS client; ready after the first `PONG` (NATS answers `PING` after
/// every command sent before it, so the subscription is in place).
#[derive(Debug, Default)]
pub(super) struct Nats {
    stream: Reassembly,
    ready: bool,
}

impl Nats {
    pub(super) fn new() -> Self {
        Nats::default()
    }
}

impl Client for Nats {
    fn start_subscriber(&mut self, channel: &str, out: &mut Vec<Message>) {
        out.push(Message::binary(format!(
            "{CONNECT}SUB {channel} 1\r\nPING\r\n"
        )));
    }

    fn start_publisher(&mut self, out: &mut Vec<Message>) {
        out.push(Message::binary(format!("{CONNECT}PING\r\n")));
    }

    fn is_ready(&self) -> bool {
        self.ready
    }

    fn publish(&mut self, channel: &str, payload: &[u8], out: &mut Vec<Message>) {
        let mut frame = Vec::with_capacity(channel.len() + payload.len() + 24);
        frame.extend_from_slice(format!("PUB {channel} {}\r\n", payload.len()).as_bytes());
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        out.push(Message::binary(frame));
    }

    fn receive(
        &mut self,
        message: &[u8],
        _text: bool,
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        let ready = &mut self.ready;
        self.stream
            .feed(message, |data| parse(data, ready, out, deliver))
    }
}

/// Parses every complete operation in `data`; returns the bytes consumed.
fn parse(
    data: &[u8],
    ready: &mut bool,
    out: &mut Vec<Message>,
    deliver: &mut dyn FnMut(&[u8]),
) -> Result<usize, ServerError> {
    let mut at = 0;
    while let Some(line_len) = find_crlf(&data[at..]) {
        let line = &data[at..at + line_len];
        let after_line = at + line_len + 2;
        if let Some(args) = line.strip_prefix(b"MSG ") {
            let size = args
                .rsplit(|&b| b == b' ')
                .next()
                .and_then(|size| std::str::from_utf8(size).ok()?.parse::<usize>().ok())
                .ok_or_else(|| ServerError::malformed(NAME, "a MSG line without a byte count"))?;
            let end = after_line + size;
            if data.len() < end + 2 {
                break; // the payload has not arrived whole yet
            }
            if &data[end..end + 2] != b"\r\n" {
                return Err(ServerError::malformed(
                    NAME,
                    "a MSG payload not followed by CRLF",
                ));
            }
            deliver(&data[after_line..end]);
            at = end + 2;
            continue;
        }
        if line == b"PING" {
            out.push(Message::binary(&b"PONG\r\n"[..]));
        } else if line == b"PONG" {
            *ready = true;
        } else if let Some(error) = line.strip_prefix(b"-ERR") {
            return Err(ServerError::Refused(format!(
                "NATS -ERR{}",
                String::from_utf8_lossy(error)
            )));
        } else if !(line.starts_with(b"INFO") || line == b"+OK") {
            return Err(ServerError::malformed(
                NAME,
                format!("unexpected line {:?}", String::from_utf8_lossy(line)),
            ));
        }
        at = after_line;
    }
    Ok(at)
}

fn find_crlf(data: &[u8]) -> Option<usize> {
    data.windows(2).position(|pair| pair == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(client: &mut Nats, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<Message>) {
        let mut delivered = Vec::new();
        let mut out = Vec::new();
        for chunk in chunks {
            client
                .receive(chunk, false, &mut out, &mut |payload| {
                    delivered.push(payload.to_vec())
                })
                .unwrap();
        }
        (delivered, out)
    }

    #[test]
    fn operations_split_across_messages_are_reassembled() {
        let stream: &[u8] =
            b"INFO {\"server_id\":\"x\"}\r\nPONG\r\nMSG a.b 1 5\r\nhello\r\nPING\r\nMSG a.b 1 3\r\nx\r\n\r\n";
        // Every split point, including inside CRLFs and payloads.
        for split in 0..=stream.len() {
            let mut client = Nats::new();
            let (delivered, out) = feed(&mut client, &[&stream[..split], &stream[split..]]);
            assert_eq!(
                delivered,
                [b"hello".to_vec(), b"x\r\n".to_vec()],
                "split at {split}"
            );
            assert_eq!(out.len(), 1, "one PONG for the PING, split at {split}");
            assert!(client.is_ready());
        }
    }

    #[test]
    fn byte_by_byte_delivery_works() {
        let stream: &[u8] = b"MSG s 1 reply.to 4\r\nabcd\r\nMSG s 1 2\r\nef\r\n";
        let mut client = Nats::new();
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        let (delivered, _) = feed(&mut client, &chunks);
        assert_eq!(delivered, [b"abcd".to_vec(), b"ef".to_vec()]);
        assert!(!client.is_ready());
    }

    #[test]
    fn errors_and_garbage_end_the_connection() {
        let mut out = Vec::new();
        let mut client = Nats::new();
        let refused = client.receive(
            b"-ERR 'Authorization Violation'\r\n",
            false,
            &mut out,
            &mut |_| {},
        );
        assert!(matches!(refused, Err(ServerError::Refused(_))));
        let mut client = Nats::new();
        let garbage = client.receive(b"HELLO\r\n", false, &mut out, &mut |_| {});
        assert!(matches!(garbage, Err(ServerError::Malformed { .. })));
        let mut client = Nats::new();
        let bad_payload = client.receive(b"MSG s 1 2\r\nabXY", false, &mut out, &mut |_| {});
        assert!(matches!(bad_payload, Err(ServerError::Malformed { .. })));
    }

    #[test]
    fn commands_are_nats_lines() {
        let mut client = Nats::new();
        let mut out = Vec::new();
        client.start_subscriber("bench.ch0", &mut out);
        client.publish("bench.ch0", b"hi", &mut out);
        let Message::Binary(start) = &out[0] else {
            panic!("binary")
        };
        assert!(start.ends_with(b"SUB bench.ch0 1\r\nPING\r\n"));
        let Message::Binary(publish) = &out[1] else {
            panic!("binary")
        };
        assert_eq!(&publish[..], b"PUB bench.ch0 2\r\nhi\r\n");
    }
}
