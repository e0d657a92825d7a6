//! Typed errors. Every error that ends a connection carries the close code to
//! send (RFC 6455 §7.4.1), so the driver never has to guess.

use crate::{CloseCode, EncodeError};

/// Why the connection failed. Returned by
/// [`Connection::poll_event`](crate::Connection::poll_event) and
/// [`Connection::handle_timeout`](crate::Connection::handle_timeout).
///
/// When a `Connection` returns one of these it has already queued a close
/// frame with [`Error::close_code`] (where the protocol allows one) and moved
/// to the closed state: the driver flushes the transmit buffer and closes the
/// transport. The driver (`switchboard::Error::Connection`) hands it to the
/// application as it is: the classification, the close code and the message
/// live here only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 6455 or a negotiated extension's rules (bad
    /// framing, masking, opcode, UTF-8 ...). Likely a buggy or hostile peer,
    /// or a proxy that mangles frames; nothing local fixes it.
    #[error("the peer broke the WebSocket protocol (close code {code}): {0}; nothing local fixes this, log it and reconnect", code = .0.close_code())]
    Protocol(#[from] ProtocolError),
    /// The peer sent more than [`Limits`](crate::Limits) allow (close code
    /// 1009).
    #[error("size limit exceeded (close code 1009): {0}")]
    Limit(#[from] LimitError),
    /// No pong (or any other frame) arrived within the keepalive timeout
    /// after a ping. The peer or the network path is gone; reconnect.
    #[error("keepalive timed out: no answer to a ping within {0:?}; the peer or a proxy on the path is gone, reconnect")]
    KeepaliveTimeout(std::time::Duration),
    /// Nothing arrived for the configured idle timeout.
    #[error("idle timeout: nothing received for {0:?}; raise Config::idle_timeout if long silences are expected")]
    IdleTimeout(std::time::Duration),
    /// The peer did not answer our close frame (or, for a client, did not
    /// close TCP) within the close timeout.
    #[error("close handshake timed out after {0:?}; the peer did not answer the close frame, the transport can be dropped")]
    CloseTimeout(std::time::Duration),
    /// The transport ended before the close handshake completed (1006).
    #[error("connection closed abnormally (1006): the transport ended without a close frame; the peer crashed or the network dropped the connection")]
    AbnormalClosure,
}

impl Error {
    /// The close code that describes this failure.
    ///
    /// For timeouts and abnormal closure this is the code reported locally
    /// (1011 for keepalive, 1006 otherwise); those never put 1006 on the wire.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Error::Protocol(e) => e.close_code(),
            Error::Limit(_) => CloseCode::MESSAGE_TOO_BIG,
            Error::KeepaliveTimeout(_) => CloseCode::INTERNAL_ERROR,
            Error::IdleTimeout(_) => CloseCode::GOING_AWAY,
            Error::CloseTimeout(_) | Error::AbnormalClosure => CloseCode::ABNORMAL,
        }
    }
}

/// The peer violated the protocol. Nothing local can fix this; the close code
/// tells the peer what it did wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1–3 set without an extension that defines them (RFC 6455 §5.2).
    #[error("reserved bits {0:#05b} set without a negotiated extension that defines them (peer bug or an extension negotiation mismatch)")]
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves (0x3–0x7, 0xB–0xF).
    #[error(
        "reserved opcode {0:#x}; the peer speaks an unknown extension or is not a WebSocket peer"
    )]
    ReservedOpcode(u8),
    /// A control frame (close, ping, pong) that declares an extended payload
    /// length, i.e. more than 125 bytes (RFC 6455 §5.5).
    ///
    /// The field is the 7-bit length code from the frame's second byte: 126
    /// (a 16-bit length follows) or 127 (a 64-bit length follows). The frame
    /// is rejected on that code alone, before the extended length arrives,
    /// so the actual declared length is not known. The peer is broken or
    /// is not speaking WebSocket; nothing local fixes it.
    #[error("control frame declares an extended payload length (7-bit length code {0}), so more than 125 bytes; control frames carry at most 125 bytes, the peer is broken")]
    ControlFrameTooLong(u8),
    /// A control frame with FIN clear (RFC 6455 §5.5).
    #[error("fragmented control frame; control frames must not be fragmented")]
    FragmentedControlFrame,
    /// A continuation frame with no message to continue (RFC 6455 §5.4).
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open (RFC 6455 §5.4).
    #[error("new data frame while a fragmented message is still in progress")]
    ExpectedContinuation,
    /// A client sent an unmasked frame (RFC 6455 §5.1).
    #[error("unmasked frame from client; clients must mask every frame")]
    UnmaskedFrame,
    /// A server sent a masked frame (RFC 6455 §5.1).
    #[error("masked frame from server; servers must not mask frames")]
    MaskedFrame,
    /// A 64-bit payload length with the most significant bit set (RFC 6455 §5.2).
    #[error("64-bit payload length has its most significant bit set")]
    InvalidPayloadLength,
    /// Text (or a close reason) that is not UTF-8 (RFC 6455 §8.1).
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// A close reason that is not UTF-8 (RFC 6455 §5.5.1).
    #[error("invalid UTF-8 in a close reason")]
    InvalidCloseReason,
    /// A close frame with a 1-byte payload (RFC 6455 §5.5.1).
    #[error(
        "close frame with a 1-byte payload; a close payload is empty or starts with a 2-byte code"
    )]
    InvalidClosePayload,
    /// A close code that must not appear on the wire (RFC 6455 §7.4).
    #[error("close code {0} is not allowed on the wire")]
    InvalidCloseCode(u16),
    /// A negotiated extension could not decode a frame (e.g. corrupt deflate data).
    #[error("extension {extension} failed to decode a message: {reason}")]
    Extension {
        /// The extension's registered name.
        extension: &'static str,
        /// What went wrong.
        reason: String,
        /// The close code the extension asks for.
        code: CloseCode,
    },
}

