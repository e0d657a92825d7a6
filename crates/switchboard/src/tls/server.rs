//! The server role: [`TlsAcceptor`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::ServerConfig;

use super::error::classify_handshake_error;
use super::{crypto_provider, pem, TlsError, ALPN_H2, ALPN_HTTP_1_1};

/// A server-side TLS stream over `S`, as returned by [`TlsAcceptor::accept`].
pub type ServerTlsStream<S> = tokio_rustls::server::TlsStream<S>;

/// Accepts TLS connections for a `wss://` server. Cheap to clone: clones
/// share one rustls configuration (and its session ticket state).
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Loads the certificate chain (leaf first, then intermediates) and the
    /// private key (PKCS#8, PKCS#1 or SEC1) from PEM files. The server
    /// offers ALPN `http/1.1` and TLS 1.2 and 1.3, and asks for no client
    /// certificate.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let cert_path = cert_chain.as_ref();
        let key_path = private_key.as_ref();
        let cert_pem = pem::read_file(cert_path, "certificate chain")?;
        let key_pem = pem::read_file(key_path, "private key")?;
        Self::from_parsed_pem(
            &cert_pem,
            &pem::file_origin(cert_path),
            &key_pem,
            &pem::file_origin(key_path),
        )
    }

    /// Like [`from_pem_files`](Self::from_pem_files) with the PEM text in
    /// memory.
    pub fn from_pem(cert_chain_pem: &[u8], private_key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::from_parsed_pem(
            cert_chain_pem,
            pem::IN_MEMORY,
            private_key_pem,
            pem::IN_MEMORY,
        )
    }

    /// Uses a complete rustls server configuration as is. Remember to
    /// offer ALPN `http/1.1` if clients send ALPN.
    pub fn from_rustls(config: Arc<ServerConfig>) -> Self {
        Self {
            inner: tokio_rustls::TlsAcceptor::from(config),
        }
    }

    /// The same acceptor offering ALPN `h2` before `http/1.1`, for a
    /// server that also speaks HTTP/2 on this port (WebSockets over
    /// HTTP/2, RFC 8441: serve with hyper's HTTP/2 server and
    /// `enable_connect_protocol()`). Browsers that get `h2` open their
    /// `wss://` sockets as streams of that connection.
    pub fn offering_http2(self) -> Self {
        let mut config = ServerConfig::clone(self.inner.config());
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP_1_1.to_vec()];
        Self::from_rustls(Arc::new(config))
    }

    /// Runs the server TLS handshake over `stream`. No timeout is applied
    /// here; wrap the call in `tokio::time::timeout` so a silent client
    /// cannot hold the task.
    pub async fn accept<S>(&self, stream: S) -> Result<ServerTlsStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.inner
            .accept(stream)
            .await
            .map_err(|error| classify_handshake_error(error, "client"))
    }

    fn from_parsed_pem(
        cert_pem: &[u8],
        cert_origin: &str,
        key_pem: &[u8],
        key_origin: &str,
    ) -> Result<Self, TlsError> {
        let chain = pem::certificates(cert_pem, cert_origin)?;
        let key = pem::private_key(key_pem, key_origin)?;
        let mut config = ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Config { source })?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|source| TlsError::Config { source })?;
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(Self::from_rustls(Arc::new(config)))
    }
}
