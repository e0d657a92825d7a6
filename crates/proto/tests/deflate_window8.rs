//! Window bits 8: zlib refuses an 8-bit raw window, so we compress with a
//! 9-bit zlib window whose matches never reach farther back than 250 bytes.
//! These tests decode our output with an independent DEFLATE decoder that
//! records every match distance, and check that none exceeds 256 bytes,
//! i.e. that a peer with an 8-bit window can inflate everything we send.
//! (zlib-rs' own inflater always keeps a 32 KiB window, so it cannot check
//! this.)

use bytes::BytesMut;
use switchboard_proto::deflate::{DeflateConfig, PerMessageDeflate};
use switchboard_proto::extension::RSV1;
use switchboard_proto::{DataKind, Encoded, Extension};

/// A minimal RFC 1951 decoder (after zlib's `puff`) that keeps the whole
/// history and the largest back-reference distance seen.
struct CheckingInflater {
    history: Vec<u8>,
    max_distance: usize,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buffer: u64,
    count: u32,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<u32, String> {
        while self.count < n {
            let byte = *self.data.get(self.pos).ok_or("out of input")?;
            self.pos += 1;
            self.buffer |= u64::from(byte) << self.count;
            self.count += 8;
        }
        let value = (self.buffer & ((1 << n) - 1)) as u32;
        self.buffer >>= n;
        self.count -= n;
        Ok(value)
    }

    fn align(&mut self) {
        self.buffer = 0;
        self.count = 0;
    }

    fn exhausted(&self) -> bool {
        self.pos == self.data.len() && self.count < 8
    }
}

