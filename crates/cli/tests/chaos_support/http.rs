//! One HTTP/1.1 request per connection over tokio, for the server API and
//! the health endpoints: every failure is an error the caller may retry,
//! never a panic (nodes die on purpose in these tests).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on one whole request, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<Response, String> {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: chaos\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// `POST path` with a JSON body.
pub async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Result<Response, String> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: chaos\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    exchange(addr, &(head + body)).await
}

async fn exchange(addr: SocketAddr, request: &str) -> Result<Response, String> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write to {addr}: {e}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| format!("read from {addr}: {e}"))?;
        parse(&raw).ok_or_else(|| {
            format!(
                "no HTTP response from {addr}: {:?}",
                String::from_utf8_lossy(&raw)
            )
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(format!("{addr} did not answer within {REQUEST_TIMEOUT:?}")))
}

/// Status line and body of a complete response; a chunked body is joined.
fn parse(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        unchunk(body)?
    } else {
        body.to_owned()
    };
    Some(Response { status, body })
}

fn unchunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size + 2..)?;
    }
}
