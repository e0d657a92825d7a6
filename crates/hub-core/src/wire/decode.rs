//! One WebSocket message in, the commands it carries out.

use prost::Message as _;

use super::error::WireError;
use super::format::Format;
use super::messages::Command;

/// How many commands one message may carry by default. The SDKs batch the
/// commands of one event-loop tick (a burst of subscribes after a reconnect);
/// 128 covers that with room and bounds the work one frame can cause.
pub const DEFAULT_MAX_COMMANDS_PER_FRAME: usize = 128;

/// The longest varint: 10 bytes hold 64 bits at 7 bits per byte.
const MAX_VARINT_LEN: usize = 10;

impl Format {
    /// Decodes one WebSocket message into the commands it carries.
    ///
    /// JSON: one object per line; empty lines (such as a trailing newline)
    /// are skipped. Protobuf: each `Command` prefixed by its varint length. A
    /// pong is an empty command. At most `max_commands` commands are
    /// accepted; a message with none is an error.
    pub fn decode_commands(
        self,
        frame: &[u8],
        max_commands: usize,
    ) -> Result<Vec<Command>, WireError> {
        let commands = match self {
            Self::Json => decode_json(frame, max_commands)?,
            Self::Protobuf => decode_protobuf(frame, max_commands)?,
        };
        if commands.is_empty() {
            return Err(WireError::EmptyFrame);
        }
        Ok(commands)
    }
}

fn decode_json(frame: &[u8], max_commands: usize) -> Result<Vec<Command>, WireError> {
    let mut commands = Vec::new();
    for line in frame.split(|&byte| byte == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let index = commands.len();
        if index == max_commands {
            return Err(WireError::TooManyCommands { max: max_commands });
        }
        // serde's derived impls would also accept a JSON array as a struct.
        if line[0] != b'{' {
            return Err(WireError::NotJsonObject { index });
        }
        let command = serde_json::from_slice(line)
            .map_err(|source| WireError::InvalidJson { index, source })?;
        commands.push(command);
    }
    Ok(commands)
}

fn decode_protobuf(mut frame: &[u8], max_commands: usize) -> Result<Vec<Command>, WireError> {
    let mut commands = Vec::new();
    while !frame.is_empty() {
        let index = commands.len();
        if index == max_commands {
            return Err(WireError::TooManyCommands { max: max_commands });
        }
        let (declared, prefix_len) = read_varint(frame, index)?;
        frame = &frame[prefix_len..];
        let len = usize::try_from(declared)
            .ok()
            .filter(|&len| len <= frame.len())
            .ok_or(WireError::LengthBeyondFrame {
                index,
                declared,
                remaining: frame.len(),
            })?;
        let (body, rest) = frame.split_at(len);
        let command =
            Command::decode(body).map_err(|source| WireError::InvalidProtobuf { index, source })?;
        commands.push(command);
        frame = rest;
    }
    Ok(commands)
}

/// Reads an unsigned varint from the start of `bytes`: its value and length.
fn read_varint(bytes: &[u8], index: usize) -> Result<(u64, usize), WireError> {
    let mut value: u64 = 0;
    for (position, &byte) in bytes.iter().take(MAX_VARINT_LEN).enumerate() {
        let payload = u64::from(byte & 0x7f);
        // The tenth byte may only carry the 64th bit.
        if position == MAX_VARINT_LEN - 1 && payload > 1 {
            return Err(WireError::InvalidLength { index });
        }
        value |= payload << (7 * position);
        if byte & 0x80 == 0 {
            return Ok((value, position + 1));
        }
    }
    if bytes.len() < MAX_VARINT_LEN {
        Err(WireError::TruncatedLength { index })
    } else {
        Err(WireError::InvalidLength { index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_every_length_read_back() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX.into(),
            u64::MAX,
        ] {
            let mut encoded = Vec::new();
            prost::encoding::encode_varint(value, &mut encoded);
            assert_eq!(read_varint(&encoded, 0).unwrap(), (value, encoded.len()));
        }
    }

    #[test]
    fn overflowing_tenth_byte_is_invalid() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(
            read_varint(&bytes, 3),
            Err(WireError::InvalidLength { index: 3 })
        ));
    }
}
