//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs each payload byte `i` with `key[i % 4]`. The hot loop works on
//! 64-byte blocks against a 64-byte repetition of the key; the fixed-size
//! inner loop has no bounds checks, so LLVM turns it into full-width SIMD
//! XORs without any `unsafe` or target-specific code in this crate. The
//! loop is compiled once per vector width (AVX-512, AVX2, and the build's
//! baseline, SSE2 or NEON) and the widest one the CPU supports is picked
//! at run time (`multiversion`): a portable build would otherwise mask
//! 16 bytes per instruction where the CPU can do 64 (at 1 MiB messages
//! masking was a tenth of the echo server's CPU). The benchmark
//! `proto/mask` compares it with a naive byte loop.

/// Bytes processed per block; a multiple of every SIMD width in use and of 4.
const BLOCK: usize = 64;

/// XORs `buf` with the masking `key`, starting at the beginning of the key.
/// Masking and unmasking are the same operation.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_at(buf, key, 0);
}

/// XORs `buf` with the masking `key` as if `buf` started `offset` bytes into
/// the payload, for frames whose payload arrives in pieces.
pub fn apply_mask_at(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated(key, offset);
    if buf.len() < 16 {
        mask_bytes(buf, key);
        return;
    }
    // Long payloads start their blocks at a 64-byte boundary: a payload
    // follows its frame header in the read buffer, so it is rarely
    // aligned, and a 64-byte vector load or store that straddles two cache
    // lines costs about two (at 1 MiB the unaligned loop took 1.5x the
    // time per message of tokio-websockets' aligned AVX-512 loop).
    let head = if buf.len() >= WIDEST_MIN {
        buf.as_ptr().align_offset(BLOCK).min(buf.len())
    } else {
        0
    };
    let (head_bytes, buf) = buf.split_at_mut(head);
    mask_bytes(head_bytes, key);
    let key = rotated(key, head);
    let wide = repeated(key);
    let whole = buf.len() - buf.len() % BLOCK;
    let (blocks, rest) = buf.split_at_mut(whole);
    if whole >= WIDEST_MIN {
        mask_blocks(blocks, &wide);
    } else {
        mask_blocks_baseline(blocks, &wide);
    }
    // BLOCK is a multiple of 4, so the remainder starts at key phase 0.
    let mut words = rest.chunks_exact_mut(8);
    let key8 = u64::from_ne_bytes(wide[..8].try_into().expect("8 bytes"));
    for chunk in &mut words {
        let value = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ key8;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    mask_bytes(words.into_remainder(), key);
}

/// Appends `src` masked with `key` (starting at key byte 0) to `dst`: the
/// copy and the XOR in one pass over the payload, as a client does for every
/// frame it sends. Copying first and masking in place afterwards reads and
/// writes the payload twice.
pub fn extend_masked(dst: &mut bytes::BytesMut, src: &[u8], key: [u8; 4]) {
    /// Masked bytes are staged in a buffer that stays in L1 cache and then
    /// appended in bulk: one capacity check per stage, not per block.
    const STAGE: usize = 4096;
    dst.reserve(src.len());
    if src.len() < STAGE {
        // Cache-resident either way: a plain copy and an in-place XOR beat
        // setting up the stage (measured 2.5x faster at 1 KiB).
        let start = dst.len();
        dst.extend_from_slice(src);
        apply_mask(&mut dst[start..], key);
        return;
    }
    let wide = repeated(key);
    let mut stage = [0u8; STAGE];
    // STAGE is a multiple of 4, so every piece starts at key phase 0.
    for piece in src.chunks(STAGE) {
        let staged = &mut stage[..piece.len()];
        mask_copy(staged, piece, &wide);
        dst.extend_from_slice(staged);
    }
}

/// Writes `input` XORed with the repeated key to `out` (the same length),
/// compiled for each vector width like [`mask_blocks`]; only called with
/// pieces of a 4 KiB stage, long enough for the dispatch to pay.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn mask_copy(out: &mut [u8], input: &[u8], wide: &[u8; BLOCK]) {
    let mut out_blocks = out.chunks_exact_mut(BLOCK);
    let mut in_blocks = input.chunks_exact(BLOCK);
    for (out, input) in (&mut out_blocks).zip(&mut in_blocks) {
        // Fixed-size arrays: the compiler vectorises this fully.
        let out: &mut [u8; BLOCK] = out.try_into().expect("chunks_exact yields BLOCK bytes");
        let input: &[u8; BLOCK] = input.try_into().expect("chunks_exact yields BLOCK bytes");
        for ((o, i), k) in out.iter_mut().zip(input).zip(wide.iter()) {
            *o = i ^ k;
        }
    }
    for ((o, i), k) in out_blocks
        .into_remainder()
        .iter_mut()
        .zip(in_blocks.remainder())
        .zip(wide.iter())
    {
        *o = i ^ k;
    }
}

/// Below this many bytes the baseline loop is used directly: the run-time
/// dispatch (an atomic load and an indirect call) is not worth it.
const WIDEST_MIN: usize = 512;

