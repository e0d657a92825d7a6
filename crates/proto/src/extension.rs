//! The extension hook (RFC 6455 §9): negotiated extensions own RSV bits and
//! transform data message payloads. permessage-deflate
//! ([`crate::deflate`]) is built on it; nothing in the frame codec knows
//! about compression.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::{DataKind, Error};

/// One parameter of an extension offer or response, e.g.
/// `client_max_window_bits=10` (RFC 6455 §9.1 `extension-param`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam {
    /// Parameter name (a token).
    pub name: String,
    /// Value, if present, with quotes removed.
    pub value: Option<String>,
}

impl ExtensionParam {
    /// A parameter with an optional value.
    pub fn new(name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        ExtensionParam {
            name: name.into(),
            value: value.map(Into::into),
        }
    }
}

/// One entry of a `Sec-WebSocket-Extensions` header: a name and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// Extension name, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in the order they appeared.
    pub params: Vec<ExtensionParam>,
}

impl ExtensionOffer {
    /// An offer with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        ExtensionOffer {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn with_param(mut self, name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        self.params.push(ExtensionParam::new(name, value));
        self
    }
}

impl fmt::Display for ExtensionOffer {
    /// Formats the offer as header text, quoting values that are not tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for param in &self.params {
            write!(f, "; {}", param.name)?;
            if let Some(value) = &param.value {
                if !value.is_empty() && value.bytes().all(is_token_byte) {
                    write!(f, "={value}")?;
                } else {
                    f.write_str("=\"")?;
                    for c in value.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// Whether `b` may appear in an HTTP token (RFC 7230 §3.2.6 `tchar`).
pub fn is_token_byte(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// RSV1 as it appears in [`Extension::rsv_mask`] and frame headers
/// (`(first_byte >> 4) & 0b111`).
pub const RSV1: u8 = 0b100;
/// RSV2, see [`RSV1`].
pub const RSV2: u8 = 0b010;
/// RSV3, see [`RSV1`].
pub const RSV3: u8 = 0b001;

/// The result of encoding an outgoing data message piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    /// Send the payload unchanged, with all RSV bits clear. When returned for
    /// the first piece of a message, the rest of that message is not passed
    /// to the extension.
    PassThrough,
    /// Send this payload instead. `rsv` is set on the message's first frame
    /// only (ignored for later pieces).
    Transformed {
        /// RSV bits for the first frame.
        rsv: u8,
        /// The transformed bytes.
        payload: Bytes,
    },
}

/// Why a negotiated extension could not encode an outgoing message. The
/// message was not sent, but the extension's state (e.g. a compression
/// context shared by later messages) may be lost with it: close the
/// connection with 1011 and reconnect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The codec library reported an error.
    #[error("the {extension} encoder failed ({detail}); the message was not sent, close the connection (1011) and reconnect")]
    Codec {
        /// The extension's registered name.
        extension: &'static str,
        /// The codec library's own description.
        detail: String,
    },
    /// The encoder stopped making progress before it had consumed the input.
    #[error("the {extension} encoder made no progress; the message was not sent, close the connection (1011) and reconnect")]
    NoProgress {
        /// The extension's registered name.
        extension: &'static str,
    },
    /// The encoder's output lacks the ending the extension's framing needs
    /// (permessage-deflate: the sync-flush tail, RFC 7692 §7.2.1).
    #[error("the {extension} encoder's output lacks the ending its framing needs; the message was not sent, close the connection (1011) and reconnect")]
    MalformedOutput {
        /// The extension's registered name.
        extension: &'static str,
    },
}

/// A negotiated extension, plugged into a
/// [`Connection`](crate::Connection) with
/// [`Connection::set_extension`](crate::Connection::set_extension).
///
/// The connection calls it for data messages only: control frames are never
/// transformed. RSV bits outside [`Extension::rsv_mask`] still fail with 1002.
pub trait Extension: Send + fmt::Debug {
    /// The registered extension name, e.g. `permessage-deflate`.
    fn name(&self) -> &'static str;

    /// The RSV bits this extension may set on a message's first frame.
    fn rsv_mask(&self) -> u8;

    /// Encodes one piece of an outgoing data message. `first` and `fin` mark
    /// the message's first and last pieces; a whole message is one call with
    /// both set. `first` decides [`Encoded::PassThrough`] for the message.
    fn encode(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        first: bool,
        fin: bool,
    ) -> Result<Encoded, EncodeError>;

    /// Decodes one received frame of a message whose first frame carried the
    /// RSV bits `rsv` (non-zero and within the mask). Appends the decoded bytes
    /// to `out` and must fail with
    /// [`LimitError::MessageTooLarge`](crate::LimitError::MessageTooLarge)
    /// before `out` would grow past `max_len` bytes in total, without
    /// allocating beyond it.
    fn decode(
        &mut self,
        rsv: u8,
        payload: &[u8],
        fin: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), Error>;
}
