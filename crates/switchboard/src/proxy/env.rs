//! Proxy discovery from the environment, with curl's rules.
//!
//! * `wss://` uses `https_proxy`, `ws://` uses `http_proxy`; either falls
//!   back to `all_proxy`. For each name the lowercase variable wins over the
//!   uppercase one, and an empty value counts as unset.
//! * `no_proxy` (then `NO_PROXY`) lists hosts reached directly: see
//!   [`NoProxy`].
//!
//! One deliberate difference from curl: curl ignores uppercase
//! `HTTP_PROXY` because CGI servers put the request's `Proxy:` header there
//! ("httpoxy"). A WebSocket client is rarely run as a CGI script, and users
//! expect `HTTP_PROXY` to work, so it is honoured after `http_proxy`.

use std::net::IpAddr;

use ipnet::IpNet;

use super::config::{redact_url, strip_brackets};
use super::{ProxyConfig, ProxyError};

/// A snapshot of the proxy environment variables.
#[derive(Debug, Clone, Default)]
pub struct ProxyEnv {
    http_proxy: Option<(&'static str, String)>,
    https_proxy: Option<(&'static str, String)>,
    all_proxy: Option<(&'static str, String)>,
    no_proxy: NoProxy,
}

impl ProxyEnv {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (for tests and embedding).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let pick = |lower: &'static str, upper: &'static str| {
            [lower, upper].into_iter().find_map(|name| {
                lookup(name)
                    .filter(|value| !value.trim().is_empty())
                    .map(|value| (name, value))
            })
        };
        Self {
            http_proxy: pick("http_proxy", "HTTP_PROXY"),
            https_proxy: pick("https_proxy", "HTTPS_PROXY"),
            all_proxy: pick("all_proxy", "ALL_PROXY"),
            no_proxy: pick("no_proxy", "NO_PROXY")
                .map(|(_, value)| NoProxy::parse(&value))
                .unwrap_or_default(),
        }
    }

    /// The proxy to use for `host:port` (`secure` = `wss://`), or `None`
    /// to connect directly. Fails if the chosen variable is malformed,
    /// rather than silently bypassing a proxy the user asked for.
    pub fn proxy_for(
        &self,
        secure: bool,
        host: &str,
        port: u16,
    ) -> Result<Option<ProxyConfig>, ProxyError> {
        let scheme_specific = if secure {
            &self.https_proxy
        } else {
            &self.http_proxy
        };
        let Some((variable, value)) = scheme_specific.as_ref().or(self.all_proxy.as_ref()) else {
            return Ok(None);
        };
        if self.no_proxy.matches(host, port) {
            return Ok(None);
        }
        ProxyConfig::parse(value)
            .map(Some)
            .map_err(|error| match error {
                ProxyError::InvalidProxyUrl { reason, .. } => ProxyError::InvalidProxyEnv {
                    variable,
                    value: redact_url(value),
                    reason,
                },
                other => other,
            })
    }

    /// The parsed `no_proxy` list.
    pub fn no_proxy(&self) -> &NoProxy {
        &self.no_proxy
    }
}

/// A `no_proxy` list with curl's semantics, plus optional ports.
///
/// * Entries are separated by commas (and spaces); `*` alone matches every
///   host.
/// * A name matches itself and every subdomain: `example.com` and
///   `.example.com` both match `example.com` and `ws.example.com`, never
///   `notexample.com`. Case and a trailing dot are ignored. (`*.example.com`
///   is read as `.example.com`.)
/// * IP literals match the same address; CIDR blocks (`10.0.0.0/8`,
///   `fd00::/8`) match addresses inside them. IPv6 may be bracketed.
/// * An entry may end in `:port` (`example.com:8443`, `[::1]:9000`), and
///   then only matches that port; without one it matches every port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    match_all: bool,
    entries: Vec<NoProxyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NoProxyEntry {
    pattern: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// A lowercase domain without leading or trailing dots.
    Domain(String),
    /// An address or block.
    Network(IpNet),
}

impl NoProxy {
    /// Parses a list; entries that are not understood are skipped, as curl
    /// skips them.
    pub fn parse(list: &str) -> Self {
        if list.trim() == "*" {
            return Self {
                match_all: true,
                entries: Vec::new(),
            };
        }
        let entries = list
            .split([',', ' ', '\t'])
            .filter(|entry| !entry.is_empty())
            .filter_map(parse_entry)
            .collect();
        Self {
            match_all: false,
            entries,
        }
    }

    /// Whether `host:port` bypasses the proxy. `host` may be a name or an
    /// IP literal, IPv6 with or without brackets.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.match_all {
            return true;
        }
        let host = strip_brackets(host);
        let host_ip = host.parse::<IpAddr>().ok();
        let host_name = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries.iter().any(|entry| {
            entry.port.is_none_or(|wanted| wanted == port)
                && match (&entry.pattern, host_ip) {
                    (HostPattern::Network(net), Some(ip)) => net.contains(&ip.to_canonical()),
                    (HostPattern::Domain(domain), None) => {
                        host_name == *domain
                            || host_name
                                .strip_suffix(domain.as_str())
                                .is_some_and(|prefix| prefix.ends_with('.'))
                    }
                    _ => false,
                }
        })
    }
}