impl ProtocolError {
    /// The close code for this violation: 1007 for bad UTF-8, 1002 otherwise
    /// (extensions choose their own).
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::Extension { code, .. } => *code,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// A configured [`Limits`](crate::Limits) bound was exceeded (close code 1009).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A single frame is larger than `Limits::max_frame_size`.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes; raise Limits::max_frame_size if the peer is trusted")]
    FrameTooLarge {
        /// Declared frame payload length.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message (after reassembly and decompression) is larger than
    /// `Limits::max_message_size`.
    #[error("message of at least {size} bytes exceeds the limit of {max} bytes; raise Limits::max_message_size or use streaming delivery")]
    MessageTooLarge {
        /// Bytes seen so far when the limit was crossed.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// Holding more of this message would cross the shared
    /// `Limits::memory_budget`: other connections hold the rest of it.
    #[error("the node's memory budget of {budget} bytes cannot hold {needed} more bytes for this message; retry later, or raise the budget (serve --memory-budget)")]
    MemoryBudget {
        /// Bytes the connection asked for.
        needed: usize,
        /// The budget's size.
        budget: usize,
    },
}

/// A local misuse of the sending API. The connection is unaffected unless
/// stated otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The close handshake has started or the connection failed; no more data
    /// can be sent. Stop sending and read until the stream ends.
    #[error("the connection is closing or closed; no more messages can be sent")]
    Closed,
    /// A ping, pong or close payload over 125 bytes (RFC 6455 §5.5).
    #[error("control frame payload of {0} bytes exceeds 125 bytes; shorten the ping/pong data or close reason")]
    ControlFrameTooLong(usize),
    /// A close code that may not be sent (1005, 1006, 1015, unassigned ranges).
    #[error("close code {0} may not be sent; use 1000, 1001, 1008, 1011 or a 3000-4999 code")]
    InvalidCloseCode(u16),
    /// A streamed message was started while another was in progress, or
    /// continued when none was (RFC 6455 §5.4).
    #[error("fragment out of order: {0}")]
    FragmentOrder(#[from] FragmentOrder),
    /// The negotiated extension failed to encode the message.
    #[error(transparent)]
    Extension(#[from] EncodeError),
}

/// How a streamed message's piece broke the order of fragments (RFC 6455
/// §5.4: the fragments of one message are not interleaved with another
/// message). Nothing was sent; the connection is unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragmentOrder {
    /// A whole message was sent while a streamed message is in progress.
    #[error("a streamed message is in progress; finish it with send_fragment(.., fin = true) before sending a whole message")]
    WholeMessageDuringStream,
    /// A streamed message was started (`first = true`) before the previous
    /// one ended.
    #[error("a new streamed message was started before the previous one ended; send the previous one's last piece with fin = true first")]
    StartDuringStream,
    /// A continuation piece (`first = false`) was sent with no streamed
    /// message in progress.
    #[error("a continuation piece was sent with no streamed message in progress; start one with first = true")]
    ContinuationWithoutStart,
    /// A continuation piece has another kind (text/binary) than the message
    /// it continues.
    #[error("a continuation piece has a different kind than the message it continues; send every piece with the first piece's kind")]
    KindChanged,
}
