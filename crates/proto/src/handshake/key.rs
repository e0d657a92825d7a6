//! The nonce and its SHA-1 answer (RFC 6455 §4.1, §4.2.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

use super::HandshakeError;

/// The GUID appended to the client's key before hashing (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Length in bytes of a decoded `Sec-WebSocket-Key` (RFC 6455 §4.1).
const NONCE_LEN: usize = 16;
/// Length of the base64 text of a 16-byte nonce, padding included.
const ENCODED_KEY_LEN: usize = 24;

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key ++ GUID)), RFC 6455 §4.2.2 step 5.4.
///
/// `key` is the base64 text exactly as sent, not the decoded nonce.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    STANDARD.encode(sha1.finalize())
}

/// A fresh random 16-byte nonce, base64 encoded (24 characters), for
/// `Sec-WebSocket-Key` (RFC 6455 §4.1: "randomly selected for each connection").
///
/// # Panics
///
/// If the operating system's random number generator fails. Use
/// [`ClientRequest::new`](super::ClientRequest::new), which reports that as
/// [`HandshakeError::RandomUnavailable`] instead.
pub fn generate_key() -> String {
    match try_generate_key() {
        Ok(key) => key,
        Err(error) => panic!("{error}"),
    }
}

/// [`generate_key`] that reports a failing random number generator.
pub(super) fn try_generate_key() -> Result<String, HandshakeError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(HandshakeError::RandomUnavailable)?;
    Ok(STANDARD.encode(nonce))
}

/// Whether `key` is the base64 encoding of exactly 16 bytes.
pub(super) fn is_valid_client_key(key: &str) -> bool {
    // RFC 6455 §4.2.1 item 5: a base64-encoded value that, when decoded,
    // is 16 bytes in length. Checking the length first bounds the decode.
    if key.len() != ENCODED_KEY_LEN {
        return false;
    }
    let mut nonce = [0u8; NONCE_LEN + 2];
    matches!(STANDARD.decode_slice(key, &mut nonce), Ok(NONCE_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_sample_key_gives_the_published_answer() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn second_known_key_gives_its_answer() {
        // The widely published example pair (Wikipedia, "WebSocket").
        assert_eq!(
            accept_key(b"x3JJHMbDL1EzLkh9GBhXDw=="),
            "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
        );
        // The same key with `b` as `B` is a different key; its answer was
        // checked against Python's hashlib and base64.
        assert_eq!(
            accept_key(b"x3JJHMBDL1EzLkh9GBhXDw=="),
            "ntUnSKj74tpJFRS3kIUvlT5CJ8k="
        );
    }

    #[test]
    fn generated_keys_are_valid_and_fresh() {
        let first = generate_key();
        let second = generate_key();
        assert_eq!(first.len(), 24);
        assert!(is_valid_client_key(&first));
        assert!(is_valid_client_key(&second));
        assert_ne!(first, second, "two 128-bit nonces must differ");
    }

    #[test]
    fn key_validation_needs_exactly_sixteen_decoded_bytes() {
        assert!(is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
        // 15 and 17 bytes.
        assert!(!is_valid_client_key(&STANDARD.encode([0u8; 15])));
        assert!(!is_valid_client_key(&STANDARD.encode([0u8; 17])));
        // Right length, not base64.
        assert!(!is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ!!"));
        // Missing padding.
        assert!(!is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_client_key(""));
    }
}
