//! A minimal streaming parser for the echoes: it checks every echo's
//! header (final data frame, expected opcode and length) and compares the
//! content of a sample of them, without copying or buffering payloads
//! (frames may straddle reads; the header is the only thing ever staged).

use crate::frames::Expected;

/// Why an echo was wrong: the server under test is broken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Fault {
    /// A frame that is not a final data frame of the expected opcode.
    #[error("echo {echo}: frame byte 0x{first:02x}, expected a final frame with opcode {expected}: the server fragments or changes the message kind")]
    Opcode { echo: u64, first: u8, expected: u8 },
    /// A data frame of the wrong length.
    #[error("echo {echo}: payload of {got} bytes, expected {expected}: the server truncates, merges or pads messages")]
    Length { echo: u64, got: u64, expected: u64 },
    /// A sampled echo whose bytes differ from what was sent.
    #[error("echo {echo}: payload differs from what was sent at byte {offset}: the server corrupts data")]
    Content { echo: u64, offset: usize },
    /// The server sent a close frame.
    #[error("the server sent a close frame after {echoes} echoes")]
    Closed { echoes: u64 },
}

/// Longest header: 2 bytes, 8 of extended length, 4 of masking key.
const MAX_HEADER: usize = 14;

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct EchoParser {
    /// A header split across reads, staged until complete.
    header: [u8; MAX_HEADER],
    header_have: usize,
    /// Payload bytes of the current frame not yet seen.
    payload_left: u64,
    /// Position in the expected payload (for content comparison).
    payload_pos: usize,
    /// The current frame's content is compared.
    checking: bool,
    /// The current frame is a control frame (ping/pong): skipped, not counted.
    control: bool,
    /// Data echoes completed on this connection.
    echoes: u64,
    /// Echoes whose content was compared.
    checked: u64,
}

impl EchoParser {
    /// Echoes whose content was compared so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Payload bytes of the current frame that need not be looked at: the
    /// rest of a data frame whose content is not compared (0 otherwise).
    /// The caller may discard up to this many bytes unread and report them
    /// with [`EchoParser::skip`].
    pub fn skippable(&self) -> u64 {
        if self.checking || self.control {
            0
        } else {
            self.payload_left
        }
    }

    /// Payload bytes of the current frame still to be compared (0 when
    /// the current frame is not compared).
    pub fn compared_left(&self) -> u64 {
        if self.checking {
            self.payload_left
        } else {
            0
        }
    }

    /// Accounts for `count` (at most [`EchoParser::skippable`]) payload
    /// bytes discarded unread; returns how many echoes that completed (0 or 1).
    pub fn skip(&mut self, count: u64) -> u64 {
        debug_assert!(count <= self.skippable());
        self.payload_left -= count;
        self.payload_pos += count as usize;
        if self.payload_left == 0 && count > 0 {
            self.frame_done()
        } else {
            0
        }
    }

    /// Consumes `data`; returns how many echoes it completed.
    pub fn feed(&mut self, mut data: &[u8], expected: &Expected) -> Result<u64, Fault> {
        let mut completed = 0;
        while !data.is_empty() {
            if self.payload_left > 0 {
                let take = data.len().min(self.payload_left as usize);
                if self.checking {
                    let want = &expected.payload[self.payload_pos..self.payload_pos + take];
                    if want != &data[..take] {
                        let at = want.iter().zip(data).position(|(a, b)| a != b);
                        return Err(Fault::Content {
                            echo: self.echoes,
                            offset: self.payload_pos + at.unwrap_or(0),
                        });
                    }
                }
                self.payload_pos += take;
                self.payload_left -= take as u64;
                data = &data[take..];
                if self.payload_left == 0 {
                    completed += self.frame_done();
                }
                continue;
            }
            // A header: parse it in place when whole, else stage it.
            let consumed = if self.header_have == 0 && data.len() >= MAX_HEADER {
                let len = header_len(data[1]);
                self.start_frame(&data[..len], expected)?;
                len
            } else {
                let have = self.header_have;
                let need = if have + data.len() >= 2 || have >= 2 {
                    let second = if have >= 2 {
                        self.header[1]
                    } else {
                        data[1 - have]
                    };
                    header_len(second)
                } else {
                    MAX_HEADER
                };
                let take = (need - have).min(data.len());
                self.header[have..have + take].copy_from_slice(&data[..take]);
                self.header_have += take;
                if self.header_have == need {
                    let header = self.header;
                    self.header_have = 0;
                    self.start_frame(&header[..need], expected)?;
                }
                take
            };
            data = &data[consumed..];
            if self.payload_left == 0 && self.header_have == 0 {
                // An empty payload: the frame ended with its header.
                completed += self.frame_done();
            }
        }
        Ok(completed)
    }

    fn start_frame(&mut self, header: &[u8], expected: &Expected) -> Result<(), Fault> {
        let first = header[0];
        let opcode = first & 0x0f;
        let len = match header[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
            127 => u64::from_be_bytes(header[2..10].try_into().expect("8 length bytes")),
            short => u64::from(short),
        };
        self.control = false;
        if opcode == 0x8 {
            return Err(Fault::Closed {
                echoes: self.echoes,
            });
        }
        if opcode == 0x9 || opcode == 0xa {
            // A keepalive ping (or pong) from the server: skip its payload.
            self.control = true;
            self.checking = false;
        } else if first & 0xf0 != 0x80 || opcode != expected.opcode {
            return Err(Fault::Opcode {
                echo: self.echoes,
                first,
                expected: expected.opcode,
            });
        } else if len != expected.payload.len() as u64 {
            return Err(Fault::Length {
                echo: self.echoes,
                got: len,
                expected: expected.payload.len() as u64,
            });
        } else {
            self.checking = self.echoes.is_multiple_of(expected.check_every);
        }
        self.payload_left = len;
        self.payload_pos = 0;
        Ok(())
    }

