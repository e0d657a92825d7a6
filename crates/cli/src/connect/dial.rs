//! Opening the transport for `connect`: TCP directly or through a proxy,
//! then TLS for `wss://`. The WebSocket handshake then runs over it with
//! `ClientBuilder::connect_on`.

use std::time::Duration;

use http::Uri;
use switchboard::proxy::{self, ProxyError, ProxyMode};
use switchboard::tls::{self, MaybeTlsStream, TlsClientConfig, TlsError};
use tokio::net::TcpStream;

/// Where to connect, from the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wss://` (or `https://`).
    pub secure: bool,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    /// The URL's port or the scheme's default.
    pub port: u16,
}

impl Target {
    /// Reads the scheme, host and port of a WebSocket URL.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| format!("{url:?} is not a URL; write e.g. ws://127.0.0.1:8080/echo"))?;
        let secure = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("ws" | "http") => false,
            Some("wss" | "https") => true,
            _ => return Err(format!("{url:?}: the scheme must be ws:// or wss://")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("{url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(Target { secure, host, port })
    }
}

/// Why the transport could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The proxy settings or the proxy itself failed.
    #[error("{0}")]
    Proxy(#[from] ProxyError),
    /// The TLS handshake failed (untrusted or mismatched certificate ...).
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// TCP failed: refused, unreachable, no such host.
    #[error("cannot connect to {target}: {source}; check the host and port")]
    Tcp {
        /// `host:port`.
        target: String,
        /// The error.
        source: std::io::Error,
    },
    /// A `wss://` URL, but the server answered the TLS ClientHello with
    /// something that is not TLS (a plain HTTP answer, typically): the
    /// port serves plain `ws://`.
    #[error(
        "the server at {target} does not speak TLS on that port (it answered the TLS handshake \
         in plain text); use ws:// instead of wss://, or the server's TLS port"
    )]
    NotTls {
        /// `host:port`.
        target: String,
    },
    /// TCP or TLS took longer than the connect timeout.
    #[error("connecting took longer than {0:?}; raise --connect-timeout or check the address")]
    Timeout(Duration),
}

/// Opens TCP (directly or via the proxy `mode` picks) and TLS if the
/// target is secure, all within `timeout`.
pub async fn dial(
    target: &Target,
    mode: &ProxyMode,
    tls_config: &TlsClientConfig,
    timeout: Duration,
) -> Result<MaybeTlsStream<TcpStream>, DialError> {
    let work = async {
        let tcp = match mode.resolve(target.secure, &target.host, target.port)? {
            Some(via) => proxy::connect_tcp(&via, &target.host, target.port, timeout).await?,
            None => TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|source| DialError::Tcp {
                    target: format!("{}:{}", target.host, target.port),
                    source,
                })?,
        };
        // WebSocket frames are small and latency-sensitive.
        let _ = tcp.set_nodelay(true);
        if !target.secure {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        let tls = tls::wrap_client(tcp, tls_config, &target.host)
            .await
            .map_err(|error| {
                if answered_in_plain_text(&error) {
                    DialError::NotTls {
                        target: format!("{}:{}", target.host, target.port),
                    }
                } else {
                    DialError::Tls(error)
                }
            })?;
        Ok(MaybeTlsStream::from(tls))
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(DialError::Timeout(timeout)))
}

/// Whether a failed TLS handshake failed because the server's first
/// bytes were not a TLS record at all (rustls: a record of unknown content
/// type): a plain HTTP or WebSocket server answering in text.
fn answered_in_plain_text(error: &TlsError) -> bool {
    use tls::rustls::{Error, InvalidMessage};
    let TlsError::Handshake { source, .. } = error else {
        return false;
    };
    matches!(
        source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Error>()),
        Some(Error::InvalidMessage(InvalidMessage::InvalidContentType))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_urls() {
        assert_eq!(
            Target::from_url("ws://127.0.0.1:8080/echo"),
            Ok(Target {
                secure: false,
                host: "127.0.0.1".into(),
                port: 8080
            })
        );
        assert_eq!(
            Target::from_url("WSS://example.com/chat"),
            Ok(Target {
                secure: true,
                host: "example.com".into(),
                port: 443
            })
        );
        assert_eq!(Target::from_url("ws://[::1]/").unwrap().host, "::1");
        assert_eq!(Target::from_url("ws://[::1]/").unwrap().port, 80);
        assert!(Target::from_url("ftp://x/").unwrap_err().contains("ws://"));
        assert!(Target::from_url("not a url").is_err());
        assert!(Target::from_url("/path/only").is_err());
    }
}
