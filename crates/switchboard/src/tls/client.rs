//! The client role: [`TlsClientConfig`] and [`wrap_client`].

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::dangerous::AcceptAnyServerCertificate;
use super::error::classify_handshake_error;
use super::{crypto_provider, pem, TlsError, ALPN_HTTP_1_1};

/// A client-side TLS stream over `S`, as returned by [`wrap_client`].
pub type ClientTlsStream<S> = tokio_rustls::client::TlsStream<S>;

/// Which built-in trust anchors a [`TlsClientConfig`] starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuiltinRoots {
    /// Mozilla's root program, compiled in via `webpki-roots`.
    Webpki,
    /// The operating system's store, loaded via `rustls-native-certs`.
    #[cfg(feature = "native-roots")]
    Native,
    /// Only the certificates added explicitly.
    None,
}

impl BuiltinRoots {
    const DEFAULT: Self = {
        #[cfg(feature = "native-roots")]
        {
            Self::Native
        }
        #[cfg(not(feature = "native-roots"))]
        {
            Self::Webpki
        }
    };
}

/// How the client checks the server's certificate, and what it offers in
/// the handshake.
///
/// The default verifies against the webpki (Mozilla) roots, or the operating
/// system's store when the `native-roots` feature is on, sends SNI and offers
/// ALPN `http/1.1`. It is cheap to clone; the rustls configuration is built
/// once on first use and shared by every connection made with the clone, so
/// TLS session resumption works across connections.
#[derive(Clone)]
pub struct TlsClientConfig {
    builtin_roots: BuiltinRoots,
    extra_roots: Vec<CertificateDer<'static>>,
    verify_certificates: bool,
    alpn_protocols: Vec<Vec<u8>>,
    supplied: Option<Arc<ClientConfig>>,
    built: Arc<OnceLock<Arc<ClientConfig>>>,
}

impl Default for TlsClientConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("builtin_roots", &self.builtin_roots)
            .field("extra_roots", &self.extra_roots.len())
            .field("verify_certificates", &self.verify_certificates)
            .field("supplied_rustls_config", &self.supplied.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsClientConfig {
    /// Verifying configuration with the default roots (see the type docs).
    pub fn new() -> Self {
        Self {
            builtin_roots: BuiltinRoots::DEFAULT,
            extra_roots: Vec::new(),
            verify_certificates: true,
            alpn_protocols: vec![ALPN_HTTP_1_1.to_vec()],
            supplied: None,
            built: Arc::default(),
        }
    }

    /// Uses a complete rustls configuration as is (roots, verifier, ALPN,
    /// client certificates). The other builder methods then have no effect.
    pub fn from_rustls(config: Arc<ClientConfig>) -> Self {
        Self {
            supplied: Some(config),
            ..Self::new()
        }
    }

    /// Trusts the webpki (Mozilla) roots compiled into the binary.
    pub fn with_webpki_roots(self) -> Self {
        self.with_builtin_roots(BuiltinRoots::Webpki)
    }

    /// Trusts the operating system's certificate store, read once per
    /// process on first use.
    #[cfg(feature = "native-roots")]
    pub fn with_native_roots(self) -> Self {
        self.with_builtin_roots(BuiltinRoots::Native)
    }

    /// Trusts only the certificates added with the `add_root_*` methods,
    /// e.g. to pin a private CA.
    pub fn without_builtin_roots(self) -> Self {
        self.with_builtin_roots(BuiltinRoots::None)
    }

    /// Also trusts every certificate in `pem` (one or more `CERTIFICATE`
    /// blocks), typically a private CA.
    pub fn add_root_certificates_pem(self, pem: &[u8]) -> Result<Self, TlsError> {
        let certs = pem::certificates(pem, pem::IN_MEMORY)?;
        Ok(self.add_roots(certs))
    }

    /// Like [`add_root_certificates_pem`](Self::add_root_certificates_pem),
    /// reading the PEM from a file.
    pub fn add_root_certificates_pem_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let bytes = pem::read_file(path, "CA certificate")?;
        let certs = pem::certificates(&bytes, &pem::file_origin(path))?;
        Ok(self.add_roots(certs))
    }

    /// Also trusts one DER-encoded certificate.
    pub fn add_root_certificate_der(self, cert: CertificateDer<'static>) -> Self {
        self.add_roots(vec![cert])
    }

    /// Accepts ANY server certificate: expired, self-signed, or issued for
    /// another host. Anyone on the network path can then read and change the
    /// traffic. Meant for local experiments only; for a private server, add
    /// its CA with [`add_root_certificates_pem_file`](Self::add_root_certificates_pem_file)
    /// instead. Handshake signatures are still checked.
    pub fn dangerous_disable_certificate_verification(mut self) -> Self {
        self.verify_certificates = false;
        self.reset()
    }

    /// Replaces the ALPN protocols offered (default: `http/1.1`). An empty
    /// list sends no ALPN extension.
    pub fn alpn_protocols(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn_protocols = protocols;
        self.reset()
    }

    /// Whether server certificates are verified (false only after
    /// [`dangerous_disable_certificate_verification`](Self::dangerous_disable_certificate_verification)).
    pub fn verifies_certificates(&self) -> bool {
        self.verify_certificates
    }

    /// The rustls configuration connections use, built on first call and
    /// then shared.
    pub fn rustls_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        if let Some(config) = &self.supplied {
            return Ok(Arc::clone(config));
        }
        if let Some(config) = self.built.get() {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(self.build()?);
        // A concurrent first use may have won the race; either result is
        // equivalent, so keep whichever is stored.
        Ok(Arc::clone(self.built.get_or_init(|| config)))
    }

    fn with_builtin_roots(mut self, roots: BuiltinRoots) -> Self {
        self.builtin_roots = roots;
        self.reset()
    }

    fn add_roots(mut self, certs: Vec<CertificateDer<'static>>) -> Self {
        self.extra_roots.extend(certs);
        self.reset()
    }

    /// Forgets the built rustls config after a setting changed. Clones made
    /// earlier keep theirs.
    fn reset(mut self) -> Self {
        self.built = Arc::default();
        self
    }

    fn build(&self) -> Result<ClientConfig, TlsError> {
        let provider = crypto_provider();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Config { source })?;
        let mut config = if self.verify_certificates {
            builder
                .with_root_certificates(self.root_store()?)
                .with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate::new(
                    provider,
                )))
                .with_no_client_auth()
        };
        config.alpn_protocols = self.alpn_protocols.clone();
        Ok(config)
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut store = RootCertStore::empty();
        match self.builtin_roots {
            BuiltinRoots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            #[cfg(feature = "native-roots")]
            BuiltinRoots::Native => {
                store.add_parsable_certificates(native::roots()?.iter().cloned());
            }
            BuiltinRoots::None => {}
        }
        for cert in &self.extra_roots {
            store
                .add(cert.clone())
                .map_err(|source| TlsError::Config { source })?;
        }
        Ok(store)
    }
}

