//! Frames built and decoded by hand, byte by byte from RFC 6455 §5.2,
//! independently of the crate's own frame codec, so that a bug in the codec
//! cannot hide itself. The one home of the frame-building test helpers:
//! the conformance harness (`tests/common`), the property tests
//! (`tests/properties.rs`) and the connection's unit tests
//! (`src/connection/tests.rs`, through `#[path]`) all use it. It depends on
//! `std` only, so it compiles inside and outside the crate.
#![allow(dead_code)] // each user takes a different subset

/// Continuation frame opcode.
pub const OP_CONT: u8 = 0x0;
/// Text frame opcode.
pub const OP_TEXT: u8 = 0x1;
/// Binary frame opcode.
pub const OP_BINARY: u8 = 0x2;
/// Close frame opcode.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame opcode.
pub const OP_PING: u8 = 0x9;
/// Pong frame opcode.
pub const OP_PONG: u8 = 0xA;

/// The bytes of a frame header announcing `len` payload bytes.
pub fn encode_header(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(14);
    out.push((u8::from(fin) << 7) | ((rsv & 0b111) << 4) | (opcode & 0x0F));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// XORs `data` with the 4-byte masking key (RFC 6455 §5.3), starting at key
/// byte 0.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i];
    }
}

/// One complete frame: header, then the payload, masked when `mask` is set.
pub fn encode_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = encode_header(fin, rsv, opcode, mask, payload.len() as u64);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
    out
}

/// A close frame payload: the 2-byte code followed by the reason bytes.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

// ------------------------------------------------------------- frame decoder

/// A decoded frame, with the payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1-3 as `(first_byte >> 4) & 0b111`.
    pub rsv: u8,
    /// Opcode.
    pub opcode: u8,
    /// Whether the frame was masked (the payload here is unmasked).
    pub masked: bool,
    /// Unmasked payload.
    pub payload: Vec<u8>,
}

impl WireFrame {
    /// The status code of a close frame, `None` for an empty close payload.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, OP_CLOSE, "not a close frame: {self:?}");
        assert_ne!(
            self.payload.len(),
            1,
            "sent a close frame with a 1-byte payload"
        );
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    /// The reason bytes of a close frame.
    pub fn close_reason(&self) -> &[u8] {
        assert_eq!(self.opcode, OP_CLOSE, "not a close frame: {self:?}");
        self.payload.get(2..).unwrap_or(&[])
    }
}

/// Decodes a run of complete frames, unmasking masked payloads. Panics on
/// a truncated frame: every byte must belong to a whole frame.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(
            bytes.len() >= 2,
            "truncated frame header in transmit output"
        );
        let fin = bytes[0] & 0x80 != 0;
        let rsv = (bytes[0] >> 4) & 0b111;
        let opcode = bytes[0] & 0x0F;
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut pos) = match bytes[1] & 0x7F {
            126 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()), 10),
            short => (u64::from(short), 2),
        };
        let key = masked.then(|| {
            let key: [u8; 4] = bytes[pos..pos + 4].try_into().unwrap();
            pos += 4;
            key
        });
        let len = usize::try_from(len).unwrap();
        assert!(
            bytes.len() >= pos + len,
            "truncated frame payload in transmit output"
        );
        let mut payload = bytes[pos..pos + len].to_vec();
        if let Some(key) = key {
            apply_mask(&mut payload, key);
        }
        frames.push(WireFrame {
            fin,
            rsv,
            opcode,
            masked,
            payload,
        });
        bytes = &bytes[pos + len..];
    }
    frames
}
