//! TLS for `wss://`, both roles, on [rustls] with the `ring` provider.
//!
//! * Client: [`TlsClientConfig`] verifies the server against the bundled
//!   webpki roots (or, with the `native-roots` cargo feature, the operating
//!   system's store), optionally extended with private CAs from PEM. It sends
//!   SNI and offers the ALPN protocol `http/1.1`, which is what the WebSocket
//!   opening handshake runs over. [`wrap_client`] performs the handshake.
//! * Server: [`TlsAcceptor::from_pem_files`] loads a certificate chain and a
//!   private key, and [`TlsAcceptor::accept`] performs the handshake.
//! * [`MaybeTlsStream`] lets the driver run `ws://` and `wss://` through one
//!   stream type.
//!
//! Every failure is a [`TlsError`] that names what failed and what to try:
//! an untrusted certificate, a certificate issued for another host name, and
//! unreadable PEM files each have their own variant.
//!
//! ```no_run
//! use switchboard::tls::{TlsAcceptor, TlsClientConfig};
//! use switchboard::{ClientBuilder, ServerBuilder};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Client: trust a private CA on top of the webpki roots.
//! let tls = TlsClientConfig::new().add_root_certificates_pem_file("ca.pem")?;
//! let (ws, _response) = ClientBuilder::new("wss://ws.internal.example/feed")
//!     .tls_config(tls)
//!     .connect()
//!     .await?;
//!
//! // Server: one code path for ws:// and wss://.
//! let server = ServerBuilder::new().tls(TlsAcceptor::from_pem_files("chain.pem", "key.pem")?);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! let (tcp, _) = listener.accept().await?;
//! let ws = server.accept_maybe_tls(tcp).await?;
//! # Ok(()) }
//! ```
//!
//! Why `ring` and not rustls' default `aws-lc-rs`: it builds with a plain C
//! compiler (no cmake, no Go), keeps build times short, and offers the same
//! TLS 1.2/1.3 cipher suites that browsers and servers negotiate.

mod client;
mod dangerous;
mod error;
mod pem;
mod server;
mod stream;

use std::sync::Arc;

pub use client::{wrap_client, ClientTlsStream, TlsClientConfig};
pub use error::TlsError;
pub use server::{ServerTlsStream, TlsAcceptor};
pub use stream::MaybeTlsStream;
/// The rustls version this module is built on, for callers that need
/// [`TlsClientConfig::from_rustls`] or [`TlsAcceptor::from_rustls`].
pub use tokio_rustls::rustls;

/// ALPN identifier of HTTP/1.1 (RFC 7301 registry), which carries the
/// WebSocket opening handshake (RFC 6455 §4.1).
pub(crate) const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// ALPN identifier of HTTP/2 over TLS (RFC 9113 §3.2), which carries
/// WebSockets as extended CONNECT streams (RFC 8441).
pub(crate) const ALPN_H2: &[u8] = b"h2";

/// The crypto provider every config in this module is built with.
///
/// Passing it explicitly (rather than relying on rustls' process-wide
/// default) keeps working when another crate in the binary enables a second
/// provider, where `rustls::ClientConfig::builder()` would panic.
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
