//! A plain (non-TLS) listener meeting a TLS client: answered at once.
//!
//! A `wss://` or `https://` client on a plain port sends a TLS ClientHello
//! and waits for a ServerHello that never comes; without this it would
//! sit until the first-request timeout. The first byte tells: every TLS
//! connection starts with a handshake record (content type 22, RFC 8446
//! §5.1), which no HTTP method starts with. Such a connection gets a
//! plain-text `400` and is closed. The client's TLS library reports a
//! record it cannot parse (rustls: "received corrupt message of type
//! InvalidContentType", OpenSSL: "wrong version number") at once, and a
//! person reading the raw bytes sees the explanation. (A TLS alert would
//! read as a version or cipher mismatch, which sends people looking in
//! the wrong place.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What a TLS client gets on the plain port.
pub(crate) const NOT_TLS_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 104\r\n\
Connection: close\r\n\
\r\n\
This port speaks plain HTTP and WebSocket, not TLS; use http:// or ws:// instead of https:// or wss://.\n";

/// How long unread input is drained after the answer, so that closing
/// does not reset the connection and destroy the answer in flight.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// What the first byte on a plain connection says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstByte {
    /// Something else: HTTP for the router (hyper judges it).
    Http,
    /// A TLS handshake record.
    TlsHandshake,
    /// Nothing by `deadline`, end of stream, or an error.
    Nothing,
}

/// Peeks at the first byte without consuming it.
pub(crate) async fn classify(tcp: &TcpStream, deadline: Instant) -> FirstByte {
    let mut byte = [0u8; 1];
    match timeout_at(deadline, tcp.peek(&mut byte)).await {
        Ok(Ok(1)) if byte[0] == TLS_HANDSHAKE_RECORD => FirstByte::TlsHandshake,
        Ok(Ok(1)) => FirstByte::Http,
        _ => FirstByte::Nothing,
    }
}

/// Answers a TLS client that this port does not speak TLS, then closes.
pub(crate) async fn refuse_tls(mut tcp: TcpStream) {
    tracing::info!("a TLS client on the plain port; answering that this port does not speak TLS");
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        tcp.write_all(NOT_TLS_ANSWER).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tcp.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_a_complete_http_response() {
        let text = std::str::from_utf8(NOT_TLS_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 "));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(body.contains("ws://"));
    }
}
