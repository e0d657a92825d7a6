//! The permessage-deflate data path (RFC 7692 §7.2): encoder of one role,
//! decoder of the other.

use bytes::BytesMut;
use switchboard_proto::deflate::{DeflateConfig, PerMessageDeflate};
use switchboard_proto::extension::RSV1;
use switchboard_proto::{DataKind, Encoded, Extension, ExtensionOffer};

/// A negotiated (client, server) pair.
fn pair(client: &DeflateConfig, server: &DeflateConfig) -> (PerMessageDeflate, PerMessageDeflate) {
    let (response, server_ext) = server.server_negotiate(&client.client_offers()).unwrap();
    let client_ext = client.client_accept(&[response]).unwrap().unwrap();
    (client_ext, server_ext)
}

/// A pair where both directions use `bits` and the given context takeover.
fn symmetric_pair(bits: u8, no_context_takeover: bool) -> (PerMessageDeflate, PerMessageDeflate) {
    let config = DeflateConfig::default()
        .max_window_bits(bits)
        .peer_max_window_bits(bits)
        .no_context_takeover(no_context_takeover)
        .request_peer_no_context_takeover(no_context_takeover)
        .threshold(0);
    pair(&config, &config)
}

/// Encodes a whole message; `None` for pass-through.
fn encode(ext: &mut PerMessageDeflate, message: &[u8]) -> Option<Vec<u8>> {
    match ext.encode(DataKind::Text, message, true, true).unwrap() {
        Encoded::PassThrough => None,
        Encoded::Transformed { rsv, payload } => {
            assert_eq!(rsv, RSV1);
            Some(payload.to_vec())
        }
    }
}

fn decode_frames(ext: &mut PerMessageDeflate, frames: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for (i, frame) in frames.iter().enumerate() {
        ext.decode(RSV1, frame, i + 1 == frames.len(), &mut out, usize::MAX)
            .unwrap();
    }
    out.to_vec()
}

fn decode(ext: &mut PerMessageDeflate, payload: &[u8]) -> Vec<u8> {
    decode_frames(ext, &[payload])
}

/// Text that compresses well, like JSON traffic.
fn json(seed: usize, len: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut i = seed;
    while text.len() < len {
        text.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"price\":{}.{:02}}},",
            i % 17,
            i * 7 % 1000,
            i % 100
        ));
        i += 1;
    }
    text.truncate(len);
    text.into_bytes()
}

/// Bytes that do not compress (xorshift).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn rfc7692_7_2_3_1_hello_in_one_block() {
    let (mut client, mut server) = symmetric_pair(15, false);
    let payload = encode(&mut client, b"Hello").unwrap();
    assert_eq!(payload, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(decode(&mut server, &payload), b"Hello");
}

#[test]
fn rfc7692_7_2_3_1_hello_fragmented() {
    let (_, mut server) = symmetric_pair(15, false);
    let frames: [&[u8]; 2] = [&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]];
    assert_eq!(decode_frames(&mut server, &frames), b"Hello");
}

