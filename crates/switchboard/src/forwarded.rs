//! The real client address behind trusted reverse proxies.
//!
//! Behind a load balancer every connection comes from the balancer's
//! address, and the client's address is in a `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` header. Anyone can send those headers, so they are
//! believed only when the direct peer is a proxy you trust, and only the
//! part of the chain that trusted proxies appended:
//!
//! 1. If the TCP peer is not in [`TrustedProxies`], it is the client; the
//!    headers are ignored (they may be forged).
//! 2. Otherwise the hops are read from `Forwarded` (all its fields, in
//!    order) or, if there is none, from `X-Forwarded-For`, and walked from
//!    the right (nearest proxy first). Trusted addresses are skipped; the
//!    first untrusted address is the client.
//! 3. A hop that hides its address (`unknown`, an obfuscated `_name`, a
//!    missing `for=`, or something malformed) stops the walk: nothing to
//!    its left was written by a proxy we trust. The result is then the
//!    nearest address we could establish (the last trusted hop, or the
//!    peer).
//! 4. If every hop is trusted, the leftmost one is the client.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use http::header::{HeaderName, FORWARDED};
use http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed: IP addresses and
/// CIDR blocks. Empty by default, which ignores forwarding headers
/// entirely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

/// A [`TrustedProxies`] entry that is neither an IP address nor a CIDR
/// block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not an IP address or CIDR block; write trusted proxies like `10.0.0.1`, `10.0.0.0/8` or `2001:db8::/32`")]
pub struct InvalidTrustedProxy {
    /// The rejected entry.
    pub entry: String,
}

impl TrustedProxies {
    /// Trusts nobody: forwarding headers are always ignored.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts the loopback addresses (`127.0.0.0/8`, `::1`), for a
    /// reverse proxy on the same machine.
    pub fn loopback() -> Self {
        let loopback_v4 = IpNet::new(IpAddr::from([127, 0, 0, 0]), 8);
        let loopback_v6 = IpNet::from(IpAddr::from(Ipv6Addr::LOCALHOST));
        Self::from_networks(loopback_v4.into_iter().chain([loopback_v6]))
    }

    /// Trusts these networks.
    pub fn from_networks(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            networks: networks.into_iter().map(|net| net.trunc()).collect(),
        }
    }

    /// Parses entries such as `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse<I, S>(entries: I) -> Result<Self, InvalidTrustedProxy>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut trusted = Self::none();
        for entry in entries {
            trusted.add(entry.as_ref())?;
        }
        Ok(trusted)
    }

    /// Adds one address or CIDR block.
    pub fn add(&mut self, entry: &str) -> Result<(), InvalidTrustedProxy> {
        let entry = entry.trim();
        let net = match entry.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip.to_canonical()),
            Err(_) => entry.parse::<IpNet>().map_err(|_| InvalidTrustedProxy {
                entry: entry.to_owned(),
            })?,
        };
        self.networks.push(net.trunc());
        Ok(())
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 counts as IPv4).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// Whether nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidTrustedProxy;

    /// A comma- or space-separated list.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(
            list.split([',', ' ', '\t'])
                .filter(|entry| !entry.is_empty()),
        )
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, net) in self.networks.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

/// One entry of a forwarding chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    /// An address the proxy reported.
    Address(IpAddr),
    /// `unknown`, obfuscated, missing or malformed.
    Hidden,
}

/// The client's address for a request that arrived from `peer` with
/// `headers` (see the module docs for the rules).
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !trusted.is_trusted(peer_ip) {
        return peer_ip;
    }
    let hops = forwarded_hops(headers).unwrap_or_else(|| x_forwarded_for_hops(headers));
    let mut nearest = peer_ip;
    for hop in hops.iter().rev() {
        match *hop {
            Hop::Hidden => return nearest,
            Hop::Address(ip) if trusted.is_trusted(ip) => nearest = ip,
            Hop::Address(ip) => return ip,
        }
    }
    nearest
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The `for=` of every `Forwarded` element, or `None` if there is no
/// `Forwarded` field at all.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Hop>> {
    let mut values = headers.get_all(FORWARDED).iter().peekable();
    values.peek()?;
    let mut hops = Vec::new();
    for value in values {
        let Ok(text) = value.to_str() else {
            // Not visible ASCII: we cannot tell where its elements end.
            hops.push(Hop::Hidden);
            continue;
        };
        hops.extend(split_unquoted(text, ',').map(forwarded_element_hop));
    }
    Some(hops)
}