#[cfg(feature = "native-roots")]
mod native {
    use std::sync::OnceLock;

    use tokio_rustls::rustls::pki_types::CertificateDer;

    use super::TlsError;

    /// The OS store, read once: it can take tens of milliseconds and does
    /// not change while the process runs in any way we could act on.
    pub(super) fn roots() -> Result<&'static [CertificateDer<'static>], TlsError> {
        static ROOTS: OnceLock<Result<Vec<CertificateDer<'static>>, String>> = OnceLock::new();
        let loaded = ROOTS.get_or_init(|| {
            let result = rustls_native_certs::load_native_certs();
            if result.certs.is_empty() {
                let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
                Err(if errors.is_empty() {
                    "the store is empty".to_owned()
                } else {
                    errors.join("; ")
                })
            } else {
                Ok(result.certs)
            }
        });
        loaded.as_deref().map_err(|detail| TlsError::NativeRoots {
            detail: detail.clone(),
        })
    }
}

/// Runs the client TLS handshake over `stream` for `server_name`, the host
/// of the `wss://` URL (a DNS name, or an IP address with or without
/// brackets). The name is sent as SNI (not for IP addresses, per RFC 6066)
/// and checked against the certificate.
///
/// No timeout is applied here; wrap the call in `tokio::time::timeout`.
pub async fn wrap_client<S>(
    stream: S,
    config: &TlsClientConfig,
    server_name: &str,
) -> Result<ClientTlsStream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = parse_server_name(server_name)?;
    let connector = TlsConnector::from(config.rustls_config()?);
    connector
        .connect(name, stream)
        .await
        .map_err(|error| classify_handshake_error(error, server_name))
}

fn parse_server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(unbracketed.to_owned()).map_err(|error| TlsError::InvalidServerName {
        name: host.to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_accept_dns_and_ip_literals() {
        assert!(matches!(
            parse_server_name("example.com"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            parse_server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            parse_server_name("[::1]"),
            Ok(ServerName::IpAddress(_))
        ));
    }

    #[test]
    fn malformed_server_name_is_a_typed_error() {
        let error = parse_server_name("bad name!").unwrap_err();
        assert!(matches!(error, TlsError::InvalidServerName { .. }));
        assert!(error.to_string().contains("bad name!"));
    }

    #[test]
    fn default_config_verifies_and_offers_http11() {
        let config = TlsClientConfig::new();
        assert!(config.verifies_certificates());
        let rustls = config.rustls_config().expect("default config builds");
        assert_eq!(rustls.alpn_protocols, vec![b"http/1.1".to_vec()]);
        // Built once, then shared (session resumption depends on it).
        assert!(Arc::ptr_eq(&rustls, &config.rustls_config().unwrap()));
        assert!(Arc::ptr_eq(
            &rustls,
            &config.clone().rustls_config().unwrap()
        ));
    }

    #[cfg(feature = "native-roots")]
    #[test]
    fn native_roots_are_the_default_with_the_feature() {
        let config = TlsClientConfig::new();
        assert_eq!(config.builtin_roots, BuiltinRoots::Native);
        // Needs a CA bundle on the machine (Debian: ca-certificates).
        config.rustls_config().expect("the OS trust store loads");
    }

    #[test]
    fn changing_a_setting_rebuilds_the_rustls_config() {
        let config = TlsClientConfig::new();
        let first = config.rustls_config().unwrap();
        let changed = config.alpn_protocols(Vec::new());
        let second = changed.rustls_config().unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(second.alpn_protocols.is_empty());
    }

    #[test]
    fn pem_without_certificates_is_rejected_with_the_expected_marker() {
        let error = TlsClientConfig::new()
            .add_root_certificates_pem(b"not a pem file")
            .unwrap_err();
        assert!(matches!(error, TlsError::MissingPem { .. }));
        assert!(error.to_string().contains("BEGIN CERTIFICATE"));
    }

    #[test]
    fn missing_ca_file_names_the_path() {
        let error = TlsClientConfig::new()
            .add_root_certificates_pem_file("/nonexistent/ca.pem")
            .unwrap_err();
        assert!(matches!(error, TlsError::ReadFile { .. }));
        assert!(error.to_string().contains("/nonexistent/ca.pem"));
    }
}
