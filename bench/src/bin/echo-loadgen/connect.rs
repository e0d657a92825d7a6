//! Opening connections: TCP connect, and for WebSocket servers the opening
//! handshake (RFC 6455 §4), done blocking before any load starts.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};

use anyhow::{bail, ensure, Context as _};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Where to connect and what to ask for.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// `host:port` for the Host header.
    pub authority: String,
    /// Request path (with query).
    pub path: String,
}

impl Target {
    /// Parses `ws://host:port/path` (or `tcp://host:port/` for raw TCP).
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("ws://")
            .or_else(|| url.strip_prefix("tcp://"))
            .with_context(|| {
                format!("{url:?}: write ws://host:port/path (or tcp://host:port/ with --raw-tcp)")
            })?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let addr = authority
            .to_socket_addrs()
            .with_context(|| format!("{authority:?} is not host:port"))?
            .next()
            .with_context(|| format!("{authority} resolved to no address"))?;
        Ok(Target {
            addr,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

/// A TCP connection with `TCP_NODELAY`, as every server in the table sets too.
pub fn tcp(target: &Target) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(target.addr)
        .with_context(|| format!("connecting to {}", target.addr))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A connection that has completed the WebSocket opening handshake.
/// `index` varies the `Sec-WebSocket-Key` per connection.
pub fn websocket(target: &Target, index: usize) -> anyhow::Result<TcpStream> {
    let mut stream = tcp(target)?;
    let key = handshake_key(index);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.authority
    );
    stream.write_all(request.as_bytes())?;
    // Read the response byte by byte up to its blank line, so no echo
    // bytes are ever consumed here (the server sends none before our first
    // frame anyway).
    let mut response = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        ensure!(
            response.len() < 8192,
            "the handshake response exceeds 8 KiB"
        );
        if stream.read(&mut byte)? == 0 {
            bail!("the server closed the connection during the handshake");
        }
        response.push(byte[0]);
    }
    check_response(&String::from_utf8_lossy(&response), &key)?;
    Ok(stream)
}

/// A 16-byte nonce, base64-encoded (24 characters), distinct per connection.
fn handshake_key(index: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut value = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut key: String = (0..21)
        .map(|_| {
            value ^= value << 13;
            value ^= value >> 7;
            value ^= value << 17;
            ALPHABET[(value % 64) as usize] as char
        })
        .collect();
    // 16 bytes are 22 characters of base64 then "==": the last character
    // carries 2 bits, so it must be one of A, Q, g, w.
    key.push('A');
    key.push_str("==");
    key
}

fn check_response(response: &str, key: &str) -> anyhow::Result<()> {
    let status = response.lines().next().unwrap_or_default();
    ensure!(
        status.starts_with("HTTP/1.1 101"),
        "the server refused the upgrade: {status:?}"
    );
    let accept = response
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim())
        .context("the 101 response has no Sec-WebSocket-Accept header")?;
    ensure!(
        accept == derive_accept_key(key.as_bytes()),
        "wrong Sec-WebSocket-Accept {accept:?}: the server did not answer this handshake"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_address_host_and_path() {
        let target = Target::parse("ws://127.0.0.1:9301/bench?x=1").unwrap();
        assert_eq!(target.addr, "127.0.0.1:9301".parse().unwrap());
        assert_eq!(target.authority, "127.0.0.1:9301");
        assert_eq!(target.path, "/bench?x=1");
        assert_eq!(Target::parse("tcp://127.0.0.1:9305").unwrap().path, "/");
        assert!(Target::parse("http://127.0.0.1:1/").is_err());
    }

    #[test]
    fn keys_are_24_characters_of_base64_and_differ() {
        let (a, b) = (handshake_key(0), handshake_key(1));
        assert_eq!(a.len(), 24);
        assert!(a.ends_with("A=="));
        assert_ne!(a, b);
    }

    #[test]
    fn the_accept_header_must_match_the_key() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_response(good, key).is_ok());
        assert!(check_response(&good.replace("xOo", "xOp"), key).is_err());
        assert!(check_response("HTTP/1.1 400 Bad Request\r\n\r\n", key).is_err());
    }
}
