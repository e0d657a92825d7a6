//! [`ProxyConfig`]: one proxy, set in code or parsed from a URL.

use std::fmt;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

use super::ProxyError;

/// The default proxy port when a URL gives none. curl uses 1080 for every
/// proxy scheme; we follow it so the same URL means the same proxy.
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// Which protocol the proxy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// An HTTP proxy, asked for a tunnel with `CONNECT host:port`
    /// (RFC 9110 §9.3.6). Used for `ws://` and `wss://` alike.
    HttpConnect,
    /// A SOCKS5 proxy (RFC 1928).
    Socks5 {
        /// `true` (`socks5h://`): the host name goes to the proxy, which
        /// resolves it. `false` (`socks5://`): the client resolves it and
        /// sends an address, as curl does for this scheme.
        resolve_at_proxy: bool,
    },
}

impl ProxyProtocol {
    fn scheme(self) -> &'static str {
        match self {
            Self::HttpConnect => "http",
            Self::Socks5 {
                resolve_at_proxy: false,
            } => "socks5",
            Self::Socks5 {
                resolve_at_proxy: true,
            } => "socks5h",
        }
    }
}

/// A user name and password for the proxy (HTTP Basic, or SOCKS5
/// username/password per RFC 1929). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    username: String,
    password: String,
}

impl ProxyCredentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// One proxy: protocol, address and optional credentials.
///
/// Its `Display` form is the URL without the password, which is what error
/// messages show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    protocol: ProxyProtocol,
    host: String,
    port: u16,
    credentials: Option<ProxyCredentials>,
}

impl ProxyConfig {
    /// An HTTP proxy reached with `CONNECT`.
    pub fn http(host: impl Into<String>, port: u16) -> Self {
        Self::new(ProxyProtocol::HttpConnect, host.into(), port)
    }

    /// A SOCKS5 proxy to which the client sends a resolved address
    /// (`socks5://`).
    pub fn socks5(host: impl Into<String>, port: u16) -> Self {
        Self::new(
            ProxyProtocol::Socks5 {
                resolve_at_proxy: false,
            },
            host.into(),
            port,
        )
    }

    /// A SOCKS5 proxy to which the client sends the host name, so DNS
    /// resolves at the proxy (`socks5h://`). Use this when the target is
    /// only resolvable on the proxy's side.
    pub fn socks5h(host: impl Into<String>, port: u16) -> Self {
        Self::new(
            ProxyProtocol::Socks5 {
                resolve_at_proxy: true,
            },
            host.into(),
            port,
        )
    }

    /// Adds credentials (HTTP Basic or SOCKS5 username/password).
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.credentials = Some(ProxyCredentials::new(username, password));
        self
    }

    /// Parses `[scheme://][user[:password]@]host[:port][/]` as curl does:
    /// the scheme defaults to `http`, the port to 1080, user and password
    /// are percent-decoded, IPv6 hosts are written in brackets. Schemes:
    /// `http`, `socks5`, `socks5h`.
    pub fn parse(url: &str) -> Result<Self, ProxyError> {
        parse_url(url).map_err(|reason| ProxyError::InvalidProxyUrl {
            url: redact_url(url),
            reason,
        })
    }

    /// The protocol the proxy speaks.
    pub fn protocol(&self) -> ProxyProtocol {
        self.protocol
    }

    /// The proxy's host (without brackets for IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&ProxyCredentials> {
        self.credentials.as_ref()
    }

    fn new(protocol: ProxyProtocol, host: String, port: u16) -> Self {
        let host = strip_brackets(&host).to_owned();
        Self {
            protocol,
            host,
            port,
            credentials: None,
        }
    }
}

impl FromStr for ProxyConfig {
    type Err = ProxyError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::parse(url)
    }
}

impl fmt::Display for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.protocol.scheme())?;
        if let Some(credentials) = &self.credentials {
            write!(f, "{}@", credentials.username)?;
        }
        write!(f, "{}", HostPort(&self.host, self.port))
    }
}

/// Formats `host:port`, bracketing IPv6 literals (`[::1]:80`).
pub(crate) struct HostPort<'a>(pub(crate) &'a str, pub(crate) u16);

impl fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') {
            write!(f, "[{}]:{}", self.0, self.1)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

/// `[::1]` -> `::1`; anything else unchanged.
pub(crate) fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host)
}

/// Hides the password of a proxy URL for error messages.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme_end, rest) = match url.find("://") {
        Some(index) => (index + 3, &url[index + 3..]),
        None => (0, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

fn parse_url(url: &str) -> Result<ProxyConfig, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("it is empty".to_owned());
    }
    let (protocol, rest) = match url.find("://") {
        Some(index) => (parse_scheme(&url[..index])?, &url[index + 3..]),
        None => (ProxyProtocol::HttpConnect, url),
    };
    let authority = match rest.find('/') {
        Some(index) if rest[index..] == *"/" => &rest[..index],
        Some(_) => {
            return Err("a proxy URL has no path; remove everything after host:port".to_owned())
        }
        None => rest,
    };
    let (credentials, host_port) = match authority.rfind('@') {
        Some(at) => (
            Some(parse_userinfo(&authority[..at])?),
            &authority[at + 1..],
        ),
        None => (None, authority),
    };
    let (host, port) = parse_host_port(host_port)?;
    let mut config = ProxyConfig::new(protocol, host.to_owned(), port);
    config.credentials = credentials;
    Ok(config)
}

