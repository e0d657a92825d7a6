//! Deterministic, self-checking payloads.
//!
//! Each message carries its sequence number followed by a pattern that
//! depends on that number, so the load generator can check every echoed
//! byte (not only the length) against what it sent without keeping a copy:
//! a dropped, duplicated, reordered, truncated or altered message shows up
//! as a mismatch.
//!
//! Binary: 8 bytes of sequence number (little endian), then bytes cycling
//! with period [`BINARY_PERIOD`] starting at an offset given by the number.
//!
//! Text: 16 lowercase hex digits of the sequence number, then 6-byte blocks
//! that mix 1-, 2-, 3- and 4-byte UTF-8 characters (so the peer's UTF-8
//! validator leaves its ASCII fast path), then ASCII `.` padding to the exact
//! size. Every message is valid UTF-8.
//!
//! Generating a payload is one copy out of a precomputed table and checking
//! one is one comparison against it: cheap enough for a load generator that
//! must outrun the server.

use crate::bench::options::PayloadKind;

/// Period of the binary pattern: a prime, so it never lines up with
/// power-of-two buffer or frame sizes.
pub const BINARY_PERIOD: usize = 251;

/// Six-byte blocks of mixed-width UTF-8 characters; each is exactly 6 bytes.
const TEXT_BLOCKS: [&str; 7] = ["é€a", "ü中b", "ñ😀", "ab€c", "Ωψ¿", "😀xy", "日本"];
const TEXT_BLOCK_LEN: usize = 6;
const TEXT_HEADER_LEN: usize = 16;
const BINARY_HEADER_LEN: usize = 8;

/// The smallest payload that can carry a sequence number in either kind.
pub const MIN_PAYLOAD_SIZE: usize = TEXT_HEADER_LEN;

/// Builds and checks the payloads of one benchmark run.
#[derive(Debug, Clone)]
pub struct Pattern {
    kind: PayloadKind,
    size: usize,
    /// The body source: body `n` is `table[offset(n)..offset(n) + body_len]`.
    table: Vec<u8>,
}

impl Pattern {
    /// A pattern for payloads of exactly `size` bytes
    /// (at least [`MIN_PAYLOAD_SIZE`]).
    pub fn new(kind: PayloadKind, size: usize) -> Self {
        assert!(
            size >= MIN_PAYLOAD_SIZE,
            "payload size below MIN_PAYLOAD_SIZE"
        );
        let table = match kind {
            PayloadKind::Binary => (0..size - BINARY_HEADER_LEN + BINARY_PERIOD)
                .map(|i| (i % BINARY_PERIOD) as u8 ^ 0x5a)
                .collect(),
            PayloadKind::Text => {
                let blocks = (size - TEXT_HEADER_LEN) / TEXT_BLOCK_LEN + TEXT_BLOCKS.len();
                let mut table = String::with_capacity(blocks * TEXT_BLOCK_LEN);
                for i in 0..blocks {
                    table.push_str(TEXT_BLOCKS[i % TEXT_BLOCKS.len()]);
                }
                table.into_bytes()
            }
        };
        Pattern { kind, size, table }
    }

    /// Text or binary.
    pub fn kind(&self) -> PayloadKind {
        self.kind
    }

    /// Payload size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Appends the payload of message `seq` (exactly [`Pattern::size`]
    /// bytes) to `out` with bulk copies.
    pub fn write_to(&self, seq: u64, out: &mut bytes::BytesMut) {
        let (header, body) = self.parts(seq);
        out.extend_from_slice(&header[..self.header_len()]);
        out.extend_from_slice(body);
        out.resize(out.len() + self.padding_len(), b'.');
    }

    /// Whether `payload` is exactly the payload of message `seq`.
    pub fn verify(&self, seq: u64, payload: &[u8]) -> bool {
        if payload.len() != self.size {
            return false;
        }
        let (header, body) = self.parts(seq);
        let header_len = self.header_len();
        let (got_header, rest) = payload.split_at(header_len);
        let (got_body, got_padding) = rest.split_at(body.len());
        got_header == &header[..header_len]
            && got_body == body
            && got_padding.iter().all(|&b| b == b'.')
    }

    /// Whether `masked`, unmasked with `key` (RFC 6455 §5.3, starting at
    /// key byte 0), is exactly the payload of message `seq`. Unmasking and
    /// comparing happen in one pass without writing, so checking a masked
    /// echo costs no more than checking an unmasked one.
    pub fn verify_masked(&self, seq: u64, masked: &[u8], key: [u8; 4]) -> bool {
        if masked.len() != self.size {
            return false;
        }
        let (header, body) = self.parts(seq);
        let header_len = self.header_len();
        let (got_header, rest) = masked.split_at(header_len);
        let (got_body, got_padding) = rest.split_at(body.len());
        // Header and body lengths are multiples of 4, so each part starts at
        // key byte 0.
        equal_masked(got_header, &header[..header_len], key)
            && equal_masked(got_body, body, key)
            && got_padding
                .iter()
                .enumerate()
                .all(|(i, &b)| b ^ key[i % 4] == b'.')
    }

    fn header_len(&self) -> usize {
        match self.kind {
            PayloadKind::Binary => BINARY_HEADER_LEN,
            PayloadKind::Text => TEXT_HEADER_LEN,
        }
    }