/// RFC 7239 §4: `forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )`,
/// `forwarded-pair = token "=" value`, `value = token / quoted-string`.
fn forwarded_element_hop(element: &str) -> Hop {
    let mut found = None;
    for pair in split_unquoted(element, ';') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((name, value)) = pair.split_once('=') else {
            return Hop::Hidden;
        };
        if !name.trim().eq_ignore_ascii_case("for") {
            continue;
        }
        // RFC 7239 §4: a parameter MUST NOT occur more than once per
        // element; an element that repeats `for` cannot be trusted.
        if found.is_some() {
            return Hop::Hidden;
        }
        found = Some(unquote(value.trim()).map_or(Hop::Hidden, |node| parse_node(&node)));
    }
    found.unwrap_or(Hop::Hidden)
}

/// RFC 7239 §6: `node = nodename [ ":" node-port ]`, where `nodename` is
/// an IPv4 address, a bracketed IPv6 address, `unknown` or an obfuscated
/// `_identifier`.
fn parse_node(node: &str) -> Hop {
    let address = if let Some(rest) = node.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Hop::Hidden;
        };
        if !after.is_empty() && !after.strip_prefix(':').is_some_and(is_node_port) {
            return Hop::Hidden;
        }
        inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else if let Ok(ip) = node.parse::<IpAddr>() {
        // Also accepts a bare IPv6 address, which some proxies send.
        Some(ip)
    } else {
        node.split_once(':')
            .filter(|(_, port)| is_node_port(port))
            .and_then(|(host, _)| host.parse::<std::net::Ipv4Addr>().ok())
            .map(IpAddr::V4)
    };
    address.map_or(Hop::Hidden, |ip| Hop::Address(ip.to_canonical()))
}

/// `node-port = port / obfport` (RFC 7239 §6.3).
fn is_node_port(port: &str) -> bool {
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    digits || obfuscated
}

/// `X-Forwarded-For: client, proxy1, proxy2` over all its fields.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(text) = value.to_str() else {
            hops.push(Hop::Hidden);
            continue;
        };
        hops.extend(text.split(',').map(|item| {
            let item = item.trim();
            // Some proxies append a port; accept the forms `Forwarded` allows.
            match item.parse::<IpAddr>() {
                Ok(ip) => Hop::Address(ip.to_canonical()),
                Err(_) => parse_node(item),
            }
        }));
    }
    hops
}

/// Splits on `separator` outside quoted strings (RFC 9110 §5.6.4).
fn split_unquoted(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut pieces = Vec::new();
    for (index, ch) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes && ch == '\\' {
            escaped = true;
        } else if ch == '"' {
            in_quotes = !in_quotes;
        } else if ch == separator && !in_quotes {
            pieces.push(&text[start..index]);
            start = index + 1;
        }
    }
    pieces.push(&text[start..]);
    pieces.into_iter()
}