/// A canonical Huffman code: counts per length and symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut counts = [0u16; 16];
        for &len in lengths {
            counts[len as usize] += 1;
        }
        counts[0] = 0;
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                symbols[offsets[len as usize] as usize] = symbol as u16;
                offsets[len as usize] += 1;
            }
        }
        Huffman { counts, symbols }
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.need(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - count < first {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code".into())
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

impl CheckingInflater {
    fn new() -> Self {
        CheckingInflater {
            history: Vec::new(),
            max_distance: 0,
        }
    }

    /// Inflates one permessage-deflate payload (plus the tail) and returns
    /// the message.
    fn message(&mut self, payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut data = payload.to_vec();
        data.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        let start = self.history.len();
        let mut bits = Bits {
            data: &data,
            pos: 0,
            buffer: 0,
            count: 0,
        };
        while !bits.exhausted() {
            let _final_block = bits.need(1)?;
            match bits.need(2)? {
                0 => self.stored(&mut bits)?,
                1 => {
                    let mut lengths = [0u8; 288];
                    lengths[..144].fill(8);
                    lengths[144..256].fill(9);
                    lengths[256..280].fill(7);
                    lengths[280..].fill(8);
                    self.codes(&mut bits, &Huffman::new(&lengths), &Huffman::new(&[5; 30]))?;
                }
                2 => {
                    let (literals, distances) = Self::dynamic_tables(&mut bits)?;
                    self.codes(&mut bits, &literals, &distances)?;
                }
                _ => return Err("reserved block type".into()),
            }
        }
        Ok(self.history[start..].to_vec())
    }

    fn stored(&mut self, bits: &mut Bits) -> Result<(), String> {
        bits.align();
        let len = bits.need(16)? as usize;
        let nlen = bits.need(16)? as usize;
        if len != !nlen & 0xffff {
            return Err("stored length mismatch".into());
        }
        for _ in 0..len {
            let byte = bits.need(8)? as u8;
            self.history.push(byte);
        }
        Ok(())
    }

    fn dynamic_tables(bits: &mut Bits) -> Result<(Huffman, Huffman), String> {
        const ORDER: [usize; 19] = [
            16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
        ];
        let literal_count = bits.need(5)? as usize + 257;
        let distance_count = bits.need(5)? as usize + 1;
        let code_count = bits.need(4)? as usize + 4;
        let mut code_lengths = [0u8; 19];
        for &index in &ORDER[..code_count] {
            code_lengths[index] = bits.need(3)? as u8;
        }
        let code = Huffman::new(&code_lengths);
        let mut lengths = Vec::new();
        while lengths.len() < literal_count + distance_count {
            let symbol = code.decode(bits)?;
            let (value, repeat) = match symbol {
                0..=15 => (symbol as u8, 1),
                16 => (
                    *lengths.last().ok_or("repeat without length")?,
                    3 + bits.need(2)?,
                ),
                17 => (0, 3 + bits.need(3)?),
                _ => (0, 11 + bits.need(7)?),
            };
            lengths.extend(std::iter::repeat_n(value, repeat as usize));
        }
        Ok((
            Huffman::new(&lengths[..literal_count]),
            Huffman::new(&lengths[literal_count..literal_count + distance_count]),
        ))
    }

    fn codes(
        &mut self,
        bits: &mut Bits,
        literals: &Huffman,
        distances: &Huffman,
    ) -> Result<(), String> {
        loop {
            let symbol = literals.decode(bits)? as usize;
            match symbol {
                0..=255 => self.history.push(symbol as u8),
                256 => return Ok(()),
                _ => {
                    let index = symbol - 257;
                    let len = LENGTH_BASE[index] as usize
                        + bits.need(u32::from(LENGTH_EXTRA[index]))? as usize;
                    let code = distances.decode(bits)? as usize;
                    let distance = DISTANCE_BASE[code] as usize
                        + bits.need(u32::from(DISTANCE_EXTRA[code]))? as usize;
                    if distance > self.history.len() {
                        return Err("distance before the start of the stream".into());
                    }
                    self.max_distance = self.max_distance.max(distance);
                    for _ in 0..len {
                        let byte = self.history[self.history.len() - distance];
                        self.history.push(byte);
                    }
                }
            }
        }
    }
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// Repeats at distances of 200 and 300 bytes: the first are fair game for
/// an 8-bit window, the second are not.
fn near_and_far_repeats(len: usize) -> Vec<u8> {
    let near = noise(1, 200);
    let far = noise(2, 300);
    let mut data = Vec::new();
    while data.len() < len {
        data.extend(near.iter().cycle().take(1_000));
        data.extend(far.iter().cycle().take(1_500));
    }
    data.truncate(len);
    data
}

fn json(len: usize) -> Vec<u8> {
    let mut text = String::new();
    for i in 0.. {
        if text.len() >= len {
            break;
        }
        text.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item {}\",\"ok\":true}}",
            i % 13
        ));
    }
    text.truncate(len);
    text.into_bytes()
}

fn compress(ext: &mut PerMessageDeflate, message: &[u8]) -> Vec<u8> {
    match ext.encode(DataKind::Binary, message, true, true).unwrap() {
        Encoded::Transformed { payload, .. } => payload.to_vec(),
        Encoded::PassThrough => panic!("threshold is 0"),
    }
}

#[test]
fn checker_decodes_rfc_examples() {
    let mut checker = CheckingInflater::new();
    assert_eq!(
        checker
            .message(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
            .unwrap(),
        b"Hello"
    );
    assert_eq!(
        checker.message(&[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
        b"Hello"
    );
    assert_eq!(checker.max_distance, 5);
}

#[test]
fn checker_sees_far_matches_of_a_15_bit_window() {
    let config = DeflateConfig::default().threshold(0);
    let (response, mut server) = config.server_negotiate(&config.client_offers()).unwrap();
    assert_eq!(response.to_string(), "permessage-deflate");
    let message = near_and_far_repeats(20_000);
    let payload = compress(&mut server, &message);
    let mut checker = CheckingInflater::new();
    assert_eq!(checker.message(&payload).unwrap(), message);
    assert!(checker.max_distance > 256, "{}", checker.max_distance);
}

#[test]
fn eight_bit_window_output_never_refers_beyond_256_bytes() {
    for level in 0..=9 {
        for no_context_takeover in [false, true] {
            let client = DeflateConfig::default()
                .max_window_bits(8)
                .peer_max_window_bits(8)
                .no_context_takeover(no_context_takeover)
                .level(level)
                .threshold(0);
            let server = client.clone();
            let (response, mut server_ext) =
                server.server_negotiate(&client.client_offers()).unwrap();
            let mut client_ext = client.client_accept(&[response]).unwrap().unwrap();
            assert_eq!(client_ext.params().outgoing.max_window_bits, 8);
            assert_eq!(server_ext.params().outgoing.max_window_bits, 8);

            let mut peer_of_client = CheckingInflater::new();
            let mut peer_of_server = CheckingInflater::new();
            let mut compressed = 0;
            let mut original = 0;
            for message in [near_and_far_repeats(20_000), json(5_000), json(300)] {
                for client_sends in [true, false] {
                    let (sender, receiver, checker) = if client_sends {
                        (&mut client_ext, &mut server_ext, &mut peer_of_client)
                    } else {
                        (&mut server_ext, &mut client_ext, &mut peer_of_server)
                    };
                    let payload = compress(sender, &message);
                    assert_eq!(checker.message(&payload).unwrap(), message);
                    let mut out = BytesMut::new();
                    receiver
                        .decode(RSV1, &payload, true, &mut out, usize::MAX)
                        .unwrap();
                    assert_eq!(&out[..], &message[..]);
                    compressed += payload.len();
                    original += message.len();
                }
            }
            assert!(
                peer_of_client.max_distance <= 256 && peer_of_server.max_distance <= 256,
                "level {level}: distances {} {}",
                peer_of_client.max_distance,
                peer_of_server.max_distance
            );
            if level > 0 {
                // An 8-bit window still compresses the near repeats and the JSON;
                // the far repeats are out of its reach.
                assert!(
                    compressed * 5 < original * 4,
                    "level {level}: {compressed}/{original}"
                );
            }
        }
    }
}
