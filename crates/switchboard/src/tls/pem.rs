//! Reading certificates and private keys from PEM, with errors that name
//! the file.

use std::path::Path;

use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// Origin label for PEM that did not come from a file.
pub(crate) const IN_MEMORY: &str = "the in-memory PEM";

/// Reads a whole file, naming it and its expected content on failure.
pub(crate) fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::ReadFile {
        what,
        path: path.display().to_string(),
        source,
    })
}

/// Parses every `CERTIFICATE` block; fails if there is none.
pub(crate) fn certificates(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "certificate";
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(WHAT, origin, &error))?;
    if certs.is_empty() {
        return Err(TlsError::MissingPem {
            what: WHAT,
            marker: "CERTIFICATE",
            origin: origin.to_owned(),
        });
    }
    Ok(certs)
}

/// Parses the first private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(crate) fn private_key(pem: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    const WHAT: &str = "private key";
    PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::MissingPem {
            what: WHAT,
            marker: "PRIVATE KEY",
            origin: origin.to_owned(),
        },
        other => invalid(WHAT, origin, &other),
    })
}

fn invalid(what: &'static str, origin: &str, error: &pem::Error) -> TlsError {
    TlsError::InvalidPem {
        what,
        origin: origin.to_owned(),
        detail: error.to_string(),
    }
}

/// The origin label for a file path.
pub(crate) fn file_origin(path: &Path) -> String {
    format!("`{}`", path.display())
}