/// XORs whole blocks with the repeated key, compiled for each vector width
/// and dispatched to the widest the CPU has.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn mask_blocks(blocks: &mut [u8], wide: &[u8; BLOCK]) {
    mask_blocks_baseline(blocks, wide);
}

/// XORs whole blocks (`blocks.len()` is a multiple of [`BLOCK`]) with the
/// repeated key, for the build's baseline target.
#[inline(always)]
fn mask_blocks_baseline(blocks: &mut [u8], wide: &[u8; BLOCK]) {
    for block in blocks.chunks_exact_mut(BLOCK) {
        // Fixed-size arrays: the compiler vectorises this loop fully.
        let block: &mut [u8; BLOCK] = block.try_into().expect("chunks_exact yields BLOCK bytes");
        for (byte, k) in block.iter_mut().zip(wide.iter()) {
            *byte ^= *k;
        }
    }
}

/// The key repeated over one block.
#[inline]
fn repeated(key: [u8; 4]) -> [u8; BLOCK] {
    let mut wide = [0u8; BLOCK];
    for chunk in wide.chunks_exact_mut(4) {
        chunk.copy_from_slice(&key);
    }
    wide
}

/// The key as seen from `offset` bytes into the payload.
#[inline]
fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let shift = offset % 4;
    [
        key[shift],
        key[(shift + 1) % 4],
        key[(shift + 2) % 4],
        key[(shift + 3) % 4],
    ]
}

#[inline]
fn mask_bytes(buf: &mut [u8], key: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// The reference implementation, one byte at a time (tests and benchmarks).
#[doc(hidden)]
pub fn apply_mask_naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn rfc_5_7_masked_hello() {
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn mask_matches_naive_for_all_lengths_offsets_and_alignments() {
        let key = [0x12, 0x9a, 0xfe, 0x01];
        let source = pattern(300 + 16);
        for len in 0..300 {
            for align in 0..16 {
                for offset in 0..8 {
                    let mut fast = source[align..align + len].to_vec();
                    let mut slow = fast.clone();
                    // Mask in place inside a larger buffer so that the start
                    // address really varies.
                    let mut backing = source.clone();
                    apply_mask_at(&mut backing[align..align + len], key, offset);
                    apply_mask_at(&mut fast, key, offset);
                    apply_mask_naive(&mut slow, key, offset);
                    assert_eq!(fast, slow, "len {len} align {align} offset {offset}");
                    assert_eq!(&backing[align..align + len], &slow[..]);
                }
            }
        }
    }

    /// Lengths past `WIDEST_MIN`, where the widest vector loop the CPU has
    /// is used (AVX-512 or AVX2 on most x86-64 machines).
    #[test]
    fn wide_masking_matches_naive_for_long_payloads() {
        let key = [0xa5, 0x3c, 0x00, 0xff];
        let source = pattern(70_000);
        for len in [511usize, 512, 513, 575, 576, 577, 640, 1000, 4109, 65_543] {
            // Every start address modulo the 64-byte block (the loop
            // aligns its blocks, masking the bytes before the first
            // boundary one at a time).
            for align in 0..64 {
                for offset in 0..4 {
                    let mut backing = source.clone();
                    let mut slow = source[align..align + len].to_vec();
                    apply_mask_at(&mut backing[align..align + len], key, offset);
                    apply_mask_naive(&mut slow, key, offset);
                    assert_eq!(
                        &backing[align..align + len],
                        &slow[..],
                        "len {len} align {align} offset {offset}"
                    );
                    assert_eq!(&backing[..align], &source[..align], "bytes before");
                    assert_eq!(
                        &backing[align + len..],
                        &source[align + len..],
                        "bytes after"
                    );
                }
            }
        }
    }

    #[test]
    fn extend_masked_equals_copy_then_mask() {
        let key = [0x9c, 0x01, 0x7f, 0xe2];
        let source = pattern(10_016);
        // Every short length, and lengths around the 4 KiB staging size.
        let lengths = (0..300).chain([4095, 4096, 4097, 8191, 8257, 10_000]);
        for len in lengths {
            for align in [0usize, 1, 3, 7] {
                let src = &source[align..align + len];
                let mut expected = src.to_vec();
                apply_mask_naive(&mut expected, key, 0);
                // Appends after existing bytes, which stay untouched.
                let mut dst = bytes::BytesMut::from(&b"head"[..]);
                extend_masked(&mut dst, src, key);
                assert_eq!(&dst[..4], b"head", "len {len} align {align}");
                assert_eq!(&dst[4..], &expected[..], "len {len} align {align}");
            }
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_whole() {
        let key = [1, 2, 3, 250];
        let original = pattern(1000);
        let mut whole = original.clone();
        apply_mask(&mut whole, key);
        for cut in [1usize, 3, 4, 5, 63, 64, 65, 129] {
            let mut pieces = original.clone();
            let mut start = 0;
            while start < pieces.len() {
                let end = (start + cut).min(pieces.len());
                apply_mask_at(&mut pieces[start..end], key, start);
                start = end;
            }
            assert_eq!(pieces, whole, "cut {cut}");
        }
    }
}
