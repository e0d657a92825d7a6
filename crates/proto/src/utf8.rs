//! Incremental, fail-fast UTF-8 validation across fragments (RFC 6455 §8.1).
//!
//! A text message may be split into frames (and a frame into pieces) at any
//! byte, including inside a multi-byte character. [`Utf8Validator`] keeps at
//! most three bytes of an unfinished character between calls and validates
//! everything else in bulk with `simdutf8`.
//!
//! Fail-fast: an error is reported as soon as the bytes that prove it have
//! been fed, including an unfinished character that can no longer become
//! valid (`F4 90`, `ED A0`, `E0 80`, `C0`). The compat API of `simdutf8`
//! gives the same answers as `std::str::from_utf8`, whose `error_len()` is
//! `None` only when the input ends in a prefix of a valid character.

use std::num::NonZeroU8;

/// Text that is not UTF-8 (close code 1007).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8 in text data; the peer sent bytes that are not UTF-8 in a text message")]
pub struct Utf8Error;

/// Validates UTF-8 that arrives in pieces.
#[derive(Debug, Clone)]
pub struct Utf8Validator {
    /// The start of an unfinished character carried over from the last call.
    pending: [u8; 4],
    /// How many bytes of `pending` are used, plus one: never zero, so an
    /// `Option` of a type holding a validator needs no tag of its own
    /// (every connection holds one).
    pending_len_plus_one: NonZeroU8,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            pending: [0; 4],
            pending_len_plus_one: NonZeroU8::MIN,
        }
    }

    /// How many bytes of an unfinished character are carried over.
    fn pending_len(&self) -> usize {
        usize::from(self.pending_len_plus_one.get() - 1)
    }

    /// Carries over `len` bytes (at most 3) of an unfinished character.
    fn set_pending_len(&mut self, len: usize) {
        let len = u8::try_from(len).unwrap_or(u8::MAX - 1);
        self.pending_len_plus_one = NonZeroU8::MIN.saturating_add(len);
    }

    /// Checks the next piece. Fails as soon as the bytes seen so far cannot
    /// be the start of valid UTF-8.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len() > 0 {
            bytes = self.complete_pending(bytes)?;
            if self.pending_len() > 0 {
                // Every byte went into the still unfinished character.
                return Ok(());
            }
        }
        match simdutf8::compat::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(error) if error.error_len().is_none() => {
                // Truncated at the end by a prefix of a valid character.
                let tail = &bytes[error.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.set_pending_len(tail.len());
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// Checks that the text does not end inside a character (call at the
    /// end of the message). Resets the validator for the next message.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let unfinished = self.pending_len() > 0;
        self.reset();
        if unfinished {
            Err(Utf8Error)
        } else {
            Ok(())
        }
    }

    /// Forgets any unfinished character, ready for a new message.
    pub fn reset(&mut self) {
        self.set_pending_len(0);
    }

    /// Whether an unfinished character is carried over.
    pub fn is_mid_character(&self) -> bool {
        self.pending_len() > 0
    }

    /// Adds bytes to the carried-over character; returns the unused rest.
    fn complete_pending<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a [u8], Utf8Error> {
        let have = self.pending_len();
        let width = sequence_width(self.pending[0]);
        let take = (width - have).min(bytes.len());
        self.pending[have..have + take].copy_from_slice(&bytes[..take]);
        let candidate = &self.pending[..have + take];
        match std::str::from_utf8(candidate) {
            Ok(_) => {
                self.set_pending_len(0);
                Ok(&bytes[take..])
            }
            Err(error) if error.error_len().is_none() => {
                self.set_pending_len(candidate.len());
                Ok(&bytes[take..])
            }
            Err(_) => Err(Utf8Error),
        }
    }
}

