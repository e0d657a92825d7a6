//! The protocol of `bench/uws-fanout/fanout.cpp`: text `sub <topic>`
//! (answered by text `subscribed <topic>`), binary `pub <topic> <payload>`,
//! and every binary message received is one publication's payload.

use switchboard_proto::Message;

use super::{Client, ServerError};

/// A client of the uWebSockets fan-out server.
#[derive(Debug, Default)]
pub(super) struct Uws {
    ready: bool,
}

impl Uws {
    pub(super) fn new() -> Self {
        Uws::default()
    }
}

impl Client for Uws {
    fn start_subscriber(&mut self, channel: &str, out: &mut Vec<Message>) {
        out.push(Message::text(format!("sub {channel}")));
    }

    fn start_publisher(&mut self, _out: &mut Vec<Message>) {
        // Publishing needs no setup.
        self.ready = true;
    }

    fn is_ready(&self) -> bool {
        self.ready
    }

    fn publish(&mut self, channel: &str, payload: &[u8], out: &mut Vec<Message>) {
        let mut message = Vec::with_capacity(channel.len() + payload.len() + 5);
        message.extend_from_slice(b"pub ");
        message.extend_from_slice(channel.as_bytes());
        message.push(b' ');
        message.extend_from_slice(payload);
        out.push(Message::binary(message));
    }

    fn receive(
        &mut self,
        message: &[u8],
        text: bool,
        _out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError> {
        if !text {
            deliver(message);
        } else if message.starts_with(b"subscribed ") {
            self.ready = true;
        } else {
            return Err(ServerError::Malformed {
                protocol: "uws-fanout",
                detail: format!("unexpected text {:?}", String::from_utf8_lossy(message)),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_is_acknowledged_and_binary_is_delivered() {
        let mut client = Uws::new();
        let mut out = Vec::new();
        client.start_subscriber("bench/ch0", &mut out);
        assert!(matches!(&out[0], Message::Text(text) if text.as_str() == "sub bench/ch0"));
        client
            .receive(b"subscribed bench/ch0", true, &mut out, &mut |_| {})
            .unwrap();
        assert!(client.is_ready());
        let mut delivered = Vec::new();
        client
            .receive(b"payload", false, &mut out, &mut |p| {
                delivered.push(p.to_vec())
            })
            .unwrap();
        assert_eq!(delivered, [b"payload".to_vec()]);
        client.publish("t", b"x y", &mut out);
        assert!(matches!(out.last(), Some(Message::Binary(bytes)) if &bytes[..] == b"pub t x y"));
    }
}
