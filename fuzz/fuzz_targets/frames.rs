//! Arbitrary bytes into a `Connection`, as the peer's frames.
//!
//! Input layout: byte 0 picks the setup, the rest is the byte stream.
//! - bit 0: role (client receives, or server receives);
//! - bit 1: delivery (whole messages or streamed fragments);
//! - bit 2: limits (small: 256-byte frames, 1 KiB messages; or default);
//! - bits 3-5: read size, `1 << n` bytes, or the whole stream when n == 7.
//!
//! Besides "no panic", it checks the connection's promises: at most one
//! error, with close code 1002, 1007 or 1009; nothing (no event, no byte
//! queued) after it; the last frame queued on error is a close frame with
//! that code; the receive buffer never holds much more than was fed.
#![no_main]

use std::io::IoSlice;

use libfuzzer_sys::fuzz_target;
use switchboard_proto::{Config, Connection, Delivery, Limits, Role};

/// Largest receive-buffer capacity allowed after `fed` bytes (the same
/// bound as `crates/proto/tests/fuzz_smoke.rs`). With small limits: the fed
/// bytes, one frame of read-ahead and 4 KiB of rounding. With the default
/// 16 MiB frame limit the connection reads ahead in 64 KiB steps and grows
/// geometrically: twice the fed bytes plus two steps. Never a declared
/// length.
fn buffer_bound(limits: &Limits, fed: usize) -> usize {
    const STEP: usize = 64 * 1024;
    const ROUNDING: usize = 4 * 1024;
    if limits.max_frame_size + 14 <= STEP {
        fed + limits.max_frame_size + 14 + ROUNDING
    } else {
        2 * fed + 2 * STEP + ROUNDING
    }
}

fuzz_target!(|data: &[u8]| {
    let [setup, stream @ ..] = data else {
        return;
    };
    let role = if setup & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let delivery = if setup & 2 == 0 {
        Delivery::Messages
    } else {
        Delivery::Chunks
    };
    let limits = if setup & 4 == 0 {
        Limits::default().max_frame_size(256).max_message_size(1024)
    } else {
        Limits::default()
    };
    let shift = (setup >> 3) & 7;
    let read_size = if shift == 7 {
        stream.len().max(1)
    } else {
        1 << shift
    };

    let config = Config::default().ping_interval(None).delivery(delivery);
    let bound_limits = limits.clone();
    let mut conn = Connection::with_limits(role, config, limits);
    let mut sent = Vec::new();
    let mut failed = None;
    let mut fed = 0;
    for read in stream.chunks(read_size) {
        let failed_before = failed.is_some();
        conn.receive(read);
        fed += read.len();
        loop {
            match conn.poll_event() {
                Ok(Some(event)) => assert!(failed.is_none(), "event {event:?} after {failed:?}"),
                Ok(None) => break,
                Err(error) => {
                    assert!(failed.is_none(), "second error {error:?} after {failed:?}");
                    let code = error.close_code().0;
                    assert!(
                        matches!(code, 1002 | 1007 | 1009),
                        "{error:?} has close code {code}"
                    );
                    assert!(conn.should_close_transport());
                    failed = Some(error);
                    break;
                }
            }
        }
        let before = sent.len();
        drain(&mut conn, &mut sent);
        assert!(
            !failed_before || sent.len() == before,
            "bytes queued after the error"
        );
        assert!(
            conn.read_buf().capacity() <= buffer_bound(&bound_limits, fed),
            "buffer grew past the fed bytes"
        );
    }
    let frames = decode(&sent, role);
    if let Some(error) = failed {
        let (opcode, payload) = frames.last().expect("no close frame queued on error");
        assert_eq!(*opcode, 0x8, "last frame on error is not a close");
        assert!(payload.len() >= 2);
        assert_eq!(
            u16::from_be_bytes([payload[0], payload[1]]),
            error.close_code().0
        );
        assert_eq!(
            frames.iter().filter(|(op, _)| *op == 0x8).count(),
            1,
            "more than one close frame"
        );
    }
});

fn drain(conn: &mut Connection, out: &mut Vec<u8>) {
    while conn.transmit_len() > 0 {
        let written = {
            let mut slices = [IoSlice::new(&[]); 4];
            let filled = conn.transmit_slices(&mut slices);
            assert!(filled > 0);
            slices[..filled]
                .iter()
                .map(|s| {
                    out.extend_from_slice(s);
                    s.len()
                })
                .sum::<usize>()
        };
        conn.advance_transmit(written);
    }
}

/// Decodes what `sender` wrote into (opcode, unmasked payload) pairs,
/// checking the masking rule and that no partial frame is left.
fn decode(mut bytes: &[u8], sender: Role) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "truncated header");
        let opcode = bytes[0] & 0x0F;
        let masked = bytes[1] & 0x80 != 0;
        assert_eq!(masked, sender == Role::Client, "masking rule broken");
        let (len, mut at) = match bytes[1] & 0x7F {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = if masked {
            at += 4;
            Some([bytes[at - 4], bytes[at - 3], bytes[at - 2], bytes[at - 1]])
        } else {
            None
        };
        assert!(bytes.len() >= at + len, "truncated payload");
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        frames.push((opcode, payload));
        bytes = &bytes[at + len..];
    }
    frames
}
