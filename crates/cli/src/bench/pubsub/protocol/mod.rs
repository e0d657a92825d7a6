//! Sans-I/O clients of the fan-out protocols, one per [`Protocol`]: each
//! turns WebSocket messages received into deliveries and replies, and
//! builds the messages that connect, subscribe and publish. The connection
//! loop in `conn.rs` moves the bytes.

mod centrifuge_json;
mod centrifuge_protobuf;
mod centrifuge_setup;
mod mqtt;
mod nats;
mod reassembly;
#[cfg(test)]
mod test_support;
mod uws;

use switchboard_proto::Message;
use thiserror::Error;

use crate::bench::pubsub::options::Protocol;

/// A server's answer that ends a benchmark connection.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The server sent something the protocol does not allow.
    #[error("the server broke the {protocol} protocol: {detail}")]
    Malformed {
        /// Which protocol.
        protocol: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The server refused to connect, subscribe or publish.
    #[error(
        "the server refused: {0} (check its configuration: permissions, limits, channel names)"
    )]
    Refused(String),
    /// The server disconnected or unsubscribed the client.
    #[error(
        "the server ended the subscription: {0} (a slow-consumer limit? raise it, or lower --rate)"
    )]
    Ended(String),
}

impl ServerError {
    fn malformed(protocol: &'static str, detail: impl Into<String>) -> Self {
        ServerError::Malformed {
            protocol,
            detail: detail.into(),
        }
    }
}

/// One side of a fan-out protocol on one connection.
pub(crate) trait Client {
    /// Queues the messages that connect and subscribe to `channel`.
    fn start_subscriber(&mut self, channel: &str, out: &mut Vec<Message>);

    /// Queues the messages that connect a publisher.
    fn start_publisher(&mut self, out: &mut Vec<Message>);

    /// Whether the server has confirmed the subscription (subscriber) or
    /// the connection (publisher).
    fn is_ready(&self) -> bool;

    /// Queues one publication of `payload` on `channel`.
    fn publish(&mut self, channel: &str, payload: &[u8], out: &mut Vec<Message>);

    /// Handles one received data message (`text` or binary): hands every
    /// publication's payload to `deliver` and queues the replies the
    /// protocol asks for (pongs, the next setup step).
    fn receive(
        &mut self,
        message: &[u8],
        text: bool,
        out: &mut Vec<Message>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ServerError>;

    /// Publications the server refused (publishers; 0 where the protocol
    /// does not acknowledge publications).
    fn publish_errors(&self) -> u64 {
        0
    }
}

impl Protocol {
    /// The WebSocket subprotocol to ask for, if any.
    pub(crate) fn subprotocol(self) -> Option<&'static str> {
        match self {
            Protocol::CentrifugeProtobuf => Some("centrifuge-protobuf"),
            Protocol::Mqtt => Some("mqtt"),
            Protocol::Centrifuge | Protocol::Nats | Protocol::Uws => None,
        }
    }

    /// A fresh client of this protocol for connection number `index` (MQTT
    /// needs a distinct client id per connection).
    pub(crate) fn client(self, index: usize) -> Box<dyn Client> {
        match self {
            Protocol::Centrifuge => Box::new(centrifuge_json::CentrifugeJson::new()),
            Protocol::CentrifugeProtobuf => {
                Box::new(centrifuge_protobuf::CentrifugeProtobuf::new())
            }
            Protocol::Nats => Box::new(nats::Nats::new()),
            Protocol::Mqtt => Box::new(mqtt::Mqtt::new(format!(
                "sb-{}-{index}",
                std::process::id()
            ))),
            Protocol::Uws => Box::new(uws::Uws::new()),
        }
    }
}
