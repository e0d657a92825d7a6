//! One TCP connection before (or instead of) a WebSocket: reading request
//! heads, answering plain HTTP/1.1 with keep-alive, and handing upgrade
//! requests on to [`super::upgrade`].

use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use switchboard::proto::handshake::{encode_response, parse_request};
use switchboard::proto::HandshakeError;
use switchboard::UpgradeRequest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::{upgrade, App, CHAT_PAGE};

/// How long a client has to send a complete request head on a new
/// connection (the same bound the driver puts on a WebSocket handshake):
/// it stops slowloris clients from holding connections.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection is kept between requests.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(30);
/// Request bodies up to this size are read and thrown away so the
/// connection can be reused; bigger ones end the connection after the
/// answer. None of the plain endpoints takes a body.
const MAX_DISCARDED_BODY: usize = 64 * 1024;
/// After the last answer on a connection, how long unread input is drained
/// so that closing does not reset the connection and destroy the answer.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Read-ahead per read while a head is incomplete; the head limit bounds
/// the total.
const READ_CHUNK: usize = 4096;

/// Serves one accepted connection until it closes or is upgraded.
pub(crate) async fn serve_connection<S>(mut io: S, app: &App)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = BytesMut::new();
    let mut wait = FIRST_REQUEST_TIMEOUT;
    let mut shutdown = app.shutdown.clone();
    loop {
        let deadline = Instant::now() + wait;
        let head = tokio::select! {
            head = read_head(&mut io, &mut buf, deadline, app) => head,
            _ = shutdown.wait() => return,
        };
        let (request, consumed) = match head {
            Head::Request(request, consumed) => (request, consumed),
            Head::Ended => return,
            Head::Invalid(error) => {
                tracing::debug!(%error, "malformed request head");
                let (response, body) = error.to_response();
                let _ = write_response(&mut io, response, &body, false).await;
                close_gracefully(&mut io).await;
                return;
            }
        };
        if UpgradeRequest::is_upgrade(&request) {
            // The whole buffer goes back to the handshake: the head again,
            // then any WebSocket frames that came along with it.
            upgrade::dispatch(io, buf.freeze(), request, app).await;
            return;
        }
        buf.advance(consumed);
        let keep_alive = answer_plain(&mut io, &mut buf, &request).await;
        if !keep_alive {
            close_gracefully(&mut io).await;
            return;
        }
        wait = KEEP_ALIVE_IDLE;
    }
}

/// What reading a request head gave.
enum Head {
    Request(Request<()>, usize),
    /// EOF, a timeout or an I/O error: nothing to answer.
    Ended,
    Invalid(HandshakeError),
}

/// Reads until `buf` starts with a complete request head, within the head
/// size limit and `deadline`.
///
/// The head is parsed only once its blank line has arrived (or the size
/// limit is passed), and the search for that line resumes where it
/// stopped, so a client that dribbles a byte at a time costs linear work,
/// not a re-parse per byte.
async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    deadline: Instant,
    app: &App,
) -> Head {
    let mut searched = 0;
    loop {
        if head_may_be_complete(buf, &mut searched, app.limits.max_header_bytes) {
            match parse_request(buf, &app.limits) {
                Ok(Some((request, consumed))) => return Head::Request(request, consumed),
                Ok(None) => {}
                Err(error) => return Head::Invalid(error),
            }
        }
        buf.reserve(READ_CHUNK);
        match timeout_at(deadline, io.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Head::Ended,
            Ok(Ok(_)) => {}
        }
    }
}

/// Whether `buf` holds the end of a head (`\n\r\n` or `\n\n`, as httparse
/// accepts both) or more than `max_head` bytes (for the parser to refuse).
/// `searched` is how far earlier calls looked.
fn head_may_be_complete(buf: &[u8], searched: &mut usize, max_head: usize) -> bool {
    if buf.len() > max_head {
        return true;
    }
    // Back up two bytes: the end marker may straddle the previous read.
    let start = searched.saturating_sub(2);
    *searched = buf.len();
    buf[start..]
        .windows(2)
        .enumerate()
        .any(|(at, pair)| match pair {
            b"\n\n" => true,
            b"\n\r" => buf.get(start + at + 2) == Some(&b'\n'),
            _ => false,
        })
}