fn parse_entry(entry: &str) -> Option<NoProxyEntry> {
    if let Some(pattern) = parse_network(entry) {
        return Some(NoProxyEntry {
            pattern,
            port: None,
        });
    }
    let (host, port) = split_port(entry)?;
    let pattern = parse_network(host).or_else(|| {
        let domain = host
            .strip_prefix("*.")
            .unwrap_or(host)
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        (!domain.is_empty()).then_some(HostPattern::Domain(domain))
    })?;
    Some(NoProxyEntry { pattern, port })
}

/// `10.0.0.1`, `::1`, `[::1]`, `10.0.0.0/8`, `fd00::/8`.
fn parse_network(text: &str) -> Option<HostPattern> {
    let text = strip_brackets(text);
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(HostPattern::Network(IpNet::from(ip.to_canonical())));
    }
    text.parse::<IpNet>()
        .ok()
        .map(|net| HostPattern::Network(net.trunc()))
}

/// Splits an optional `:port`; `None` for an unparsable port.
fn split_port(entry: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        match after {
            "" => return Some((inside, None)),
            _ => (inside, after.strip_prefix(':')?),
        }
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, port),
            Some(_) => return None,
            None => return Some((entry, None)),
        }
    };
    port.parse::<u16>().ok().map(|port| (host, Some(port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        ProxyEnv::from_lookup(move |name| {
            vars.iter()
                .find(|(candidate, _)| candidate == name)
                .map(|(_, value)| value.clone())
        })
    }

    fn proxy(env: &ProxyEnv, secure: bool, host: &str, port: u16) -> Option<String> {
        env.proxy_for(secure, host, port)
            .expect("valid environment")
            .map(|config| config.to_string())
    }

    #[test]
    fn wss_uses_https_proxy_and_ws_uses_http_proxy() {
        let env = env(&[
            ("http_proxy", "http://plain:1"),
            ("https_proxy", "http://secure:2"),
        ]);
        assert_eq!(
            proxy(&env, false, "example.com", 80).as_deref(),
            Some("http://plain:1")
        );
        assert_eq!(
            proxy(&env, true, "example.com", 443).as_deref(),
            Some("http://secure:2")
        );
    }

    #[test]
    fn all_proxy_is_the_fallback() {
        let env = env(&[
            ("ALL_PROXY", "socks5h://fallback:9"),
            ("https_proxy", "http://secure:2"),
        ]);
        assert_eq!(
            proxy(&env, false, "example.com", 80).as_deref(),
            Some("socks5h://fallback:9")
        );
        assert_eq!(
            proxy(&env, true, "example.com", 443).as_deref(),
            Some("http://secure:2")
        );
    }

    #[test]
    fn lowercase_wins_over_uppercase_and_empty_counts_as_unset() {
        let env1 = env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ]);
        assert_eq!(
            proxy(&env1, true, "h", 443).as_deref(),
            Some("http://lower:1")
        );
        let env2 = env(&[("https_proxy", ""), ("HTTPS_PROXY", "http://upper:2")]);
        assert_eq!(
            proxy(&env2, true, "h", 443).as_deref(),
            Some("http://upper:2")
        );
        let env3 = env(&[("HTTP_PROXY", "http://upper:3")]);
        assert_eq!(
            proxy(&env3, false, "h", 80).as_deref(),
            Some("http://upper:3")
        );
        let env4 = env(&[
            ("https_proxy", "http://p:1"),
            ("no_proxy", "lower.example"),
            ("NO_PROXY", "upper.example"),
        ]);
        assert_eq!(proxy(&env4, true, "lower.example", 443), None);
        assert!(proxy(&env4, true, "upper.example", 443).is_some());
    }

    #[test]
    fn nothing_set_means_direct() {
        assert_eq!(proxy(&env(&[]), true, "example.com", 443), None);
        assert_eq!(
            proxy(
                &env(&[("http_proxy", "http://p:1")]),
                true,
                "example.com",
                443
            ),
            None
        );
    }

    #[test]
    fn malformed_variable_is_an_error_naming_it_without_the_password() {
        let env = env(&[("https_proxy", "ftp://user:hunter2@proxy:21")]);
        let error = env.proxy_for(true, "example.com", 443).unwrap_err();
        let message = error.to_string();
        assert!(matches!(
            error,
            ProxyError::InvalidProxyEnv {
                variable: "https_proxy",
                ..
            }
        ));
        assert!(
            message.contains("https_proxy") && message.contains("ftp"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn no_proxy_matches_domains_and_subdomains_like_curl() {
        let list = NoProxy::parse("example.com, .internal.test,*.wild.test");
        assert!(list.matches("example.com", 443));
        assert!(list.matches("EXAMPLE.com.", 443));
        assert!(list.matches("ws.example.com", 443));
        assert!(!list.matches("notexample.com", 443));
        assert!(!list.matches("example.com.evil", 443));
        assert!(list.matches("internal.test", 80));
        assert!(list.matches("a.b.internal.test", 80));
        assert!(list.matches("x.wild.test", 80));
        assert!(!list.matches("test", 80));
    }

    #[test]
    fn no_proxy_star_matches_everything_only_alone() {
        assert!(NoProxy::parse("*").matches("anything.example", 1));
        assert!(NoProxy::parse(" * ").matches("10.1.2.3", 1));
        assert!(!NoProxy::parse("").matches("anything.example", 1));
    }

    #[test]
    fn no_proxy_matches_ip_literals_and_cidr_blocks() {
        let list = NoProxy::parse("127.0.0.1,10.0.0.0/8,::1,fd00::/8,[2001:db8::1]");
        assert!(list.matches("127.0.0.1", 1));
        assert!(!list.matches("127.0.0.2", 1));
        assert!(list.matches("10.200.3.4", 1));
        assert!(!list.matches("11.0.0.1", 1));
        assert!(list.matches("[::1]", 1));
        assert!(list.matches("::1", 1));
        assert!(list.matches("fd12:3456::1", 1));
        assert!(list.matches("2001:db8::1", 1));
        assert!(!list.matches("2001:db8::2", 1));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert!(list.matches("::ffff:10.0.0.1", 1));
        // A name is never matched by an IP entry, nor an IP by a name entry.
        assert!(!list.matches("localhost", 1));
        assert!(!NoProxy::parse("localhost").matches("127.0.0.1", 1));
    }

    #[test]
    fn no_proxy_entries_with_ports_match_only_that_port() {
        let list = NoProxy::parse("example.com:8443,127.0.0.1:9000,[::1]:9001");
        assert!(list.matches("example.com", 8443));
        assert!(list.matches("ws.example.com", 8443));
        assert!(!list.matches("example.com", 443));
        assert!(list.matches("127.0.0.1", 9000));
        assert!(!list.matches("127.0.0.1", 9001));
        assert!(list.matches("::1", 9001));
        assert!(!list.matches("::1", 9000));
    }

    #[test]
    fn no_proxy_skips_garbage_entries() {
        let list = NoProxy::parse(",,, :,example.com:notaport,[::1,good.example");
        assert!(list.matches("good.example", 1));
        assert!(!list.matches("example.com", 1));
    }

    #[test]
    fn no_proxy_bypasses_the_environment_proxy() {
        let env = env(&[
            ("https_proxy", "http://p:1"),
            ("no_proxy", "localhost,127.0.0.0/8"),
        ]);
        assert_eq!(proxy(&env, true, "localhost", 443), None);
        assert_eq!(proxy(&env, true, "127.0.0.1", 443), None);
        assert!(proxy(&env, true, "example.com", 443).is_some());
    }
}