    /// The current frame is complete: 1 if it was an echo.
    fn frame_done(&mut self) -> u64 {
        if self.control {
            self.control = false;
            return 0;
        }
        if self.checking {
            self.checked += 1;
        }
        self.echoes += 1;
        1
    }
}

/// Header length from its second byte (length code and mask bit).
fn header_len(second: u8) -> usize {
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{encode_frame, payload, MASK_KEY};
    use crate::options::Kind;

    fn expected(size: usize, check_every: u64) -> Expected {
        Expected {
            opcode: 0x2,
            payload: payload(Kind::Binary, size),
            check_every,
        }
    }

    /// Feeds `stream` in pieces of `step` bytes; returns echoes completed.
    fn feed_in_steps(stream: &[u8], step: usize, expected: &Expected) -> Result<u64, Fault> {
        let mut parser = EchoParser::default();
        let mut echoes = 0;
        for piece in stream.chunks(step) {
            echoes += parser.feed(piece, expected)?;
        }
        Ok(echoes)
    }

    #[test]
    fn echoes_are_counted_however_the_reads_split_them() {
        for size in [1, 16, 200, 70_000] {
            let expected = expected(size, 1);
            let frame = encode_frame(0x2, &expected.payload, None);
            let stream = frame.repeat(3);
            for step in [1, 2, 3, 7, 13, 64, 4096, stream.len()] {
                assert_eq!(
                    feed_in_steps(&stream, step, &expected),
                    Ok(3),
                    "size {size} step {step}"
                );
            }
        }
    }

    #[test]
    fn masked_echoes_of_raw_tcp_parse_too() {
        let plain = payload(Kind::Binary, 300);
        let frame = encode_frame(0x2, &plain, Some(MASK_KEY));
        let expected = Expected {
            opcode: 0x2,
            payload: frame[frame.len() - 300..].to_vec(),
            check_every: 1,
        };
        assert_eq!(feed_in_steps(&frame.repeat(2), 5, &expected), Ok(2));
    }

    #[test]
    fn a_wrong_length_or_opcode_is_a_fault() {
        let expected = expected(16, 1);
        let short = encode_frame(0x2, &expected.payload[..15], None);
        assert!(matches!(
            feed_in_steps(&short, 100, &expected),
            Err(Fault::Length { got: 15, .. })
        ));
        let text = encode_frame(0x1, &expected.payload, None);
        assert!(matches!(
            feed_in_steps(&text, 100, &expected),
            Err(Fault::Opcode { .. })
        ));
        let close = encode_frame(0x8, &[3, 232], None);
        assert!(matches!(
            feed_in_steps(&close, 100, &expected),
            Err(Fault::Closed { .. })
        ));
    }

    #[test]
    fn sampled_echoes_are_compared_and_others_only_measured() {
        let expected = expected(64, 2);
        let good = encode_frame(0x2, &expected.payload, None);
        let mut corrupt_payload = expected.payload.clone();
        corrupt_payload[40] ^= 1;
        let corrupt = encode_frame(0x2, &corrupt_payload, None);
        // Echo 0 is sampled: corrupting it is caught, at the right byte.
        assert_eq!(
            feed_in_steps(&corrupt, 9, &expected),
            Err(Fault::Content {
                echo: 0,
                offset: 40
            })
        );
        // Echo 1 is not sampled; echo 2 is.
        let mut stream = [good.clone(), corrupt.clone()].concat();
        assert_eq!(feed_in_steps(&stream, 9, &expected), Ok(2));
        stream.extend_from_slice(&corrupt);
        assert!(matches!(
            feed_in_steps(&stream, 9, &expected),
            Err(Fault::Content { echo: 2, .. })
        ));
    }

    #[test]
    fn unsampled_payloads_can_be_skipped_unread() {
        let expected = expected(1000, 2);
        let frame = encode_frame(0x2, &expected.payload, None);
        let mut parser = EchoParser::default();
        // Echo 0 is compared: nothing may be skipped.
        assert_eq!(parser.feed(&frame[..10], &expected), Ok(0));
        assert_eq!(parser.skippable(), 0);
        assert_eq!(parser.feed(&frame[10..], &expected), Ok(1));
        // Echo 1 is not: after its header, its whole payload may be skipped.
        assert_eq!(parser.feed(&frame[..4], &expected), Ok(0));
        assert_eq!(parser.skippable(), 1000);
        assert_eq!(parser.skip(600), 0);
        assert_eq!(parser.skippable(), 400);
        assert_eq!(parser.skip(400), 1);
        assert_eq!(parser.skippable(), 0);
        // The next header parses where the skipped payload ended.
        assert_eq!(parser.feed(&frame, &expected), Ok(1));
        assert_eq!(parser.checked(), 2);
    }

    #[test]
    fn pings_from_the_server_are_skipped() {
        let expected = expected(16, 1);
        let echo = encode_frame(0x2, &expected.payload, None);
        let stream = [
            encode_frame(0x9, b"keepalive", None),
            echo.clone(),
            encode_frame(0x9, &[], None),
            echo,
        ]
        .concat();
        assert_eq!(feed_in_steps(&stream, 3, &expected), Ok(2));
    }
}
