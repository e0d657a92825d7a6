//! Replies and pushes out, batched the way each format frames them.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;

use super::error::WireError;
use super::format::Format;
use super::messages::{Push, Reply};

impl Format {
    /// Appends one reply to `batch`, the buffer of one outgoing WebSocket
    /// message: JSON puts a newline between replies, Protobuf prefixes each
    /// with its varint length. On error `batch` is left as it was.
    pub fn encode_reply(self, reply: &Reply, batch: &mut BytesMut) -> Result<(), WireError> {
        match self {
            Self::Json => {
                let start = batch.len();
                if start > 0 {
                    batch.put_u8(b'\n');
                }
                // Writing into memory cannot fail, and every other field is a
                // number, string or map with string keys: a bytes field that
                // is not JSON is the only error left.
                serde_json::to_writer(batch.writer(), reply).map_err(|source| {
                    batch.truncate(start);
                    WireError::NotJsonData { source }
                })
            }
            Self::Protobuf => {
                let len = reply.encoded_len();
                batch.reserve(len + prost::length_delimiter_len(len));
                reply
                    .encode_length_delimited(batch)
                    .expect("a BytesMut grows to fit, so prost cannot run out of room");
                Ok(())
            }
        }
    }

    /// Encodes one reply as a standalone WebSocket message.
    pub fn encode_message(self, reply: &Reply) -> Result<Bytes, WireError> {
        let mut message = BytesMut::new();
        self.encode_reply(reply, &mut message)?;
        Ok(message.freeze())
    }

    /// Encodes a push (a reply with `id` 0) once, as a standalone WebSocket
    /// message whose bytes can go to every subscriber using this format.
    pub fn encode_push(self, push: Push) -> Result<Bytes, WireError> {
        self.encode_message(&Reply {
            push: Some(push),
            ..Reply::default()
        })
    }

    /// Appends an already encoded message (from [`Format::encode_message`]
    /// or [`Format::encode_push`]) to `batch`, so a shared push can join the
    /// replies of one outgoing message.
    pub fn append_encoded(self, encoded: &[u8], batch: &mut BytesMut) {
        if self == Self::Json && !batch.is_empty() {
            batch.put_u8(b'\n');
        }
        batch.extend_from_slice(encoded);
    }
}
