//! [`ProxyError`]: every way reaching a target through a proxy can fail.

use std::io;
use std::time::Duration;

/// Why a connection through a proxy (or a proxy setting) failed.
///
/// `proxy` fields hold the proxy as `scheme://[user@]host:port`, never the
/// password; `target` fields hold `host:port` of the WebSocket server. Each
/// message says what failed and what to try.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A proxy URL given explicitly could not be parsed.
    #[error("invalid proxy URL `{url}`: {reason}; expected `[scheme://][user:password@]host[:port]` with scheme http, socks5 or socks5h")]
    InvalidProxyUrl {
        /// The URL as given (password replaced by `***`).
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A proxy environment variable holds something unusable.
    #[error("the environment variable {variable}=`{value}` is not a usable proxy URL: {reason}; fix it, or unset it to connect directly")]
    InvalidProxyEnv {
        /// The variable, e.g. `https_proxy`.
        variable: &'static str,
        /// Its value (password replaced by `***`).
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Credentials the SOCKS5 protocol cannot carry (RFC 1929 limits user
    /// name and password to 1..=255 bytes).
    #[error("the credentials for proxy {proxy} cannot be sent: {reason}")]
    InvalidCredentials {
        /// The proxy.
        proxy: String,
        /// What is wrong.
        reason: String,
    },

    /// The target cannot be expressed in the proxy protocol (e.g. a host
    /// name longer than 255 bytes for SOCKS5).
    #[error("the target {target} cannot be requested from proxy {proxy}: {reason}")]
    InvalidTarget {
        /// The proxy.
        proxy: String,
        /// The target.
        target: String,
        /// What is wrong.
        reason: String,
    },

    /// The target host name could not be resolved locally (only for
    /// `socks5://`, which resolves on the client like curl does).
    #[error("cannot resolve {target} locally for SOCKS5 proxy {proxy}: {source}; check the name, or use a socks5h:// proxy URL so the proxy resolves it")]
    ResolveTarget {
        /// The proxy.
        proxy: String,
        /// The target.
        target: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },

    /// The TCP connection to the proxy itself failed.
    #[error("cannot connect to proxy {proxy}: {source}; check the proxy address and that it is running (or unset the *_proxy environment variables / add the host to no_proxy to connect directly)")]
    ConnectToProxy {
        /// The proxy.
        proxy: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The whole proxy connection (TCP plus proxy handshake) took longer
    /// than allowed.
    #[error("connecting to {target} through proxy {proxy} did not finish within {after:?}; check that the proxy is reachable and responsive, or raise the connect timeout")]
    Timeout {
        /// The proxy.
        proxy: String,
        /// The target.
        target: String,
        /// The limit that was hit.
        after: Duration,
    },

    /// The connection to the proxy broke during the proxy handshake.
    #[error("the connection to proxy {proxy} failed while {stage}: {source}; the proxy may have crashed or dropped the connection, check its logs")]
    Io {
        /// The proxy.
        proxy: String,
        /// What was being done, e.g. "reading the CONNECT response".
        stage: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The proxy answered something that is not valid for its protocol.
    #[error("proxy {proxy} sent an invalid reply: {detail}; check that the proxy URL scheme matches the proxy (http:// for HTTP proxies, socks5:// for SOCKS5)")]
    Protocol {
        /// The proxy.
        proxy: String,
        /// What was wrong.
        detail: String,
    },

    /// The proxy requires authentication and none was configured.
    #[error("proxy {proxy} requires authentication ({detail}); put the credentials in the proxy URL: `scheme://user:password@host:port`")]
    AuthRequired {
        /// The proxy.
        proxy: String,
        /// What the proxy answered.
        detail: String,
    },

    /// The proxy rejected the configured credentials.
    #[error("proxy {proxy} rejected the credentials ({detail}); check the user name and password (percent-encode special characters in URLs)")]
    AuthRejected {
        /// The proxy.
        proxy: String,
        /// What the proxy answered.
        detail: String,
    },

    /// The SOCKS5 proxy accepts none of the authentication methods offered.
    #[error("SOCKS5 proxy {proxy} accepts none of the offered authentication methods ({detail}); only \"no authentication\" and username/password (RFC 1929) are supported")]
    UnsupportedAuthMethod {
        /// The proxy.
        proxy: String,
        /// What was offered and refused.
        detail: String,
    },

    /// The proxy's policy forbids connecting to this target (HTTP 403,
    /// tinyproxy `ConnectPort`, SOCKS5 "not allowed by ruleset").
    #[error("proxy {proxy} refused to connect to {target} ({detail}); its access rules do not allow this host or port: ask the proxy's administrator, or connect without the proxy (no_proxy)")]
    TargetRefused {
        /// The proxy.
        proxy: String,
        /// The target.
        target: String,
        /// What the proxy answered.
        detail: String,
    },

    /// The proxy could not reach the target (refused, unreachable, DNS
    /// failure at the proxy, HTTP 502/504).
    #[error("proxy {proxy} could not reach {target} ({detail}); check that the WebSocket server is running and reachable from the proxy")]
    TargetUnreachable {
        /// The proxy.
        proxy: String,
        /// The target.
        target: String,
        /// What the proxy answered.
        detail: String,
    },

    /// The proxy answered with a failure not covered above.
    #[error("proxy {proxy} did not open a tunnel to {target} ({detail}); check the proxy's logs")]
    Rejected {
        /// The proxy.
        proxy: String,
        /// The target.
        target: String,
        /// What the proxy answered.
        detail: String,
    },
}
