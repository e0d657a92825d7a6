//! Frame header codec (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Only the header is parsed here; payload handling (masking, reassembly,
//! UTF-8) lives in [`crate::connection`]. Checks that depend on the
//! connection (role-based masking, RSV bits owned by an extension, fragment
//! order, limits) are made there too.

use crate::ProtocolError;

/// The longest possible frame header: 2 fixed bytes, an 8-byte extended
/// length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// Longest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode (RFC 6455 §5.2, §11.8). Reserved opcodes are rejected
/// while decoding, so every value of this type is one RFC 6455 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: first frame of a text message.
    Text = 0x1,
    /// 0x2: first frame of a binary message.
    Binary = 0x2,
    /// 0x8: connection close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl OpCode {
    /// Parses the low four bits of a header's first byte.
    pub fn from_u8(value: u8) -> Result<OpCode, ProtocolError> {
        match value {
            0x0 => Ok(OpCode::Continuation),
            0x1 => Ok(OpCode::Text),
            0x2 => Ok(OpCode::Binary),
            0x8 => Ok(OpCode::Close),
            0x9 => Ok(OpCode::Ping),
            0xA => Ok(OpCode::Pong),
            // RFC 6455 §5.2: reserved opcodes MUST fail the connection
            // unless an extension defines them (none we support does).
            other => Err(ProtocolError::ReservedOpcode(other)),
        }
    }

    /// The opcode's wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether this is a control opcode (close, ping, pong): most significant
    /// opcode bit set (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// A decoded frame header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final frame of a message.
    pub fin: bool,
    /// RSV1..RSV3 as a 3-bit number, `(first_byte >> 4) & 0b111`; see
    /// [`crate::extension::RSV1`].
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Declared payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header, and
    /// otherwise the header and its length in bytes (the payload starts
    /// there). Checks that need only the header are made here, each as soon
    /// as the bytes that prove it are present, in a fixed order, so the same
    /// byte stream fails the same way however it is cut into chunks.
    ///
    /// Lengths in a longer encoding than necessary (e.g. 5 in the 16-bit form)
    /// are accepted: RFC 6455 §5.2 says "the minimal number of bytes MUST be
    /// used to encode the length", which obliges the sender; rejecting them
    /// would only break interoperability with lax peers, and the declared
    /// length is bounded by the limits either way.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0b111;
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let short_len = b1 & 0x7F;
        if opcode.is_control() {
            // RFC 6455 §5.5: control frames MUST NOT be fragmented.
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            // RFC 6455 §5.5: control frames MUST have a payload length of 125
            // bytes or less. The 7-bit codes 126/127 announce an extended
            // length, which is always more than 125, so fail on the second
            // byte without waiting for it: the same bytes fail the same way
            // however they are chunked. The error reports the code, not a
            // length this frame was never seen to declare.
            if usize::from(short_len) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong(short_len));
            }
        }
        let (payload_len, len_bytes) = match short_len {
            126 => {
                let Some(ext) = buf.get(2..4) else {
                    return Ok(None);
                };
                (u64::from(u16::from_be_bytes([ext[0], ext[1]])), 2)
            }
            127 => {
                let Some(ext) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(ext);
                let len = u64::from_be_bytes(bytes);
                // RFC 6455 §5.2: the most significant bit MUST be 0.
                if len >> 63 != 0 {
                    return Err(ProtocolError::InvalidPayloadLength);
                }
                (len, 8)
            }
            short => (u64::from(short), 0),
        };
        let mut header_len = 2 + len_bytes;
        let mask = if masked {
            let Some(key) = buf.get(header_len..header_len + 4) else {
                return Ok(None);
            };
            header_len += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// Encodes the header into `out` with the shortest length encoding and
    /// returns how many bytes were written.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
        } else if let Ok(short) = u16::try_from(self.payload_len) {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&short.to_be_bytes());
            len = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            len = 10;
        }
        if let Some(key) = self.mask {
            out[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }

    /// The encoded length of this header.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, fin: bool, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    fn encode(h: &FrameHeader) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(n, h.encoded_len());
        out[..n].to_vec()
    }

    #[test]
    fn rfc_5_7_single_frame_unmasked_hello() {
        let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, n) = FrameHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!(n, 2);
        assert_eq!(h, header(OpCode::Text, true, None, 5));
        assert_eq!(encode(&h), bytes[..2]);
    }

    #[test]
    fn rfc_5_7_single_frame_masked_hello() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = FrameHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!(n, 6);
        assert_eq!(
            h,
            header(OpCode::Text, true, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
        );
        assert_eq!(encode(&h), bytes[..6]);
    }

    #[test]
    fn rfc_5_7_fragmented_hello() {
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let second = [0x80, 0x02, 0x6c, 0x6f];
        let (h, _) = FrameHeader::decode(&first).unwrap().unwrap();
        assert_eq!(h, header(OpCode::Text, false, None, 3));
        let (h, _) = FrameHeader::decode(&second).unwrap().unwrap();
        assert_eq!(h, header(OpCode::Continuation, true, None, 2));
    }

    #[test]
    fn rfc_5_7_ping_and_masked_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, _) = FrameHeader::decode(&ping).unwrap().unwrap();
        assert_eq!(h, header(OpCode::Ping, true, None, 5));
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = FrameHeader::decode(&pong).unwrap().unwrap();
        assert_eq!(
            (h, n),
            (
                header(OpCode::Pong, true, Some([0x37, 0xfa, 0x21, 0x3d]), 5),
                6
            )
        );
    }

    #[test]
    fn rfc_5_7_binary_256_bytes_uses_16_bit_length() {
        let bytes = [0x82, 0x7E, 0x01, 0x00];
        let (h, n) = FrameHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!((h, n), (header(OpCode::Binary, true, None, 256), 4));
        assert_eq!(encode(&h), bytes);
    }

    #[test]
    fn rfc_5_7_binary_64_kib_uses_64_bit_length() {
        let bytes = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let (h, n) = FrameHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!((h, n), (header(OpCode::Binary, true, None, 65536), 10));
        assert_eq!(encode(&h), bytes);
    }

    #[test]
    fn encode_uses_minimal_length_at_every_boundary() {
        for (len, header_len) in [
            (0u64, 2usize),
            (125, 2),
            (126, 4),
            (0xFFFF, 4),
            (0x1_0000, 10),
            (u64::MAX >> 1, 10),
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(OpCode::Binary, true, mask, len);
                let bytes = encode(&h);
                let expected = header_len + if mask.is_some() { 4 } else { 0 };
                assert_eq!(bytes.len(), expected, "len {len}");
                assert_eq!(FrameHeader::decode(&bytes).unwrap(), Some((h, expected)));
            }
        }
    }

    #[test]
    fn non_minimal_lengths_are_accepted() {
        let sixteen = [0x82, 0x7E, 0x00, 0x05];
        let (h, n) = FrameHeader::decode(&sixteen).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 4));
        let sixty_four = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x05];
        let (h, n) = FrameHeader::decode(&sixty_four).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 10));
    }

    #[test]
    fn partial_headers_need_more_bytes() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 9, 8, 7, 6];
        for cut in 0..full.len() {
            assert_eq!(FrameHeader::decode(&full[..cut]), Ok(None), "cut {cut}");
        }
        let (h, n) = FrameHeader::decode(&full).unwrap().unwrap();
        assert_eq!((h.mask, h.payload_len, n), (Some([9, 8, 7, 6]), 65536, 14));
    }

    #[test]
    fn rsv_bits_are_reported() {
        let (h, _) = FrameHeader::decode(&[0xC1, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, 0b100);
        let (h, _) = FrameHeader::decode(&[0xF1, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, 0b111);
        let mut out = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(out[..n], [0xF1, 0x00]);
    }

    #[test]
    fn reserved_opcodes_fail() {
        for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let err = FrameHeader::decode(&[0x80 | op, 0x00]).unwrap_err();
            assert_eq!(err, ProtocolError::ReservedOpcode(op));
            assert_eq!(err.close_code().0, 1002);
        }
    }

    #[test]
    fn top_bit_of_64_bit_length_fails() {
        let bytes = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            FrameHeader::decode(&bytes),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }

    #[test]
    fn control_frame_rules() {
        assert_eq!(
            FrameHeader::decode(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            FrameHeader::decode(&[0x88, 0x7F]),
            Err(ProtocolError::ControlFrameTooLong(127))
        );
        let (h, _) = FrameHeader::decode(&[0x8A, 0x7D]).unwrap().unwrap();
        assert_eq!(h.payload_len, 125);
        assert!(OpCode::Close.is_control() && OpCode::Ping.is_control());
        assert!(!OpCode::Text.is_control() && !OpCode::Continuation.is_control());
    }

    #[test]
    fn oversized_control_frame_fails_on_its_second_byte_and_says_so_truthfully() {
        // A 64 KiB ping: 7-bit code 127, then a 64-bit length of 65536.
        let ping = [0x89, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        for cut in 2..=ping.len() {
            assert_eq!(
                FrameHeader::decode(&ping[..cut]),
                Err(ProtocolError::ControlFrameTooLong(127)),
                "cut {cut}: the same error however the bytes arrive"
            );
        }
        for (code, bytes) in [(126, [0x89, 0x7E]), (127, [0x89, 0x7F])] {
            let message = FrameHeader::decode(&bytes).unwrap_err().to_string();
            assert!(
                message.contains("extended payload length")
                    && message.contains(&format!("code {code}")),
                "{message}"
            );
            // The real length was never read: the message must not pass
            // the 7-bit code off as a byte count.
            assert!(!message.contains(&format!("{code} bytes")), "{message}");
        }
    }
}
