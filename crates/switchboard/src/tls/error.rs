//! [`TlsError`] and the mapping from rustls' handshake errors to it.

use std::io;

use tokio_rustls::rustls::{self, AlertDescription, CertificateError};

/// Everything that can go wrong while setting up or performing TLS.
///
/// Each message says what failed and what to try.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The host name cannot be used as a TLS server name (SNI and
    /// certificate check). Likely cause: a malformed host in the URL.
    #[error(
        "`{name}` cannot be used as a TLS server name ({reason}); \
         use a DNS name or an IP address in the wss:// URL"
    )]
    InvalidServerName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The server's certificate does not chain to a trusted root. Likely
    /// cause: a self-signed certificate or a private CA.
    #[error(
        "the TLS certificate presented by `{server_name}` is not trusted: it is not signed by a \
         known certificate authority ({detail}); if the server uses a private CA, add its \
         certificate with TlsClientConfig::add_root_certificates_pem_file, or enable the \
         `native-roots` feature if the CA is installed in the operating system's store"
    )]
    UntrustedCertificate {
        /// The name the client asked for.
        server_name: String,
        /// rustls' description of the failure.
        detail: String,
    },

    /// The certificate is valid but issued for other names. Likely cause:
    /// connecting by IP or an alias the certificate does not list.
    #[error(
        "the TLS certificate presented by the server is not valid for `{server_name}` ({detail}); \
         connect with a host name the certificate lists, or reissue the certificate with \
         `{server_name}` in its subjectAltName"
    )]
    HostnameMismatch {
        /// The name the client asked for.
        server_name: String,
        /// rustls' description, including the names the certificate holds
        /// when rustls reports them.
        detail: String,
    },

    /// The certificate was rejected for another reason (expired, not yet
    /// valid, wrong key usage, bad encoding, revoked).
    #[error(
        "the TLS certificate presented by `{server_name}` was rejected: {detail}; check the \
         certificate's validity dates, key usage and chain on the server (and this machine's clock)"
    )]
    InvalidCertificate {
        /// The name the client asked for.
        server_name: String,
        /// rustls' description of the failure.
        detail: String,
    },

    /// The peer aborted the handshake with a TLS alert. On a server this
    /// usually means the client does not trust the server's certificate.
    #[error("the TLS peer `{peer}` aborted the handshake with alert `{alert}`; {hint}")]
    AlertReceived {
        /// Who we were talking to (server name, or "client").
        peer: String,
        /// The alert the peer sent.
        alert: String,
        /// What the alert usually means and what to try.
        hint: &'static str,
    },

    /// The handshake failed for a reason other than the certificate: the
    /// peer does not speak TLS, closed the connection, or offers no common
    /// protocol version or cipher suite.
    #[error(
        "the TLS handshake with `{peer}` failed: {source}; check that the peer speaks TLS 1.2 or \
         1.3 on this port (a plain ws:// server answers garbage to a wss:// client)"
    )]
    Handshake {
        /// Who we were talking to (server name, or "client").
        peer: String,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },

    /// A PEM file could not be read.
    #[error(
        "cannot read the {what} file `{path}`: {source}; check that it exists and is readable"
    )]
    ReadFile {
        /// What the file should hold ("certificate chain", "private key", ...).
        what: &'static str,
        /// The path given.
        path: String,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },

    /// The PEM input holds no block of the expected kind.
    #[error(
        "{origin} holds no PEM {what}; expected a `-----BEGIN {marker}-----` block \
         (DER files must be converted, e.g. `openssl x509 -inform der -in cert.der -out cert.pem`)"
    )]
    MissingPem {
        /// What was looked for.
        what: &'static str,
        /// The PEM label that was expected.
        marker: &'static str,
        /// Where the PEM came from (a path or "in-memory PEM").
        origin: String,
    },

    /// The PEM input is malformed.
    #[error(
        "{origin} holds malformed PEM for the {what}: {detail}; regenerate or re-export the file"
    )]
    InvalidPem {
        /// What was being read.
        what: &'static str,
        /// Where the PEM came from.
        origin: String,
        /// The parser's description.
        detail: String,
    },

    /// rustls rejected the configuration (for a server: usually a private
    /// key that does not match the certificate).
    #[error(
        "the TLS configuration was rejected: {source}; check that the private key belongs to \
         the first certificate of the chain"
    )]
    Config {
        /// rustls' error.
        #[source]
        source: rustls::Error,
    },

    /// The operating system's trust store yielded no usable certificate
    /// (only with the `native-roots` feature).
    #[error(
        "no usable CA certificate in the operating system's trust store ({detail}); install the \
         CA bundle (e.g. the `ca-certificates` package) or build without the `native-roots` feature"
    )]
    NativeRoots {
        /// What the loader reported.
        detail: String,
    },
}

/// Turns the `io::Error` tokio-rustls returns from a handshake into the
/// matching [`TlsError`]. `peer` names the other side for the message.
pub(crate) fn classify_handshake_error(error: io::Error, peer: &str) -> TlsError {
    let Some(rustls_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return TlsError::Handshake {
            peer: peer.to_owned(),
            source: error,
        };
    };
    match rustls_error {
        rustls::Error::InvalidCertificate(cert_error) => {
            classify_certificate_error(cert_error, peer)
        }
        rustls::Error::AlertReceived(alert) => TlsError::AlertReceived {
            peer: peer.to_owned(),
            alert: format!("{alert:?}"),
            hint: alert_hint(*alert),
        },
        _ => TlsError::Handshake {
            peer: peer.to_owned(),
            source: error,
        },
    }
}

fn classify_certificate_error(cert_error: &CertificateError, server_name: &str) -> TlsError {
    let server_name = server_name.to_owned();
    let detail = cert_error.to_string();
    match cert_error {
        // A bad signature under a matching issuer name is what a private CA
        // regenerated with the same name looks like: still "not trusted".
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            TlsError::UntrustedCertificate {
                server_name,
                detail,
            }
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            TlsError::HostnameMismatch {
                server_name,
                detail,
            }
        }
        _ => TlsError::InvalidCertificate {
            server_name,
            detail,
        },
    }
}

fn alert_hint(alert: AlertDescription) -> &'static str {
    match alert {
        AlertDescription::UnknownCA
        | AlertDescription::BadCertificate
        | AlertDescription::CertificateUnknown => {
            "the client does not trust this certificate: give clients the CA that issued it, or \
             use a certificate from a public CA"
        }
        AlertDescription::DecryptError => {
            "the peer could not verify a signature: usually the client trusts a different CA \
             with the same name as the one that issued this certificate; give clients the \
             issuing CA"
        }
        AlertDescription::CertificateExpired => {
            "the certificate has expired (or a clock is wrong): renew the certificate"
        }
        AlertDescription::NoApplicationProtocol => {
            "no common ALPN protocol: WebSocket needs `http/1.1` offered by both sides"
        }
        AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure => {
            "no common TLS version or cipher suite: enable TLS 1.2 or 1.3 on both sides"
        }
        _ => "check the peer's TLS logs for the reason",
    }
}