    fn padding_len(&self) -> usize {
        match self.kind {
            PayloadKind::Binary => 0,
            PayloadKind::Text => (self.size - TEXT_HEADER_LEN) % TEXT_BLOCK_LEN,
        }
    }

    /// The encoded sequence number (first `header_len` bytes valid) and the
    /// body slice of message `seq`.
    fn parts(&self, seq: u64) -> ([u8; TEXT_HEADER_LEN], &[u8]) {
        let mut header = [0u8; TEXT_HEADER_LEN];
        match self.kind {
            PayloadKind::Binary => {
                header[..BINARY_HEADER_LEN].copy_from_slice(&seq.to_le_bytes());
                let offset = (seq % BINARY_PERIOD as u64) as usize;
                let len = self.size - BINARY_HEADER_LEN;
                (header, &self.table[offset..offset + len])
            }
            PayloadKind::Text => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for (i, digit) in header.iter_mut().enumerate() {
                    *digit = HEX[(seq >> (60 - 4 * i) & 0xf) as usize];
                }
                let block = (seq % TEXT_BLOCKS.len() as u64) as usize;
                let offset = block * TEXT_BLOCK_LEN;
                let len = (self.size - TEXT_HEADER_LEN) / TEXT_BLOCK_LEN * TEXT_BLOCK_LEN;
                (header, &self.table[offset..offset + len])
            }
        }
    }
}

/// Whether `masked` XOR the repeated `key` equals `expected` (same length).
/// Works on 64-byte blocks against a 64-byte repetition of the key, which
/// the compiler turns into SIMD XORs and compares.
fn equal_masked(masked: &[u8], expected: &[u8], key: [u8; 4]) -> bool {
    const BLOCK: usize = 64;
    if masked.len() != expected.len() {
        return false;
    }
    let mut wide = [0u8; BLOCK];
    for (i, byte) in wide.iter_mut().enumerate() {
        *byte = key[i % 4];
    }
    let mut masked_blocks = masked.chunks_exact(BLOCK);
    let mut expected_blocks = expected.chunks_exact(BLOCK);
    for (m, e) in (&mut masked_blocks).zip(&mut expected_blocks) {
        let mut diff = 0u8;
        for i in 0..BLOCK {
            diff |= m[i] ^ wide[i] ^ e[i];
        }
        if diff != 0 {
            return false;
        }
    }
    // The tail starts at a multiple of 64, so at key byte 0 again.
    masked_blocks
        .remainder()
        .iter()
        .zip(expected_blocks.remainder())
        .zip(wide)
        .all(|((m, e), k)| m ^ k == *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_payloads_verify_with_their_key_only() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for kind in [PayloadKind::Binary, PayloadKind::Text] {
            for size in [16, 17, 21, 100, 1024, 70_001] {
                let pattern = Pattern::new(kind, size);
                let mut out = bytes::BytesMut::new();
                pattern.write_to(5, &mut out);
                let mut masked = out.to_vec();
                for (i, byte) in masked.iter_mut().enumerate() {
                    *byte ^= key[i % 4];
                }
                assert!(pattern.verify_masked(5, &masked, key), "{kind:?} {size}");
                assert!(!pattern.verify_masked(6, &masked, key), "{kind:?} {size}");
                assert!(!pattern.verify_masked(5, &masked, [1, 2, 3, 4]));
                for i in [0, size / 2, size - 1] {
                    let mut altered = masked.clone();
                    altered[i] ^= 0x40;
                    assert!(
                        !pattern.verify_masked(5, &altered, key),
                        "{kind:?} {size} {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn text_blocks_are_six_bytes_each() {
        for block in TEXT_BLOCKS {
            assert_eq!(block.len(), TEXT_BLOCK_LEN, "{block}");
        }
    }

    #[test]
    fn payloads_have_the_exact_size_and_verify() {
        for kind in [PayloadKind::Binary, PayloadKind::Text] {
            for size in [16, 17, 21, 22, 1024, 65536, 1 << 20] {
                let pattern = Pattern::new(kind, size);
                for seq in [0, 1, 6, 7, 250, 251, 252, u64::MAX] {
                    let mut out = bytes::BytesMut::new();
                    pattern.write_to(seq, &mut out);
                    assert_eq!(out.len(), size, "{kind:?} {size} {seq}");
                    assert!(pattern.verify(seq, &out), "{kind:?} {size} {seq}");
                    if kind == PayloadKind::Text {
                        assert!(std::str::from_utf8(&out).is_ok(), "{size} {seq}");
                    }
                }
            }
        }
    }

    #[test]
    fn text_payloads_leave_the_ascii_fast_path() {
        let mut out = bytes::BytesMut::new();
        Pattern::new(PayloadKind::Text, 1024).write_to(3, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let widths: std::collections::BTreeSet<usize> = text.chars().map(char::len_utf8).collect();
        assert_eq!(widths.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn any_altered_byte_or_other_sequence_number_is_a_mismatch() {
        for kind in [PayloadKind::Binary, PayloadKind::Text] {
            let pattern = Pattern::new(kind, 100);
            let mut out = bytes::BytesMut::new();
            pattern.write_to(42, &mut out);
            assert!(!pattern.verify(41, &out));
            assert!(!pattern.verify(43, &out));
            assert!(!pattern.verify(42, &out[..99]));
            for i in 0..out.len() {
                let mut altered = out.clone();
                altered[i] ^= 0x01;
                assert!(!pattern.verify(42, &altered), "{kind:?} byte {i}");
            }
        }
    }
}
