//! Loading verification keys: an HMAC secret, or an RSA / ECDSA public key
//! given as PEM text or as the path of a PEM file.

use std::path::PathBuf;

use jsonwebtoken::DecodingKey;

/// A key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The HMAC secret is empty.
    #[error("token_hmac_secret_key is empty: set a long random secret")]
    EmptySecret,
    /// A key file could not be read.
    #[error(
        "cannot read the {kind} public key file {path}: {source}; give PEM text or a readable file"
    )]
    Read {
        /// Which key.
        kind: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PEM does not hold a key of the expected kind.
    #[error("the {kind} public key is not a PEM-encoded {kind} public key ({reason}); use the \"-----BEGIN PUBLIC KEY-----\" form")]
    Pem {
        /// Which key.
        kind: &'static str,
        /// What the parser said.
        reason: String,
    },
}

pub(super) fn hmac(secret: &str) -> Result<DecodingKey, KeyError> {
    if secret.is_empty() {
        return Err(KeyError::EmptySecret);
    }
    Ok(DecodingKey::from_secret(secret.as_bytes()))
}

/// PEM text as given, or read from the file it names.
fn pem_text(kind: &'static str, value: &str) -> Result<Vec<u8>, KeyError> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(value.as_bytes().to_vec());
    }
    let path = PathBuf::from(value.trim());
    std::fs::read(&path).map_err(|source| KeyError::Read { kind, path, source })
}

pub(super) fn rsa(value: &str) -> Result<DecodingKey, KeyError> {
    let pem = pem_text("RSA", value)?;
    DecodingKey::from_rsa_pem(&pem).map_err(|error| KeyError::Pem {
        kind: "RSA",
        reason: error.to_string(),
    })
}

pub(super) fn ecdsa(value: &str) -> Result<DecodingKey, KeyError> {
    let pem = pem_text("ECDSA", value)?;
    DecodingKey::from_ec_pem(&pem).map_err(|error| KeyError::Pem {
        kind: "ECDSA",
        reason: error.to_string(),
    })
}