/// Answers a request that is not a WebSocket upgrade. Returns whether the
/// connection stays open for another request.
async fn answer_plain<S>(io: &mut S, buf: &mut BytesMut, request: &Request<()>) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut keep_alive = wants_keep_alive(request);
    match body_length(request) {
        Some(0) => {}
        Some(length) if length <= MAX_DISCARDED_BODY => {
            if !discard_body(io, buf, length).await {
                return false;
            }
        }
        // Too big, or chunked (which these endpoints have no use for):
        // answer, then close instead of reading it.
        _ => keep_alive = false,
    }
    let path = request.uri().path();
    let method = request.method();
    let head_only = method == Method::HEAD;
    let (status, content_type, body): (StatusCode, &str, &[u8]) = match path {
        "/" | "/healthz" | "/echo" | "/chat" if method != Method::GET && !head_only => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            b"only GET and HEAD are allowed here\n",
        ),
        "/" => (
            StatusCode::OK,
            "text/html; charset=utf-8",
            CHAT_PAGE.as_bytes(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain; charset=utf-8", b"ok"),
        "/echo" | "/chat" => (
            StatusCode::UPGRADE_REQUIRED,
            "text/plain; charset=utf-8",
            b"this endpoint speaks WebSocket: connect with a WebSocket client (e.g. `switchboard connect`)\n",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"not found; try /, /healthz, /echo or /chat\n",
        ),
    };
    tracing::debug!(%method, path, status = status.as_u16(), "http request");
    let mut response = Response::new(());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    if status == StatusCode::UPGRADE_REQUIRED {
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    if head_only {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let body = if head_only { &[][..] } else { body };
    match write_response(io, response, body, keep_alive).await {
        Ok(()) => keep_alive,
        Err(_) => false,
    }
}

/// HTTP/1.1 connections persist unless the client says `Connection:
/// close`; HTTP/1.0 ones only if it says `keep-alive` (RFC 9112 §9.3).
fn wants_keep_alive(request: &Request<()>) -> bool {
    let has_token = |token: &str| {
        request
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    };
    if request.version() == Version::HTTP_10 {
        has_token("keep-alive")
    } else {
        !has_token("close")
    }
}

/// The request body's length: `Some(0)` without one, `None` when it is
/// chunked or the length is unreadable (RFC 9112 §6.3: Transfer-Encoding
/// wins over Content-Length).
fn body_length(request: &Request<()>) -> Option<usize> {
    if request.headers().contains_key(header::TRANSFER_ENCODING) {
        return None;
    }
    let mut lengths = request.headers().get_all(header::CONTENT_LENGTH).iter();
    match (lengths.next(), lengths.next()) {
        (None, _) => Some(0),
        (Some(value), None) => value.to_str().ok()?.trim().parse().ok(),
        // Several Content-Length lines: ambiguous, do not guess.
        (Some(_), Some(_)) => None,
    }
}

/// Drops `length` body bytes, first from `buf`, then from `io`. False when
/// the body does not arrive in time.
async fn discard_body<S: AsyncRead + Unpin>(io: &mut S, buf: &mut BytesMut, length: usize) -> bool {
    let from_buf = length.min(buf.len());
    buf.advance(from_buf);
    let mut remaining = length - from_buf;
    let deadline = Instant::now() + FIRST_REQUEST_TIMEOUT;
    let mut sink = [0u8; 4096];
    while remaining > 0 {
        let want = remaining.min(sink.len());
        match timeout_at(deadline, io.read(&mut sink[..want])).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return false,
            Ok(Ok(read)) => remaining -= read,
        }
    }
    true
}

/// Writes a plain response with `Date`, `Server` and the connection
/// decision.
pub(crate) async fn write_response<S: AsyncWrite + Unpin>(
    io: &mut S,
    mut response: Response<()>,
    body: &[u8],
    keep_alive: bool,
) -> std::io::Result<()> {
    let headers = response.headers_mut();
    // RFC 9110 §6.6.1: an origin server with a clock sends Date.
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now()))
    {
        headers.insert(header::DATE, date);
    }
    headers.insert(header::SERVER, HeaderValue::from_static("switchboard"));
    let connection = if keep_alive { "keep-alive" } else { "close" };
    headers.insert(header::CONNECTION, HeaderValue::from_static(connection));
    let mut out = Vec::with_capacity(256 + body.len());
    encode_response(&response, body, &mut out);
    io.write_all(&out).await?;
    io.flush().await
}

/// Ends a connection after its last answer: shuts the write side down,
/// then reads and discards briefly so unread input does not turn the close
/// into a reset that destroys the answer in flight.
pub(crate) async fn close_gracefully<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) {
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        io.shutdown().await?;
        let mut sink = [0u8; 4096];
        while io.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri("/healthz").version(version);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn keep_alive_follows_the_version_default_and_connection_tokens() {
        assert!(wants_keep_alive(&request(Version::HTTP_11, &[])));
        assert!(!wants_keep_alive(&request(
            Version::HTTP_11,
            &[("connection", "Close")]
        )));
        assert!(!wants_keep_alive(&request(Version::HTTP_10, &[])));
        assert!(wants_keep_alive(&request(
            Version::HTTP_10,
            &[("connection", "keep-alive")]
        )));
        assert!(!wants_keep_alive(&request(
            Version::HTTP_11,
            &[("connection", "upgrade, close")]
        )));
    }

    #[test]
    fn a_head_is_parsed_once_its_end_arrives_however_it_is_cut() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..=head.len() {
            let mut searched = 0;
            let first = head_may_be_complete(&head[..cut], &mut searched, 1024);
            assert_eq!(first, cut == head.len(), "cut at {cut}");
            if cut < head.len() {
                assert!(
                    head_may_be_complete(head, &mut searched, 1024),
                    "cut at {cut}"
                );
            }
        }
        let mut searched = 0;
        assert!(head_may_be_complete(
            b"GET / HTTP/1.1\nHost: a\n\n",
            &mut searched,
            1024
        ));
        let mut searched = 0;
        assert!(!head_may_be_complete(
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            &mut searched,
            1024
        ));
        let mut searched = 0;
        assert!(head_may_be_complete(&[b'a'; 1025], &mut searched, 1024));
    }

    #[test]
    fn body_length_refuses_to_guess() {
        assert_eq!(body_length(&request(Version::HTTP_11, &[])), Some(0));
        assert_eq!(
            body_length(&request(Version::HTTP_11, &[("content-length", "12")])),
            Some(12)
        );
        assert_eq!(
            body_length(&request(Version::HTTP_11, &[("content-length", "x")])),
            None
        );
        assert_eq!(
            body_length(&request(
                Version::HTTP_11,
                &[("content-length", "1"), ("content-length", "1")]
            )),
            None
        );
        assert_eq!(
            body_length(&request(
                Version::HTTP_11,
                &[("transfer-encoding", "chunked"), ("content-length", "3")]
            )),
            None
        );
    }
}
