//! The bytes sent, built once: one masked frame, copied W times into one
//! buffer so that any number of replacements up to W leaves in one write,
//! and what its echo must look like.
//!
//! Every frame uses the same fixed masking key. RFC 6455 asks clients for a
//! fresh key per frame so that intermediaries cannot be steered by chosen
//! bytes; on loopback to an echo server there is no intermediary, and the
//! server's unmasking costs the same for any key. A fixed key is what lets
//! the load generator send pre-encoded bytes with no work per message.

use crate::options::Kind;

/// The masking key of every frame.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Characters of 1, 2, 3 and 4 bytes in UTF-8, repeated to build text payloads.
const TEXT_PATTERN: &str = "aé€😀";

/// A message's payload: binary bytes or valid UTF-8 of exactly `size` bytes.
pub fn payload(kind: Kind, size: usize) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..size).map(|i| (i * 31 + 7) as u8).collect(),
        Kind::Text => {
            let mut text = String::with_capacity(size);
            'fill: loop {
                for c in TEXT_PATTERN.chars() {
                    if text.len() + c.len_utf8() > size {
                        break 'fill;
                    }
                    text.push(c);
                }
            }
            // Pad the last few bytes with ASCII so the size is exact.
            while text.len() < size {
                text.push('z');
            }
            text.into_bytes()
        }
    }
}

/// A final, unfragmented frame: header (masked with `mask` if given) and payload.
pub fn encode_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => frame.push(mask_bit | len as u8),
        len @ 126..=0xffff => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(mask_bit | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            frame.extend_from_slice(&key);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => frame.extend_from_slice(payload),
    }
    frame
}

/// What every echo must be: opcode, payload length, and the payload bytes
/// as they come back (masked in raw-TCP mode, where the echo is the very
/// bytes sent).
#[derive(Debug)]
pub struct Expected {
    /// Data opcode of every echo.
    pub opcode: u8,
    /// The echo's payload bytes, as they appear on the wire.
    pub payload: Vec<u8>,
    /// Compare the content of every N-th echo of a connection.
    pub check_every: u64,
}

/// The frames of one run: W copies of the encoded frame back to back.
#[derive(Debug)]
pub struct Batch {
    bytes: Vec<u8>,
    frame_len: usize,
}

impl Batch {
    /// `copies` copies of `frame`.
    pub fn new(frame: &[u8], copies: usize) -> Batch {
        Batch {
            bytes: frame.repeat(copies),
            frame_len: frame.len(),
        }
    }

    /// Bytes of one frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// The bytes of `frames` frames (at most the number of copies), from
    /// `offset` bytes into the first: what is left to write of them.
    pub fn pending(&self, frames: usize, offset: usize) -> &[u8] {
        &self.bytes[offset..frames * self.frame_len]
    }
}

/// The frame to send and the echo expected for `kind` × `size` bytes.
pub fn build(kind: Kind, size: usize, raw_tcp: bool, check_every: u64) -> (Vec<u8>, Expected) {
    let plain = payload(kind, size);
    let frame = encode_frame(kind.opcode(), &plain, Some(MASK_KEY));
    let echoed_payload = if raw_tcp {
        frame[frame.len() - size..].to_vec()
    } else {
        plain
    };
    let expected = Expected {
        opcode: kind.opcode(),
        payload: echoed_payload,
        check_every,
    };
    (frame, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_payloads_are_utf8_of_the_exact_size() {
        for size in [1, 2, 3, 9, 10, 11, 1024, 65536] {
            let bytes = payload(Kind::Text, size);
            assert_eq!(bytes.len(), size);
            let text = std::str::from_utf8(&bytes).expect("valid UTF-8");
            if size >= 10 {
                assert!(text.contains('😀') && text.contains('é'));
            }
        }
    }

    #[test]
    fn frames_use_the_shortest_length_encoding_and_mask_the_payload() {
        let small = encode_frame(0x2, &[1, 2, 3], Some([1, 0, 0, 0]));
        assert_eq!(small, [0x82, 0x83, 1, 0, 0, 0, 0, 2, 3]);
        let medium = encode_frame(0x1, &[0; 200], None);
        assert_eq!(&medium[..4], &[0x81, 126, 0, 200]);
        let large = encode_frame(0x2, &vec![0; 70_000], None);
        assert_eq!(&large[..2], &[0x82, 127]);
        assert_eq!(u64::from_be_bytes(large[2..10].try_into().unwrap()), 70_000);
        assert_eq!(large.len(), 10 + 70_000);
    }

    #[test]
    fn a_batch_hands_out_whole_frames_after_a_partial_write() {
        let batch = Batch::new(&[1, 2, 3], 4);
        assert_eq!(batch.pending(2, 0), &[1, 2, 3, 1, 2, 3]);
        assert_eq!(batch.pending(2, 1), &[2, 3, 1, 2, 3]);
        assert_eq!(batch.pending(4, 0).len(), 12);
    }

    #[test]
    fn raw_tcp_expects_the_masked_bytes_back() {
        let (frame, expected) = build(Kind::Binary, 16, true, 1);
        assert_eq!(expected.payload, frame[6..]);
        let (_, websocket) = build(Kind::Binary, 16, false, 1);
        assert_eq!(websocket.payload, payload(Kind::Binary, 16));
    }
}