/// A token as is, or a quoted string with its escapes removed. `None` for
/// an unterminated quote.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(ch);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn peer(text: &str) -> SocketAddr {
        SocketAddr::new(ip(text), 40000)
    }

    fn trusted() -> TrustedProxies {
        "10.0.0.0/8, 192.168.1.1, fd00::/8".parse().unwrap()
    }

    #[test]
    fn untrusted_peer_forged_headers_are_ignored() {
        let forged = headers(&[
            ("forwarded", "for=198.51.100.1"),
            ("x-forwarded-for", "198.51.100.2"),
        ]);
        assert_eq!(
            client_addr(peer("203.0.113.9"), &forged, &trusted()),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(peer("10.0.0.1"), &forged, &TrustedProxies::none()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_peer_without_headers_is_the_client() {
        assert_eq!(
            client_addr(peer("10.0.0.1"), &HeaderMap::new(), &trusted()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right_skipping_trusted_hops() {
        let h = headers(&[("x-forwarded-for", "198.51.100.66, 203.0.113.7, 10.1.2.3")]);
        // 198.51.100.66 was written by the client (203.0.113.7) itself: a forgery.
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn x_forwarded_for_spans_multiple_fields_in_order() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "10.0.0.5, 192.168.1.1"),
        ]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn x_forwarded_for_items_with_ports_are_understood() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7:5555, [2001:db8::1]:443")]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("2001:db8::1")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.7:5555")]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_rfc7239_examples() {
        for (value, expected) in [
            ("for=\"_gazonk\", for=192.0.2.60", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("for=192.0.2.43, for=198.51.100.17", "198.51.100.17"),
            ("proto=https; FOR=\"192.0.2.60:8080\"", "192.0.2.60"),
            ("for=\"192.0.2.60:_hidden-port\"", "192.0.2.60"),
        ] {
            let h = headers(&[("forwarded", value)]);
            assert_eq!(
                client_addr(peer("10.0.0.1"), &h, &trusted()),
                ip(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn forwarded_trusted_hops_are_skipped() {
        let h = headers(&[(
            "forwarded",
            "for=198.51.100.66, for=203.0.113.7;proto=https, for=\"[fd00::1]:80\"",
        )]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn hidden_hops_stop_the_walk_at_the_nearest_known_address() {
        for value in [
            "for=198.51.100.66, for=unknown, for=10.0.0.7",
            "for=198.51.100.66, for=_obfuscated, for=10.0.0.7",
            "for=198.51.100.66, proto=http, for=10.0.0.7",
            "for=198.51.100.66, for=not-an-address, for=10.0.0.7",
            "for=198.51.100.66, for=1.2.3.4;for=5.6.7.8, for=10.0.0.7",
            "for=198.51.100.66, for=\"[2001:db8::1\", for=10.0.0.7",
        ] {
            let h = headers(&[("forwarded", value)]);
            assert_eq!(
                client_addr(peer("10.0.0.1"), &h, &trusted()),
                ip("10.0.0.7"),
                "{value}"
            );
        }
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn quoted_separators_do_not_split_elements() {
        let h = headers(&[(
            "forwarded",
            "for=203.0.113.7;ext=\"a,b;c\\\"d\", for=10.0.0.9",
        )]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_takes_precedence_over_x_forwarded_for() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.2"),
            ("forwarded", "for=203.0.113.7"),
        ]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn all_hops_trusted_gives_the_leftmost() {
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]);
        assert_eq!(
            client_addr(peer("::ffff:10.0.0.1"), &h, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn non_ascii_header_values_hide_the_hop() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(
            client_addr(peer("10.0.0.1"), &h, &trusted()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn hostile_header_values_never_panic() {
        for value in [
            "",
            ",",
            ";;;",
            "for=",
            "for=\"",
            "for=\"\\",
            "for=[",
            "for=[]:",
            "=,=;=",
            "for=1.2.3.4:999999",
            "for=\"[::1]:x\"",
        ] {
            let h = headers(&[("forwarded", value), ("x-forwarded-for", value)]);
            let addr = client_addr(peer("10.0.0.1"), &h, &trusted());
            assert_eq!(addr, ip("10.0.0.1"), "{value:?}");
        }
    }

    #[test]
    fn trusted_proxies_parse_and_report_bad_entries() {
        let list: TrustedProxies = "127.0.0.1 10.0.0.0/8,::1".parse().unwrap();
        assert!(list.is_trusted(ip("10.255.0.1")));
        assert!(list.is_trusted(ip("::ffff:127.0.0.1")));
        assert!(!list.is_trusted(ip("127.0.0.2")));
        assert_eq!(list.to_string(), "127.0.0.1/32,10.0.0.0/8,::1/128");
        let error = "10.0.0.0/8, proxy.example"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert_eq!(error.entry, "proxy.example");
        assert!(error.to_string().contains("CIDR"));
        assert!(TrustedProxies::loopback().is_trusted(ip("127.3.2.1")));
        assert!(TrustedProxies::loopback().is_trusted(ip("::1")));
        assert!(TrustedProxies::none().is_empty());
    }
}
