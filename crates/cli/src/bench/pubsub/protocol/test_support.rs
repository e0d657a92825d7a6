//! What the drivers' unit tests share.

use switchboard_proto::Message;

/// The bytes of a binary message; panics on any other kind.
pub(super) fn binary(message: &Message) -> &[u8] {
    match message {
        Message::Binary(bytes) => bytes,
        other => panic!("expected a binary message, got {other:?}"),
    }
}
