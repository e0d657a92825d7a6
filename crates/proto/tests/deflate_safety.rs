//! Hostile compressed input: decompression bombs stop at the size limit
//! without allocating the inflated size, corrupt data fails with 1007, and
//! arbitrary bytes never panic.

use bytes::BytesMut;
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;
use switchboard_proto::deflate::{DeflateConfig, PerMessageDeflate};
use switchboard_proto::extension::RSV1;
use switchboard_proto::{DataKind, Encoded, Error, Extension, LimitError, ProtocolError};
use switchboard_testkit::alloc::{CountingAllocator, ThreadMeter};

// ------------------------------------------------- per-thread allocation meter

// Per thread, so that tests running in parallel do not disturb each
// other's measurements.
#[global_allocator]
static ALLOCATOR: CountingAllocator<ThreadMeter> = CountingAllocator::new(ThreadMeter);

// ----------------------------------------------------------------- helpers

fn server() -> PerMessageDeflate {
    let config = DeflateConfig::default();
    config.server_negotiate(&config.client_offers()).unwrap().1
}

/// `len` zero bytes compressed at the best level, sync-flushed, tail
/// stripped: about a thousandth of the inflated size.
fn bomb(len: usize) -> Vec<u8> {
    let mut compressor = Compress::new_with_window_bits(Compression::best(), false, 15);
    let zeros = vec![0u8; len];
    let mut out = Vec::with_capacity(len / 500 + 1024);
    compressor
        .compress_vec(&zeros, &mut out, FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn message_too_large(err: &Error) -> bool {
    matches!(err, Error::Limit(LimitError::MessageTooLarge { .. }))
}

// ------------------------------------------------------------------- bombs

#[test]
fn ten_megabyte_bomb_fails_with_1009_within_one_megabyte() {
    const MAX: usize = 1 << 20;
    let payload = bomb(10 << 20);
    assert!(payload.len() < 20_000, "{} compressed bytes", payload.len());
    let mut ext = server();
    let mut out = BytesMut::new();
    let (result, peak) = ALLOCATOR
        .meter()
        .peak_allocation(|| ext.decode(RSV1, &payload, true, &mut out, MAX));
    let err = result.unwrap_err();
    assert!(message_too_large(&err), "{err:?}");
    assert_eq!(err.close_code().0, 1009);
    assert_eq!(out.len(), MAX);
    assert!(out.capacity() <= MAX, "capacity {}", out.capacity());
    // The output buffer plus the decompressor (window and tables, well under
    // 100 KiB) plus one growth copy; never the 10 MiB the bomb inflates to.
    assert!(peak < 2 * MAX + 200 * 1024, "peak {peak} bytes");
}

#[test]
fn bomb_spread_over_many_frames_fails_mid_message() {
    const MAX: usize = 256 * 1024;
    let payload = bomb(4 << 20);
    let mut ext = server();
    let mut out = BytesMut::new();
    let frames: Vec<&[u8]> = payload.chunks(100).collect();
    let mut failed_at = None;
    for (i, frame) in frames.iter().enumerate() {
        let fin = i + 1 == frames.len();
        if let Err(err) = ext.decode(RSV1, frame, fin, &mut out, MAX) {
            assert!(message_too_large(&err));
            failed_at = Some(i);
            break;
        }
        assert!(out.len() <= MAX);
    }
    let failed_at = failed_at.expect("the bomb must be refused");
    assert!(
        failed_at < frames.len() - 1,
        "refused before the last frame"
    );
    assert!(out.capacity() <= MAX);
}

#[test]
fn limit_is_exact_and_counts_what_out_already_holds() {
    let message: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    // A fresh pair per case: each compressed payload is decoded once.
    let compressed = || {
        let config = DeflateConfig::default().threshold(0);
        let (response, server) = config.server_negotiate(&config.client_offers()).unwrap();
        let mut client = config.client_accept(&[response]).unwrap().unwrap();
        match client
            .encode(DataKind::Binary, &message, true, true)
            .unwrap()
        {
            Encoded::Transformed { payload, .. } => (server, payload),
            Encoded::PassThrough => unreachable!("threshold 0"),
        }
    };

    // Exactly the limit fits.
    let (mut server, payload) = compressed();
    let mut out = BytesMut::new();
    server
        .decode(RSV1, &payload, true, &mut out, message.len())
        .unwrap();
    assert_eq!(&out[..], &message[..]);

    // One byte less does not.
    let (mut server, payload) = compressed();
    let mut out = BytesMut::new();
    let err = server
        .decode(RSV1, &payload, true, &mut out, message.len() - 1)
        .unwrap_err();
    assert!(message_too_large(&err));
    assert_eq!(out.len(), message.len() - 1);

    // Bytes already in `out` (earlier frames of the message) count.
    let (mut server, payload) = compressed();
    let mut out = BytesMut::from(&[1u8; 10][..]);
    let err = server
        .decode(RSV1, &payload, true, &mut out, message.len() + 9)
        .unwrap_err();
    assert!(message_too_large(&err));
    assert_eq!(out.len(), message.len() + 9);
}

// ----------------------------------------------------------------- corrupt

fn assert_corrupt(payload: &[u8]) {
    let mut ext = server();
    let mut out = BytesMut::new();
    let err = ext
        .decode(RSV1, payload, true, &mut out, 1 << 20)
        .expect_err("corrupt data must fail");
    assert!(
        matches!(
            &err,
            Error::Protocol(ProtocolError::Extension {
                extension: "permessage-deflate",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.close_code().0, 1007, "{err}");
}

#[test]
fn reserved_block_type_fails_with_1007() {
    // BFINAL=0, BTYPE=11 (reserved).
    assert_corrupt(&[0x06]);
}

#[test]
fn stored_block_with_bad_length_check_fails_with_1007() {
    assert_corrupt(&[0x00, 0x05, 0x00, 0x00, 0x00, b'H', b'e', b'l', b'l', b'o']);
}

#[test]
fn distance_before_the_stream_start_fails_with_1007() {
    // RFC 7692 §7.2.3.2's second message without the first one: the
    // back-reference points before the start of the window.
    assert_corrupt(&[0xf2, 0x00, 0x11, 0x00, 0x00]);
}

#[test]
fn garbage_fails_with_1007() {
    assert_corrupt(&[0xff; 64]);
}

#[test]
fn after_a_failure_a_fresh_message_starts_cleanly() {
    // The connection fails on the first error; the extension still must not
    // panic or reuse broken state if it is called again.
    let mut ext = server();
    let mut out = BytesMut::new();
    assert!(ext.decode(RSV1, &[0x06], true, &mut out, 1024).is_err());
    let mut out = BytesMut::new();
    ext.decode(
        RSV1,
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        true,
        &mut out,
        1024,
    )
    .unwrap();
    assert_eq!(&out[..], b"Hello");
}

#[test]
fn unknown_rsv_bits_fail_with_1002() {
    let mut ext = server();
    let mut out = BytesMut::new();
    let err = ext
        .decode(0b010, &[0x00], true, &mut out, 1024)
        .unwrap_err();
    assert_eq!(err.close_code().0, 1002);
}

// -------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, cut into arbitrary frames: no panic, output within
    /// the limit, and any error is 1007 (corrupt) or 1009 (too large).
    #[test]
    fn arbitrary_bytes_never_panic_and_respect_max_len(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(0usize..2048, 0..6),
        max_len in 0usize..70_000,
        bits in 8u8..=15,
        no_context_takeover in any::<bool>(),
        messages in 1usize..3,
    ) {
        let client = DeflateConfig::default()
            .max_window_bits(bits)
            .no_context_takeover(no_context_takeover);
        let (_, mut ext) = DeflateConfig::default()
            .server_negotiate(&client.client_offers())
            .unwrap();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.sort_unstable();
        'messages: for _ in 0..messages {
            let mut out = BytesMut::new();
            let mut start = 0;
            let ends = cuts.iter().copied().chain([data.len()]);
            let count = cuts.len() + 1;
            for (i, end) in ends.enumerate() {
                let result = ext.decode(RSV1, &data[start..end], i + 1 == count, &mut out, max_len);
                prop_assert!(out.len() <= max_len);
                prop_assert!(out.capacity() <= max_len.max(4096));
                if let Err(err) = result {
                    let code = err.close_code().0;
                    prop_assert!(code == 1007 || code == 1009, "{}", err);
                    break 'messages;
                }
                start = end;
            }
        }
    }

}

proptest! {
    // Each case builds compressors for up to three messages; 64 cases keep
    // the debug build under a few seconds.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Compressed messages cut into arbitrary frames round-trip, for every
    /// window size and context takeover setting, across several messages.
    #[test]
    fn compressed_messages_round_trip_in_arbitrary_frames(
        messages in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000),
            1..4,
        ),
        cut_seed in any::<u64>(),
        bits in 8u8..=15,
        no_context_takeover in any::<bool>(),
        level in 0u32..=9,
    ) {
        let config = DeflateConfig::default()
            .max_window_bits(bits)
            .peer_max_window_bits(bits)
            .no_context_takeover(no_context_takeover)
            .level(level)
            .threshold(0);
        let (response, mut server) = config.server_negotiate(&config.client_offers()).unwrap();
        let mut client = config.client_accept(&[response]).unwrap().unwrap();
        let mut seed = cut_seed | 1;
        for message in &messages {
            let Encoded::Transformed { payload, .. } =
                client.encode(DataKind::Binary, message, true, true).unwrap()
            else {
                unreachable!("threshold 0");
            };
            let mut out = BytesMut::new();
            let mut rest = &payload[..];
            loop {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let take = (seed as usize % 64).min(rest.len());
                let (frame, tail) = rest.split_at(take);
                rest = tail;
                server.decode(RSV1, frame, rest.is_empty(), &mut out, message.len()).unwrap();
                if rest.is_empty() {
                    break;
                }
            }
            prop_assert_eq!(&out[..], &message[..]);
        }
    }
}
