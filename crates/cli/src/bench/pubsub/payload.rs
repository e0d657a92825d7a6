//! Self-checking publications.
//!
//! A publication is printable ASCII and a JSON string literal (so that the
//! Centrifugo JSON form can embed it as `data` unchanged, and every protocol
//! carries the very same bytes):
//!
//! ```text
//! "p<publisher:4 hex>c<channel:6 hex>s<sequence:16 hex>t<send time:16 hex><padding>"
//! ```
//!
//! The send time is nanoseconds since the run's start on the load
//! generator's monotonic clock (publishers and subscribers share the
//! process). The padding brings the publication to its exact size and is a
//! window into a fixed alphabet that starts at an offset given by the
//! sequence number, so every byte of a delivery is checked, not only its
//! header: one comparison against a precomputed table.

use thiserror::Error;

/// Bytes before the padding: `"`, then `p`+4, `c`+6, `s`+16 and `t`+16.
const HEADER_LEN: usize = 1 + 5 + 7 + 17 + 17;
/// The smallest publication: the header and the closing quote.
pub const MIN_PUBSUB_PAYLOAD: usize = HEADER_LEN + 1;
/// The padding alphabet: 61 characters, a prime period that never lines up
/// with power-of-two sizes.
const ALPHABET: &[u8; 61] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy";

/// What a publication says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The publisher's number.
    pub publisher: u16,
    /// The channel's number.
    pub channel: u32,
    /// The publisher's sequence number on this channel, from 0.
    pub sequence: u64,
    /// When it was sent, in nanoseconds since the run's start.
    pub sent_nanos: u64,
}

/// Why a delivery is not a publication of this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ContentError {
    /// The size differs from `--size`.
    #[error("the delivery is {actual} bytes, but every publication is {expected}: the server truncated or padded it")]
    Length {
        /// The configured size.
        expected: usize,
        /// What arrived.
        actual: usize,
    },
    /// The header is not the publication format.
    #[error("the delivery's header is not a publication header: the server altered or mixed up payloads")]
    Header,
    /// The padding differs from the one the sequence number implies.
    #[error("the delivery's padding differs from what its sequence number implies: the server altered the payload")]
    Padding,
}

/// Builds and checks the publications of one run (all of one size).
#[derive(Debug, Clone)]
pub struct PublicationPattern {
    size: usize,
    /// Padding source: the padding of sequence `n` is
    /// `table[n % 61..][..size - MIN_PUBSUB_PAYLOAD]`.
    table: Vec<u8>,
}

impl PublicationPattern {
    /// A pattern for publications of exactly `size` bytes (at least
    /// [`MIN_PUBSUB_PAYLOAD`]).
    pub fn new(size: usize) -> Self {
        assert!(
            size >= MIN_PUBSUB_PAYLOAD,
            "publication size below MIN_PUBSUB_PAYLOAD"
        );
        let table = (0..size - MIN_PUBSUB_PAYLOAD + ALPHABET.len())
            .map(|i| ALPHABET[i % ALPHABET.len()])
            .collect();
        PublicationPattern { size, table }
    }

    /// Bytes per publication.
    pub fn size(&self) -> usize {
        self.size
    }

    fn padding(&self, sequence: u64) -> &[u8] {
        let start = (sequence % ALPHABET.len() as u64) as usize;
        &self.table[start..start + self.size - MIN_PUBSUB_PAYLOAD]
    }

    /// Appends the publication `header` describes to `out`.
    pub fn write_to(&self, header: &Header, out: &mut Vec<u8>) {
        out.reserve(self.size);
        out.extend_from_slice(b"\"p");
        push_hex(out, u64::from(header.publisher), 4);
        out.push(b'c');
        push_hex(out, u64::from(header.channel), 6);
        out.push(b's');
        push_hex(out, header.sequence, 16);
        out.push(b't');
        push_hex(out, header.sent_nanos, 16);
        out.extend_from_slice(self.padding(header.sequence));
        out.push(b'"');
    }

    /// Checks every byte of `payload` and returns its header.
    pub fn parse(&self, payload: &[u8]) -> Result<Header, ContentError> {
        if payload.len() != self.size {
            return Err(ContentError::Length {
                expected: self.size,
                actual: payload.len(),
            });
        }
        let field = |marker: u8, at: usize, digits: usize| -> Result<u64, ContentError> {
            if payload[at] != marker {
                return Err(ContentError::Header);
            }
            parse_hex(&payload[at + 1..at + 1 + digits]).ok_or(ContentError::Header)
        };
        if payload[0] != b'"' || payload[self.size - 1] != b'"' {
            return Err(ContentError::Header);
        }
        let publisher = field(b'p', 1, 4)? as u16;
        let channel = field(b'c', 6, 6)? as u32;
        let sequence = field(b's', 13, 16)?;
        let sent_nanos = field(b't', 30, 16)?;
        if &payload[HEADER_LEN..self.size - 1] != self.padding(sequence) {
            return Err(ContentError::Padding);
        }
        Ok(Header {
            publisher,
            channel,
            sequence,
            sent_nanos,
        })
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, value: u64, digits: usize) {
    for shift in (0..digits).rev() {
        out.push(HEX[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some(value << 4 | u64::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(sequence: u64) -> Header {
        Header {
            publisher: 0x12,
            channel: 0xabcde,
            sequence,
            sent_nanos: 0x0123_4567_89ab_cdef,
        }
    }

    #[test]
    fn publications_round_trip_at_every_size() {
        for size in [MIN_PUBSUB_PAYLOAD, 100, 1024] {
            let pattern = PublicationPattern::new(size);
            for sequence in [0, 1, 60, 61, 1 << 40] {
                let mut out = Vec::new();
                pattern.write_to(&header(sequence), &mut out);
                assert_eq!(out.len(), size);
                assert!(out.is_ascii());
                assert!(
                    serde_json::from_slice::<String>(&out).is_ok(),
                    "not a JSON string"
                );
                assert_eq!(pattern.parse(&out), Ok(header(sequence)));
            }
        }
    }

    #[test]
    fn any_altered_byte_is_caught() {
        let pattern = PublicationPattern::new(100);
        let mut good = Vec::new();
        pattern.write_to(&header(7), &mut good);
        for index in 0..good.len() {
            let mut bad = good.clone();
            bad[index] ^= 0x01;
            // A header digit flipped to another digit still parses, but then
            // the padding no longer matches (sequence) or the header says
            // another publisher/channel/time, which the checker rejects.
            match pattern.parse(&bad) {
                Err(_) => {}
                Ok(parsed) => assert_ne!(parsed, header(7), "byte {index} flip went unseen"),
            }
        }
        assert_eq!(
            pattern.parse(&good[..99]),
            Err(ContentError::Length {
                expected: 100,
                actual: 99
            })
        );
    }

    #[test]
    fn padding_depends_on_the_sequence() {
        let pattern = PublicationPattern::new(100);
        let mut one = Vec::new();
        pattern.write_to(&header(1), &mut one);
        let mut two = Vec::new();
        pattern.write_to(&header(2), &mut two);
        assert_ne!(one[HEADER_LEN..], two[HEADER_LEN..]);
    }
}
