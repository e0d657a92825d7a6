//! Everything that can go wrong on the wire.

use thiserror::Error;

use crate::codes::DisconnectCode;

/// A frame that could not be decoded into commands, or a reply that could
/// not be encoded.
///
/// Decode errors are the client's fault: the server closes the connection
/// with [`DisconnectCode::BAD_REQUEST`]. See [`WireError::disconnect_code`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WireError {
    /// The frame holds no command at all.
    #[error("the frame holds no command: send at least one command per message (an empty object `{{}}` is a pong)")]
    EmptyFrame,
    /// A JSON line is not a JSON object.
    #[error("command {index} is not a JSON object: send one JSON object per line")]
    NotJsonObject {
        /// The command's position in the frame, from 0.
        index: usize,
    },
    /// A JSON line does not parse as a command.
    #[error("command {index} is not a valid JSON command ({source}): send newline-delimited JSON objects whose `data` fields are valid JSON")]
    InvalidJson {
        /// The command's position in the frame, from 0.
        index: usize,
        /// What serde_json found.
        #[source]
        source: serde_json::Error,
    },
    /// A length-delimited Protobuf command does not decode.
    #[error("command {index} is not a valid Protobuf Command ({source}): encode commands with client.proto's `Command` message")]
    InvalidProtobuf {
        /// The command's position in the frame, from 0.
        index: usize,
        /// What prost found.
        #[source]
        source: prost::DecodeError,
    },
    /// The frame ends inside a varint length prefix.
    #[error("the varint length prefix of command {index} is cut off by the end of the frame: prefix every command with its complete length")]
    TruncatedLength {
        /// The command's position in the frame, from 0.
        index: usize,
    },
    /// A varint length prefix is longer than 10 bytes or overflows 64 bits.
    #[error("the varint length prefix of command {index} is over-long or overflows 64 bits: encode lengths as minimal unsigned varints")]
    InvalidLength {
        /// The command's position in the frame, from 0.
        index: usize,
    },
    /// A length prefix announces more bytes than the frame has left.
    #[error("command {index} announces {declared} bytes but the frame has only {remaining} left: send whole commands in one message")]
    LengthBeyondFrame {
        /// The command's position in the frame, from 0.
        index: usize,
        /// The length the prefix announced.
        declared: u64,
        /// The bytes left in the frame after the prefix.
        remaining: usize,
    },
    /// The frame holds more commands than the server accepts in one message.
    #[error("the frame holds more than {max} commands: send at most {max} commands per message")]
    TooManyCommands {
        /// The limit.
        max: usize,
    },
    /// A reply's bytes field (`data`, `conn_info`, `chan_info`) is not valid
    /// JSON, so the JSON format cannot carry it.
    #[error("a reply's bytes field is not valid JSON ({source}), which a JSON client cannot receive: publish JSON data, or serve binary data to Protobuf clients only")]
    NotJsonData {
        /// What serde_json found.
        #[source]
        source: serde_json::Error,
    },
}

impl WireError {
    /// The code to close the connection with: 3501 "bad request" for every
    /// decode error, 3506 "inappropriate protocol" when a JSON client would
    /// receive data that is not JSON.
    pub fn disconnect_code(&self) -> DisconnectCode {
        match self {
            Self::NotJsonData { .. } => DisconnectCode::INAPPROPRIATE_PROTOCOL,
            _ => DisconnectCode::BAD_REQUEST,
        }
    }
}
