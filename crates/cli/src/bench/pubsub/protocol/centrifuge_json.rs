//! Centrifugo's client protocol v2, JSON form: newline-delimited JSON
//! objects in text messages. Connect (`id` 1), subscribe (`id` 2), then
//! publications arrive as `{"push":{"channel":..,"pub":{"data":..}}}`; an
//! empty object `{}` is a server ping, answered with `{}`.
//!
//! Pushes take a hand-written fast path (find `"pub"`, then `"data"`, and
//! slice out the string value: the benchmark's payloads are JSON strings
//! without escapes); replies, rare by comparison, go through serde_json.

use switchboard_proto::Message;

use super::centrifuge_setup::{CentrifugeSetup, NextStep, CONNECT_ID, SUBSCRIBE_ID};
use super::{Client, ServerError};

const NAME: &str = "Centrifugo JSON";

/// A Centrifugo JSON client.
#[derive(Debug)]
pub(super) struct CentrifugeJson {
    setup: CentrifugeSetup,
}

impl CentrifugeJson {
    pub(super) fn new() -> Self {
        CentrifugeJson {
            setup: CentrifugeSetup::new(),
        }
    }

    fn handle_line(
        &mut self,
        line: &[u8],
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        if line == b"{}" {
            out.push(Message::text("{}"));
            return Ok(());
        }
        if line.starts_with(b"{\"push\":") {
            return push(line, deliver);
        }
        let reply: serde_json::Value = serde_json::from_slice(line).map_err(|error| {
            ServerError::malformed(NAME, format!("a reply is not JSON: {error}"))
        })?;
        let id = reply
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let error = reply
            .get("error")
            .map(|error| move || format!("Centrifugo error {error}"));
        if let NextStep::Subscribe(channel) = self.setup.on_reply(id, error)? {
            out.push(Message::text(
                serde_json::json!({"id": SUBSCRIBE_ID, "subscribe": {"channel": channel}})
                    .to_string(),
            ));
        }
        Ok(())
    }
}

