//! Messages and the events a [`Connection`](crate::Connection) produces.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use crate::CloseFrame;

/// Reference-counted bytes that are guaranteed to be valid UTF-8.
///
/// Received text messages are handed out as `Utf8Bytes` without copying: the
/// bytes are a slice of the read buffer that was validated in place.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    pub const fn new() -> Self {
        Utf8Bytes(Bytes::new())
    }

    /// A string that lives for the whole program, without copying.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// Checks `bytes` and wraps them; gives the bytes back if they are not UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        if simdutf8::basic::from_utf8(&bytes).is_ok() {
            Ok(Utf8Bytes(bytes))
        } else {
            Err(bytes)
        }
    }

    /// Wraps bytes that the caller has already validated.
    ///
    /// Not `unsafe`: nothing in this crate reads the bytes as `str` without
    /// checking, but a caller that breaks the promise gets wrong text from
    /// [`Utf8Bytes::as_str`]'s lossless fallback. Crate-internal use only.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // The invariant holds for every constructor; the checked conversion
        // costs one SIMD pass and keeps this crate free of `unsafe` here.
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Gives up the UTF-8 guarantee and returns the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&'static [u8; 0]> for Utf8Bytes {
    fn from(_: &'static [u8; 0]) -> Self {
        Utf8Bytes::new()
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// A WebSocket message, as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A complete text message (UTF-8 checked).
    Text(Utf8Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping with its application data (at most 125 bytes).
    Ping(Bytes),
    /// A pong with its application data (at most 125 bytes).
    Pong(Bytes),
    /// A close frame; `None` when it carried no status code.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// Whether this is a text or binary message (as opposed to a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }

    /// Length of the payload in bytes (for a close frame: code and reason).
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
            Message::Close(None) => 0,
            Message::Close(Some(frame)) => 2 + frame.reason.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

/// One piece of a data message, delivered in streaming mode
/// ([`Delivery::Chunks`](crate::Delivery::Chunks)).
///
/// A chunk is not an RFC 6455 fragment: its boundaries follow the reads the
/// bytes arrived in, not the peer's frames (see the `Delivery::Chunks` docs).
///
/// Pieces arrive in order; the first has `first == true` and the last has
/// `fin == true` (a one-piece message has both). For text, each piece has
/// been validated so far, but a piece may end in the middle of a UTF-8
/// sequence that the next piece completes, so pieces are plain bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Text or binary: the type of the whole message.
    pub kind: DataKind,
    /// The (unmasked, decoded) payload of this piece.
    pub payload: Bytes,
    /// Whether this piece starts the message.
    pub first: bool,
    /// Whether this piece ends the message.
    pub fin: bool,
}

/// What [`Connection::poll_event`](crate::Connection::poll_event) reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete message or a control frame. In
    /// [`Delivery::Chunks`](crate::Delivery::Chunks) mode, data
    /// messages arrive as [`Event::Chunk`] instead and this carries only
    /// `Ping`, `Pong` and `Close`.
    Message(Message),
    /// A piece of a data message, in streaming mode only.
    Chunk(Chunk),
}
