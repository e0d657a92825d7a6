//! Raw-TCP mode: the same masked WebSocket frames a client sends, written
//! to a plain TCP echo server without an opening handshake. The server
//! sends the bytes back unchanged, so the echoed frames are masked too; they
//! are parsed with the proto crate's frame codec and checked against the
//! pattern through the mask in one pass (no separate unmasking pass, so the
//! client's cost per byte matches WebSocket mode). This measures the physical limit of the machine for
//! the same bytes on the wire.

use std::io::IoSlice;

use anyhow::{bail, Context as _};
use bytes::{Buf as _, BytesMut};
use switchboard_proto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use switchboard_proto::mask::apply_mask;

use crate::bench::options::PayloadKind;
use crate::bench::payload::Pattern;
use crate::bench::wire::{Echo, Wire};

/// Largest frame accepted back from the echo server: far above any payload
/// the load generator sends, low enough that a broken server cannot make it
/// reserve gigabytes.
const MAX_ECHO_PAYLOAD: u64 = 64 << 20;

/// A raw-TCP benchmark connection's framing state.
#[derive(Debug)]
pub(crate) struct RawWire {
    transmit: BytesMut,
    receive: BytesMut,
    /// xorshift64 state for masking keys: clients must use a fresh key per
    /// frame (RFC 6455 §5.3); a cheap generator keeps the wire realistic.
    key_state: u64,
}

impl RawWire {
    /// A connection whose masking keys start from `seed`. Buffers are
    /// allocated on first use, so idle connections cost the load generator
    /// almost nothing.
    pub(crate) fn new(seed: u64) -> Self {
        RawWire {
            transmit: BytesMut::new(),
            receive: BytesMut::new(),
            key_state: seed | 1,
        }
    }

    fn next_key(&mut self) -> [u8; 4] {
        let mut x = self.key_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.key_state = x;
        (x as u32).to_ne_bytes()
    }
}

impl Wire for RawWire {
    fn queue(&mut self, pattern: &Pattern, seq: u64) -> anyhow::Result<()> {
        let key = self.next_key();
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: match pattern.kind() {
                PayloadKind::Binary => OpCode::Binary,
                PayloadKind::Text => OpCode::Text,
            },
            mask: Some(key),
            payload_len: pattern.size() as u64,
        };
        let mut encoded = [0u8; MAX_HEADER_LEN];
        let header_len = header.encode(&mut encoded);
        self.transmit.reserve(header_len + pattern.size());
        self.transmit.extend_from_slice(&encoded[..header_len]);
        let payload_start = self.transmit.len();
        pattern.write_to(seq, &mut self.transmit);
        apply_mask(&mut self.transmit[payload_start..], key);
        Ok(())
    }

    type Room = BytesMut;

    fn read_room(&mut self) -> &mut BytesMut {
        &mut self.receive
    }

    fn next_echo(&mut self) -> anyhow::Result<Option<Echo>> {
        let Some((header, header_len)) =
            FrameHeader::decode(&self.receive).context("the echo server sent a malformed frame")?
        else {
            return Ok(None);
        };
        if header.payload_len > MAX_ECHO_PAYLOAD {
            bail!(
                "the echo server sent a {} byte frame, more than was ever sent to it",
                header.payload_len
            );
        }
        let payload_len = header.payload_len as usize;
        let frame_len = header_len + payload_len;
        if self.receive.len() < frame_len {
            // Make room for the whole frame now, so it arrives without
            // repeated reallocation.
            self.receive.reserve(frame_len - self.receive.len());
            return Ok(None);
        }
        let kind = match (header.opcode, header.fin) {
            (OpCode::Binary, true) => PayloadKind::Binary,
            (OpCode::Text, true) => PayloadKind::Text,
            (opcode, fin) => bail!(
                "the raw echo server sent an unexpected frame ({opcode:?}, fin {fin}): only whole data frames are ever sent to it"
            ),
        };
        self.receive.advance(header_len);
        let payload = self.receive.split_to(payload_len).freeze();
        Ok(Some(Echo {
            kind,
            payload,
            mask: header.mask,
        }))
    }

    fn transmit_len(&self) -> usize {
        self.transmit.len()
    }

    fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        if self.transmit.is_empty() || dst.is_empty() {
            return 0;
        }
        dst[0] = IoSlice::new(&self.transmit);
        1
    }

    fn advance_transmit(&mut self, n: usize) {
        self.transmit.advance(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_back(wire: &mut RawWire) {
        let sent = wire.transmit.split();
        wire.receive.extend_from_slice(&sent);
    }

    #[test]
    fn echoed_frames_parse_and_verify() {
        for kind in [PayloadKind::Binary, PayloadKind::Text] {
            for size in [16, 200, 70_000] {
                let pattern = Pattern::new(kind, size);
                let mut wire = RawWire::new(7);
                for seq in 0..3 {
                    wire.queue(&pattern, seq).unwrap();
                }
                echo_back(&mut wire);
                for seq in 0..3 {
                    let echo = wire.next_echo().unwrap().expect("a whole frame");
                    assert_eq!(echo.kind, kind);
                    assert!(echo.mask.is_some());
                    assert!(echo.matches(&pattern, seq));
                    assert!(!echo.matches(&pattern, seq + 1));
                }
                assert!(wire.next_echo().unwrap().is_none());
            }
        }
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let pattern = Pattern::new(PayloadKind::Binary, 1000);
        let mut wire = RawWire::new(3);
        wire.queue(&pattern, 9).unwrap();
        let sent = wire.transmit.split();
        for chunk in sent.chunks(97) {
            assert!(wire.next_echo().unwrap().is_none());
            wire.receive.extend_from_slice(chunk);
        }
        let echo = wire.next_echo().unwrap().unwrap();
        assert!(echo.matches(&pattern, 9));
    }

    #[test]
    fn frames_are_masked_with_changing_keys() {
        let pattern = Pattern::new(PayloadKind::Binary, 16);
        let mut wire = RawWire::new(5);
        wire.queue(&pattern, 0).unwrap();
        wire.queue(&pattern, 0).unwrap();
        let sent = wire.transmit.split();
        let (first, len) = FrameHeader::decode(&sent).unwrap().unwrap();
        let (second, _) = FrameHeader::decode(&sent[len + 16..]).unwrap().unwrap();
        assert!(first.mask.is_some());
        assert_ne!(first.mask, second.mask);
    }

    #[test]
    fn a_control_frame_from_the_echo_server_is_an_error() {
        let mut wire = RawWire::new(1);
        wire.receive.extend_from_slice(&[0x89, 0x00]);
        assert!(wire.next_echo().is_err());
    }
}