#[test]
fn rfc7692_7_2_3_2_sharing_the_window() {
    let (mut client, mut server) = symmetric_pair(15, false);
    assert_eq!(
        encode(&mut client, b"Hello").unwrap(),
        [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    // The second "Hello" is a back-reference into the first message.
    assert_eq!(
        encode(&mut client, b"Hello").unwrap(),
        [0xf2, 0x00, 0x11, 0x00, 0x00]
    );
    assert_eq!(
        decode(&mut server, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        b"Hello"
    );
    assert_eq!(
        decode(&mut server, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
        b"Hello"
    );
}

#[test]
fn rfc7692_no_context_takeover_repeats_the_first_encoding() {
    let (mut client, mut server) = symmetric_pair(15, true);
    for _ in 0..3 {
        let payload = encode(&mut client, b"Hello").unwrap();
        assert_eq!(payload, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(decode(&mut server, &payload), b"Hello");
    }
    // A peer that promised no context takeover but refers back anyway is
    // caught: the decoder forgot the previous message.
    let (mut sharing, _) = symmetric_pair(15, false);
    let first = encode(&mut sharing, b"Hello").unwrap();
    let second = encode(&mut sharing, b"Hello").unwrap();
    assert_eq!(decode(&mut server, &first), b"Hello");
    let mut out = BytesMut::new();
    let err = server
        .decode(RSV1, &second, true, &mut out, usize::MAX)
        .unwrap_err();
    assert_eq!(err.close_code().0, 1007);
}

#[test]
fn rfc7692_7_2_3_3_stored_block() {
    let (_, mut server) = symmetric_pair(15, false);
    let payload = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(decode(&mut server, &payload), b"Hello");
}

#[test]
fn rfc7692_7_2_3_4_bfinal_block_then_more_messages() {
    let (_, mut server) = symmetric_pair(15, false);
    let payload = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(decode(&mut server, &payload), b"Hello");
    assert_eq!(decode(&mut server, &payload), b"Hello");
    // A normal message after a BFINAL one starts from a fresh stream.
    let fresh = symmetric_pair(15, true)
        .0
        .encode(DataKind::Text, b"Hello there", true, true);
    let Ok(Encoded::Transformed { payload, .. }) = fresh else {
        panic!("expected compression")
    };
    assert_eq!(decode(&mut server, &payload), b"Hello there");
}

#[test]
fn rfc7692_7_2_3_5_two_deflate_blocks_in_one_message() {
    let (_, mut server) = symmetric_pair(15, false);
    let payload = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(decode(&mut server, &payload), b"Hello");
}

#[test]
fn empty_message_round_trips() {
    for no_context_takeover in [false, true] {
        let (mut client, mut server) = symmetric_pair(15, no_context_takeover);
        for _ in 0..2 {
            let payload = encode(&mut client, b"").unwrap();
            assert_eq!(payload, [0x00]);
            assert!(decode(&mut server, &payload).is_empty());
        }
    }
}

#[test]
fn every_window_size_round_trips_both_ways_with_and_without_context_takeover() {
    let messages = [
        json(0, 100),
        json(1, 5_000),
        noise(7, 3_000),
        json(2, 200_000),
        Vec::new(),
        json(0, 100),
        noise(9, 70_000),
    ];
    for bits in 8..=15u8 {
        for no_context_takeover in [false, true] {
            let (mut client, mut server) = symmetric_pair(bits, no_context_takeover);
            assert_eq!(client.params().outgoing.max_window_bits, bits);
            assert_eq!(server.params().outgoing.max_window_bits, bits);
            for message in &messages {
                let up = encode(&mut client, message).unwrap();
                assert_eq!(&decode(&mut server, &up), message, "bits {bits}");
                let down = encode(&mut server, message).unwrap();
                assert_eq!(&decode(&mut client, &down), message, "bits {bits}");
            }
        }
    }
}

#[test]
fn context_takeover_compresses_repeats_across_messages() {
    let message = json(3, 2_000);
    let (mut sharing, _) = symmetric_pair(15, false);
    let (mut fresh, _) = symmetric_pair(15, true);
    let first_shared = encode(&mut sharing, &message).unwrap();
    let second_shared = encode(&mut sharing, &message).unwrap();
    let first_fresh = encode(&mut fresh, &message).unwrap();
    let second_fresh = encode(&mut fresh, &message).unwrap();
    assert_eq!(first_fresh, second_fresh);
    assert_eq!(first_shared, first_fresh);
    assert!(second_shared.len() < first_shared.len() / 10);
}

#[test]
fn mixed_compressed_and_uncompressed_messages() {
    let config = DeflateConfig::default();
    let (mut client, mut server) = pair(&config, &config);
    let mut compressed = 0;
    for i in 0..40 {
        let message = if i % 3 == 0 {
            json(i, 10)
        } else {
            json(i, 500 + i * 10)
        };
        match encode(&mut client, &message) {
            // The receiver sees an uncompressed message; the decoder is not
            // involved and its context is unaffected.
            None => assert!(message.len() < config.get_threshold()),
            Some(payload) => {
                compressed += 1;
                assert_eq!(decode(&mut server, &payload), message);
            }
        }
    }
    assert_eq!(compressed, 26);
}

#[test]
fn threshold_applies_to_whole_messages_only() {
    let config = DeflateConfig::default().threshold(100);
    let (mut client, mut server) = pair(&config, &config);
    assert_eq!(
        client
            .encode(DataKind::Text, &json(0, 99), true, true)
            .unwrap(),
        Encoded::PassThrough
    );
    assert!(encode(&mut client, &json(0, 100)).is_some());
    // A streamed message is compressed whatever the size of its first piece.
    let Encoded::Transformed { rsv, payload } =
        client.encode(DataKind::Text, b"tiny", true, false).unwrap()
    else {
        panic!("streamed messages are always compressed")
    };
    assert_eq!(rsv, RSV1);
    let Encoded::Transformed { payload: last, .. } =
        client.encode(DataKind::Text, b" end", false, true).unwrap()
    else {
        panic!("later pieces of a compressed message are compressed")
    };
    assert_eq!(decode_frames(&mut server, &[&payload, &last]), b"tiny end");
}

#[test]
fn streamed_message_pieces_decode_as_they_arrive() {
    for no_context_takeover in [false, true] {
        let (mut client, mut server) = symmetric_pair(12, no_context_takeover);
        for round in 0..3 {
            let pieces = [
                json(round, 3_000),
                json(round + 1, 10),
                Vec::new(),
                json(round, 8_000),
            ];
            let mut out = BytesMut::new();
            let mut expected = Vec::new();
            for (i, piece) in pieces.iter().enumerate() {
                let (first, fin) = (i == 0, i + 1 == pieces.len());
                let Encoded::Transformed { rsv, payload } =
                    client.encode(DataKind::Binary, piece, first, fin).unwrap()
                else {
                    panic!("streamed pieces are compressed")
                };
                assert_eq!(rsv, RSV1);
                // Every piece is sync-flushed: its data is available before
                // the next frame arrives.
                server
                    .decode(RSV1, &payload, fin, &mut out, usize::MAX)
                    .unwrap();
                expected.extend_from_slice(piece);
                assert_eq!(&out[..], &expected[..]);
            }
        }
    }
}

#[test]
fn compressed_payload_can_be_split_into_frames_anywhere() {
    let message = json(5, 4_000);
    let (mut client, _) = symmetric_pair(15, true);
    let payload = encode(&mut client, &message).unwrap();
    for cut in 0..=payload.len() {
        let (_, mut server) = symmetric_pair(15, true);
        let (a, b) = payload.split_at(cut);
        assert_eq!(decode_frames(&mut server, &[a, b]), message, "cut {cut}");
    }
    let (_, mut server) = symmetric_pair(15, true);
    let bytes: Vec<&[u8]> = payload.chunks(1).collect();
    assert_eq!(decode_frames(&mut server, &bytes), message);
}

#[test]
fn eight_bit_peer_output_is_decoded() {
    // A zlib-based peer limited to 8 bits compresses with zlib's 9-bit
    // window (whose matches stay within 250 bytes).
    let (_, mut server) = pair(
        &DeflateConfig::default().max_window_bits(8),
        &DeflateConfig::default().peer_max_window_bits(8),
    );
    assert_eq!(server.params().incoming.max_window_bits, 8);
    let message = json(4, 4_000);
    let mut deflate = flate2::Compress::new_with_window_bits(flate2::Compression::best(), false, 9);
    let mut compressed = Vec::with_capacity(10_000);
    deflate
        .compress_vec(&message, &mut compressed, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(compressed.ends_with(&[0x00, 0x00, 0xff, 0xff]));
    compressed.truncate(compressed.len() - 4);
    assert_eq!(decode(&mut server, &compressed), message);
}

#[test]
fn offer_for_8_bits_is_answered_with_8() {
    let offer = ExtensionOffer::new("permessage-deflate")
        .with_param("server_max_window_bits", Some("8"))
        .with_param("client_max_window_bits", Some("8"));
    let (response, ext) = DeflateConfig::default().server_negotiate(&[offer]).unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"
    );
    assert_eq!(ext.params().outgoing.max_window_bits, 8);
    assert_eq!(ext.params().incoming.max_window_bits, 8);
}
