//! Arbitrary bytes into the hub's command decoder, in both wire formats.
//!
//! Input layout: byte 0 picks the setup, the rest is one WebSocket message.
//! - bit 0: format (JSON or Protobuf);
//! - bits 1-3: the per-frame command limit, `n + 1` commands.
//!
//! Besides "no panic", it checks the decoder's promises: success yields
//! between one and `limit` commands; every failure is a typed error that
//! closes with 3501 "bad request"; and decoded commands encode back in the
//! same format and decode to the same commands.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::wire::{Command, Format};

fn reencode(format: Format, commands: &[Command]) -> Vec<u8> {
    match format {
        Format::Json => {
            let lines: Vec<String> = commands
                .iter()
                .map(|command| serde_json::to_string(command).expect("decoded JSON data is JSON"))
                .collect();
            lines.join("\n").into_bytes()
        }
        Format::Protobuf => {
            let mut frame = Vec::new();
            for command in commands {
                command
                    .encode_length_delimited(&mut frame)
                    .expect("a Vec grows");
            }
            frame
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&setup, frame)) = input.split_first() else {
        return;
    };
    let format = if setup & 1 == 0 {
        Format::Json
    } else {
        Format::Protobuf
    };
    let limit = usize::from((setup >> 1) & 0b111) + 1;
    match format.decode_commands(frame, limit) {
        Ok(commands) => {
            assert!(!commands.is_empty() && commands.len() <= limit);
            let again = format
                .decode_commands(&reencode(format, &commands), limit)
                .expect("re-encoded commands decode");
            assert_eq!(again, commands);
        }
        Err(error) => {
            assert_eq!(error.disconnect_code(), DisconnectCode::BAD_REQUEST);
            assert!(!error.to_string().is_empty());
        }
    }
});