fn parse_scheme(scheme: &str) -> Result<ProxyProtocol, String> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Ok(ProxyProtocol::HttpConnect),
        "socks5" => Ok(ProxyProtocol::Socks5 {
            resolve_at_proxy: false,
        }),
        "socks5h" => Ok(ProxyProtocol::Socks5 {
            resolve_at_proxy: true,
        }),
        "https" => Err("TLS to the proxy itself (https://) is not supported; use an http:// proxy URL (wss:// traffic stays encrypted end to end through the tunnel)".to_owned()),
        other => Err(format!("the scheme `{other}` is not supported")),
    }
}

fn parse_userinfo(userinfo: &str) -> Result<ProxyCredentials, String> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| format!("the {what} is not UTF-8 after percent-decoding"))
    };
    let username = decode(user, "user name")?;
    if username.is_empty() {
        return Err("the user name before `@` is empty".to_owned());
    }
    Ok(ProxyCredentials::new(
        username,
        decode(password, "password")?,
    ))
}

fn parse_host_port(host_port: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(after_bracket) = host_port.strip_prefix('[') {
        let close = after_bracket
            .find(']')
            .ok_or_else(|| "an IPv6 host is missing its closing `]`".to_owned())?;
        let host = &after_bracket[..close];
        let rest = &after_bracket[close + 1..];
        let port = match rest {
            "" => None,
            _ => Some(
                rest.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected `{rest}` after the IPv6 host"))?,
            ),
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{host}` in brackets is not an IPv6 address"));
        }
        (host, port)
    } else {
        match host_port.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("write IPv6 proxy addresses in brackets, e.g. `[::1]:1080`".to_owned())
            }
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    let port = match port {
        None => DEFAULT_PROXY_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(format!("`{port}` is not a port number (1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> ProxyConfig {
        ProxyConfig::parse(url).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn scheme_defaults_to_http_and_port_to_1080() {
        assert_eq!(
            parse("proxy.example"),
            ProxyConfig::http("proxy.example", 1080)
        );
        assert_eq!(
            parse("proxy.example:3128"),
            ProxyConfig::http("proxy.example", 3128)
        );
        assert_eq!(
            parse("HTTP://proxy.example:3128/"),
            ProxyConfig::http("proxy.example", 3128)
        );
    }

    #[test]
    fn socks_schemes_choose_where_dns_resolves() {
        assert_eq!(
            parse("socks5://127.0.0.1:9050"),
            ProxyConfig::socks5("127.0.0.1", 9050)
        );
        assert_eq!(
            parse("socks5h://127.0.0.1:9050"),
            ProxyConfig::socks5h("127.0.0.1", 9050)
        );
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let config = parse("http://al%40ice:p%3Ass%20w@proxy:8080");
        let credentials = config.credentials().expect("credentials");
        assert_eq!(credentials.username(), "al@ice");
        assert_eq!(credentials.password(), "p:ss w");
        let config = parse("socks5h://bob@proxy");
        assert_eq!(config.credentials().unwrap().password(), "");
    }

    #[test]
    fn ipv6_hosts_need_brackets() {
        let config = parse("http://[::1]:3128");
        assert_eq!(config.host(), "::1");
        assert_eq!(config.to_string(), "http://[::1]:3128");
        assert!(ProxyConfig::parse("http://::1:3128").is_err());
        assert!(ProxyConfig::parse("http://[::1").is_err());
        assert!(ProxyConfig::parse("http://[nothex]:1").is_err());
    }

    #[test]
    fn display_and_errors_never_show_the_password() {
        let config = parse("http://alice:secret@proxy:3128");
        assert_eq!(config.to_string(), "http://alice@proxy:3128");
        assert!(!format!("{config:?}").contains("secret"));
        let error = ProxyConfig::parse("http://alice:secret@proxy:notaport").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("notaport"), "{message}");
    }

    #[test]
    fn unsupported_and_malformed_urls_are_rejected_with_reasons() {
        for (url, expected) in [
            ("https://proxy:443", "https://"),
            ("socks4://proxy", "socks4"),
            ("http://proxy:0", "port"),
            ("http://proxy:70000", "port"),
            ("http://:3128", "host is empty"),
            ("http://@proxy", "user name"),
            ("http://proxy/path", "no path"),
            ("", "empty"),
        ] {
            let error = ProxyConfig::parse(url).expect_err(url);
            assert!(matches!(error, ProxyError::InvalidProxyUrl { .. }));
            assert!(error.to_string().contains(expected), "{url}: {error}");
        }
    }
}