/// Length of the sequence a valid lead byte starts (pending bytes always
/// begin with one, because only valid prefixes are kept).
fn sequence_width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `prefix` already proves the text invalid (std's view).
    fn provably_invalid(prefix: &[u8]) -> bool {
        matches!(std::str::from_utf8(prefix), Err(e) if e.error_len().is_some())
    }

    fn samples() -> Vec<Vec<u8>> {
        let mut samples: Vec<Vec<u8>> = vec![
            b"Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!".to_vec(),
            "κόσμε ☃ 𝄞 \u{10FFFF} \u{FFFF} \u{E000}".as_bytes().to_vec(),
            vec![0xF4, 0x90, 0x80, 0x80],
            vec![0xED, 0xA0, 0x80],
            vec![0xC0, 0x80],
            vec![0xE0, 0x80, 0x80],
            vec![0xF0, 0x80, 0x80, 0x80],
            vec![0xF5],
            vec![0xFF],
            vec![0x80],
            vec![0xC2],
            vec![0xE2, 0x82],
            vec![0xF0, 0x9D, 0x84],
            b"abc\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80edited".to_vec(),
            b"ok\xF0\x9F\x98\x80\xF0\x9F\x98".to_vec(),
        ];
        // Every 1..4-byte combination of interesting bytes.
        let interesting = [
            0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
            0xF0, 0xF4, 0xF5,
        ];
        for &a in &interesting {
            for &b in &interesting {
                for &c in &interesting {
                    samples.push(vec![a, b, c]);
                    samples.push(vec![a, b, c, 0x80]);
                    samples.push(vec![0x41, a, b, c, 0xBF]);
                }
            }
        }
        // Long inputs so that simdutf8's SIMD path is exercised.
        let long: Vec<u8> = "aé€𝄞".repeat(40).into_bytes();
        samples.push(long.clone());
        let mut broken = long.clone();
        broken[97] = 0xFF;
        samples.push(broken);
        samples
    }

    #[test]
    fn every_prefix_fails_exactly_when_std_proves_it_invalid() {
        for sample in samples() {
            for cut in 0..=sample.len() {
                let prefix = &sample[..cut];
                let expected_invalid = provably_invalid(prefix);
                // Fed whole and fed byte by byte.
                let mut whole = Utf8Validator::new();
                assert_eq!(whole.feed(prefix).is_err(), expected_invalid, "{prefix:x?}");
                let mut bytewise = Utf8Validator::new();
                let first_error = prefix.iter().position(|&b| bytewise.feed(&[b]).is_err());
                assert_eq!(first_error.is_some(), expected_invalid, "{prefix:x?}");
                if let Some(at) = first_error {
                    // Fail fast: the byte that proves it is the one that fails.
                    assert!(provably_invalid(&prefix[..=at]));
                    assert!(!provably_invalid(&prefix[..at]));
                }
                if !expected_invalid {
                    let complete = std::str::from_utf8(prefix).is_ok();
                    assert_eq!(whole.finish().is_ok(), complete, "{prefix:x?}");
                    assert_eq!(bytewise.finish().is_ok(), complete, "{prefix:x?}");
                }
            }
        }
    }

    #[test]
    fn impossible_unfinished_sequences_fail_immediately() {
        for bytes in [
            &[0xF4, 0x90][..],
            &[0xED, 0xA0],
            &[0xC0],
            &[0xE0, 0x80],
            &[0xF0, 0x80],
            &[0xF5],
        ] {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(b"fine"), Ok(()));
            assert_eq!(v.feed(bytes), Err(Utf8Error), "{bytes:x?}");
        }
    }

    #[test]
    fn sequences_cut_at_boundaries_are_fine() {
        let text = "€𝄞".as_bytes();
        let mut v = Utf8Validator::new();
        v.feed(&text[..1]).unwrap();
        assert!(v.is_mid_character());
        v.feed(&text[1..4]).unwrap();
        v.feed(&text[4..6]).unwrap();
        v.feed(&text[6..]).unwrap();
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn finish_rejects_truncated_text_and_resets() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2, 0x82]).unwrap();
        assert_eq!(v.finish(), Err(Utf8Error));
        assert!(!v.is_mid_character());
        v.feed(b"next").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }
}