/// A push line: delivers a publication's data; fails on a disconnect or
/// an unsubscribe; ignores the rest (join, leave, message).
fn push(line: &[u8], deliver: &mut dyn FnMut(&[u8])) -> Result<(), ServerError> {
    if let Some(at) = find(line, b"\"pub\":") {
        let publication = &line[at..];
        let data_at = find(publication, b"\"data\":")
            .ok_or_else(|| ServerError::malformed(NAME, "a publication without data"))?;
        let value = trim_start(&publication[data_at..]);
        // The string value, quotes included; anything else is handed over
        // as one byte so that the checker counts it as corrupt.
        let len = match value.first() {
            Some(b'"') => value[1..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(value.len(), |end| end + 2),
            _ => value.len().min(1),
        };
        deliver(&value[..len]);
        return Ok(());
    }
    if find(line, b"\"disconnect\":").is_some() || find(line, b"\"unsubscribe\":").is_some() {
        return Err(ServerError::Ended(
            String::from_utf8_lossy(line).into_owned(),
        ));
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + needle.len())
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

impl Client for CentrifugeJson {
    fn start_subscriber(&mut self, channel: &str, out: &mut Vec<Message>) {
        self.setup.subscribe_after_connect(channel);
        self.start_publisher(out);
    }

    fn start_publisher(&mut self, out: &mut Vec<Message>) {
        out.push(Message::text(format!(
            r#"{{"id":{CONNECT_ID},"connect":{{}}}}"#
        )));
    }

    fn is_ready(&self) -> bool {
        self.setup.is_ready()
    }

    fn publish(&mut self, channel: &str, payload: &[u8], out: &mut Vec<Message>) {
        let id = self.setup.next_publish_id();
        let mut command = Vec::with_capacity(payload.len() + channel.len() + 48);
        command.extend_from_slice(format!(r#"{{"id":{id},"publish":{{"channel":"#).as_bytes());
        command.extend_from_slice(serde_json::Value::from(channel).to_string().as_bytes());
        command.extend_from_slice(b",\"data\":");
        command.extend_from_slice(payload);
        command.extend_from_slice(b"}}");
        let text = String::from_utf8(command).expect("publications are ASCII JSON strings");
        out.push(Message::text(text));
    }

    fn receive(
        &mut self,
        message: &[u8],
        _text: bool,
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        for line in message.split(|&b| b == b'\n') {
            let line = trim_start(line);
            if !line.is_empty() {
                self.handle_line(line.trim_ascii_end(), out, deliver)?;
            }
        }
        Ok(())
    }

    fn publish_errors(&self) -> u64 {
        self.setup.publish_errors()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(message: &Message) -> &str {
        match message {
            Message::Text(text) => text.as_str(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn subscriber_connects_subscribes_and_receives_batched_pushes() {
        let mut client = CentrifugeJson::new();
        let mut out = Vec::new();
        client.start_subscriber("bench:ch0", &mut out);
        assert_eq!(text(&out[0]), r#"{"id":1,"connect":{}}"#);
        client
            .receive(
                br#"{"id":1,"connect":{"client":"c","version":"1","ping":25,"pong":true}}"#,
                true,
                &mut out,
                &mut |_| {},
            )
            .unwrap();
        let subscribe: serde_json::Value = serde_json::from_str(text(&out[1])).unwrap();
        assert_eq!(subscribe["subscribe"]["channel"], "bench:ch0");
        assert_eq!(subscribe["id"], 2);
        assert!(!client.is_ready());
        client
            .receive(
                br#"{"id":2,"subscribe":{"recoverable":true}}"#,
                true,
                &mut out,
                &mut |_| {},
            )
            .unwrap();
        assert!(client.is_ready());

        let mut delivered = Vec::new();
        let batch = b"{\"push\":{\"channel\":\"bench:ch0\",\"pub\":{\"data\":\"one\",\"offset\":1}}}\n{}\n{\"push\":{\"channel\":\"bench:ch0\",\"pub\":{\"offset\":2,\"data\": \"two\"}}}\n{\"push\":{\"channel\":\"bench:ch0\",\"join\":{\"info\":{\"client\":\"x\"}}}}";
        client
            .receive(batch, true, &mut out, &mut |p| delivered.push(p.to_vec()))
            .unwrap();
        assert_eq!(delivered, [b"\"one\"".to_vec(), b"\"two\"".to_vec()]);
        assert_eq!(text(out.last().unwrap()), "{}", "the ping is answered");
    }

    #[test]
    fn refusals_and_disconnects_end_the_connection_and_publish_errors_count() {
        let mut out = Vec::new();
        let mut client = CentrifugeJson::new();
        client.start_subscriber("x", &mut out);
        let refused = client.receive(
            br#"{"id":1,"error":{"code":101,"message":"unauthorized"}}"#,
            true,
            &mut out,
            &mut |_| {},
        );
        assert!(matches!(refused, Err(ServerError::Refused(_))));
        let ended = client.receive(
            br#"{"push":{"disconnect":{"code":3008,"reason":"slow"}}}"#,
            true,
            &mut out,
            &mut |_| {},
        );
        assert!(matches!(ended, Err(ServerError::Ended(_))));

        let mut publisher = CentrifugeJson::new();
        publisher.start_publisher(&mut out);
        publisher
            .receive(br#"{"id":1,"connect":{}}"#, true, &mut out, &mut |_| {})
            .unwrap();
        assert!(publisher.is_ready());
        publisher.publish("bench:ch0", b"\"abc\"", &mut out);
        let command: serde_json::Value = serde_json::from_str(text(out.last().unwrap())).unwrap();
        assert_eq!(command["publish"]["data"], "abc");
        assert_eq!(command["id"], 3);
        publisher
            .receive(
                br#"{"id":3,"error":{"code":103,"message":"permission denied"}}"#,
                true,
                &mut out,
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(publisher.publish_errors(), 1);
    }
}
