//! HTTP/1.x heads on the wire: bounded parsing helpers shared by the request
//! and response parsers, and the response serialiser.

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use super::HandshakeError;
use crate::Limits;

/// The most entries an [`http::HeaderMap`] can hold.
const HEADER_MAP_CAPACITY: usize = 1 << 15;
/// The shortest header line httparse accepts: a one-byte name, the colon and
/// a bare LF (`a:\n`).
const SHORTEST_HEADER_LINE: usize = 3;

/// Header slots for httparse, sized by `Limits::max_headers`.
///
/// The count is also capped by how many header lines fit in
/// `Limits::max_header_bytes`, so a huge `max_headers` never allocates more
/// than the byte limit allows (and the cap is never the reason a head fails).
pub(super) fn header_slots<'buf>(limits: &Limits) -> Vec<httparse::Header<'buf>> {
    let fit_in_bytes = limits.max_header_bytes / SHORTEST_HEADER_LINE + 1;
    let count = limits
        .max_headers
        .min(fit_in_bytes)
        .min(HEADER_MAP_CAPACITY);
    vec![httparse::EMPTY_HEADER; count]
}

/// The part of `buf` the parser may look at: a head must be complete
/// within `Limits::max_header_bytes`, blank line included.
pub(super) fn window<'buf>(buf: &'buf [u8], limits: &Limits) -> &'buf [u8] {
    &buf[..buf.len().min(limits.max_header_bytes)]
}

/// Turns httparse's answer on [`window`] into ours: `Ok(Some(head_len))`
/// when complete, `Ok(None)` while more bytes may complete it within the
/// limit, an error as soon as it cannot.
pub(super) fn head_length(
    parsed: httparse::Result<usize>,
    buffered: usize,
    slots: usize,
    limits: &Limits,
) -> Result<Option<usize>, HandshakeError> {
    match parsed {
        Ok(httparse::Status::Complete(head_len)) => Ok(Some(head_len)),
        Ok(httparse::Status::Partial) if buffered > limits.max_header_bytes => {
            Err(HandshakeError::HeadTooLarge {
                max: limits.max_header_bytes,
            })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders { max: slots }),
        Err(error) => Err(HandshakeError::MalformedHead(error)),
    }
}

/// Copies httparse's headers into a [`HeaderMap`], keeping repeated lines.
pub(super) fn header_map(parsed: &[httparse::Header<'_>]) -> Result<HeaderMap, HandshakeError> {
    let too_many = |_| HandshakeError::TooManyHeaders { max: parsed.len() };
    let mut headers = HeaderMap::try_with_capacity(parsed.len()).map_err(too_many)?;
    for header in parsed {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| HandshakeError::MalformedHead(httparse::Error::HeaderName))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| HandshakeError::InvalidHeaderValue { name: name.clone() })?;
        headers.try_append(name, value).map_err(too_many)?;
    }
    Ok(headers)
}

/// Serialises a response head (status line, headers, blank line) and then
/// `body` into `out`.
///
/// The status line always says `HTTP/1.1`, the only version a WebSocket
/// handshake is spoken in. `Content-Length: body.len()` is added when the
/// response has none, except for statuses that never carry a body (1xx
/// such as 101, 204, 304). For a 101, `body` is sent as is: it is the start
/// of the WebSocket stream.
pub fn encode_response(response: &Response<()>, body: &[u8], out: &mut Vec<u8>) {
    let status = response.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        write_header(out, name.as_str(), value.as_bytes());
    }
    if may_have_body(status) && !response.headers().contains_key(CONTENT_LENGTH) {
        write_header(out, "content-length", body.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Appends one `name: value` header line.
pub(super) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// RFC 7230 §3.3.2: no Content-Length on 1xx and 204; 304 repeats the
/// representation's length, which this handshake never has.
fn may_have_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_max_headers_but_never_exceed_what_fits() {
        let limits = Limits::default().max_headers(10);
        assert_eq!(header_slots(&limits).len(), 10);
        let limits = Limits::default()
            .max_headers(usize::MAX)
            .max_header_bytes(30);
        assert_eq!(header_slots(&limits).len(), 11);
        let limits = Limits::default()
            .max_headers(usize::MAX)
            .max_header_bytes(usize::MAX);
        assert_eq!(header_slots(&limits).len(), HEADER_MAP_CAPACITY);
    }

    #[test]
    fn encodes_error_response_with_content_length() {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
            .headers_mut()
            .insert("x-why", HeaderValue::from_static("because"));
        let mut out = Vec::new();
        encode_response(&response, b"oops", &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 400 Bad Request\r\nx-why: because\r\ncontent-length: 4\r\n\r\noops"
        );
    }

    #[test]
    fn switching_protocols_gets_no_content_length() {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let mut out = Vec::new();
        encode_response(&response, b"", &mut out);
        assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    }

    #[test]
    fn existing_content_length_is_kept_and_unknown_status_has_empty_reason() {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::from_u16(599).unwrap();
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let mut out = Vec::new();
        encode_response(&response, b"", &mut out);
        assert_eq!(out, b"HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n");
    }
}
