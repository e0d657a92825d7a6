//! Transport steps of the opening handshake shared by client and server:
//! every step runs against one deadline, so a slow peer cannot stretch the
//! handshake past its timeout however it dribbles bytes.

use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use switchboard_proto::HandshakeError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::error::{Error, TimeoutKind};

/// How long a server keeps reading (and discarding) after it wrote an HTTP
/// rejection and shut down its write side, so that unread request bytes do
/// not turn the close into a TCP reset that destroys the rejection in
/// flight.
const REJECTION_LINGER: Duration = Duration::from_secs(1);

/// Read-ahead per handshake read; the head parser's limit bounds the total.
const HANDSHAKE_READ: usize = 2048;

/// The deadline of one opening handshake.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    pub(crate) fn error(&self) -> Error {
        Error::Timeout(TimeoutKind::Handshake(self.timeout))
    }

    /// Runs `step`, failing with a handshake timeout at the deadline.
    pub(crate) async fn run<T>(
        &self,
        step: impl Future<Output = io::Result<T>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout_at(self.at, step).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(self.error()),
        }
    }

    /// Runs a step with its own error type (the TLS handshake), failing
    /// with a handshake timeout at the deadline.
    pub(crate) async fn run_step<T, E: Into<Error>>(
        &self,
        step: impl Future<Output = Result<T, E>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout_at(self.at, step).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(self.error()),
        }
    }

    /// The earlier of the deadline and `now + limit`.
    fn capped(&self, limit: Duration) -> Instant {
        self.at.min(Instant::now() + limit)
    }
}

/// Whether `buf` may now hold a complete HTTP head: an empty line
/// (`\n\n` or `\n\r\n`) appears in the bytes from `scanned` on, or
/// `limit` is exceeded (so the parser reports the size error). Parsing only
/// then keeps a client that dribbles bytes from costing a full re-parse per
/// byte.
pub(crate) fn head_may_be_complete(buf: &[u8], scanned: usize, limit: usize) -> bool {
    if buf.len() > limit {
        return true;
    }
    let window = &buf[scanned.saturating_sub(2)..];
    window
        .windows(2)
        .enumerate()
        .any(|(i, w)| w == b"\n\n" || (w == b"\n\r" && window.get(i + 2) == Some(&b'\n')))
}

/// Reads an HTTP head (the client's request or the server's response)
/// until `parse`, the protocol core's parser, finds it complete. Returns
/// what `parse` made of it and the bytes that followed the head (a
/// pipelined first frame); or, in the inner `Err`, why the core refused the
/// head, for the caller to answer.
///
/// The head is parsed only once its end may be in the buffer (see
/// [`head_may_be_complete`]), or at once when its first byte cannot start
/// an HTTP head (a TLS ClientHello starts with 0x16: a `wss://` client on a
/// `ws://` port), so that peer gets its answer now rather than at the
/// handshake timeout. `peer` names the other side for the error when it
/// closes the connection mid-head.
pub(crate) async fn read_head<S, T>(
    io: &mut S,
    deadline: &Deadline,
    max_header_bytes: usize,
    peer: &str,
    mut parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
) -> Result<Result<(T, BytesMut), HandshakeError>, Error>
where
    S: AsyncRead + Unpin,
{
    let mut buf = BytesMut::new();
    loop {
        let scanned = buf.len();
        buf.reserve(HANDSHAKE_READ);
        let read = deadline.run(io.read_buf(&mut buf)).await?;
        let cannot_be_http = buf.first().is_some_and(|byte| !byte.is_ascii_alphabetic());
        if read > 0 && !cannot_be_http && !head_may_be_complete(&buf, scanned, max_header_bytes) {
            continue;
        }
        match parse(&buf) {
            Ok(Some((head, consumed))) => return Ok(Ok((head, buf.split_off(consumed)))),
            Ok(None) if read == 0 => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the {peer} closed the connection during the opening handshake"),
                )))
            }
            Ok(None) => {}
            Err(refused) => return Ok(Err(refused)),
        }
    }
}

/// Writes `bytes` and flushes.
pub(crate) async fn write_all<S: AsyncWrite + Unpin>(
    io: &mut S,
    bytes: &[u8],
    deadline: &Deadline,
) -> Result<(), Error> {
    deadline
        .run(async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await
}

/// Writes an HTTP rejection, closes the write side and lingers briefly,
/// discarding input, so the client reads the rejection instead of a reset.
/// Failures are ignored: the client is being turned away anyway.
pub(crate) async fn write_rejection<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    response: &http::Response<()>,
    body: &[u8],
    deadline: &Deadline,
) {
    let mut out = Vec::with_capacity(256 + body.len());
    switchboard_proto::handshake::encode_response(response, body, &mut out);
    if write_all(io, &out, deadline).await.is_err() {
        return;
    }
    let linger_until = deadline.capped(REJECTION_LINGER);
    let _ = tokio::time::timeout_at(linger_until, async {
        io.shutdown().await?;
        // Discarded through a stack buffer of a plain function, so that the
        // buffer is not part of this future's state.
        while std::future::poll_fn(|cx| crate::transport::poll_read_discard(io, cx)).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// Reads at most `limit` more body bytes after a non-101 response, until
/// EOF, `limit`, or (for a body without a length) a short grace period.
pub(crate) async fn read_body<S: AsyncRead + Unpin>(
    io: &mut S,
    body: &mut BytesMut,
    limit: usize,
    deadline: &Deadline,
    length_known: bool,
) {
    let until = if length_known {
        deadline.at
    } else {
        deadline.capped(Duration::from_secs(1))
    };
    let _ = tokio::time::timeout_at(until, async {
        while body.len() < limit {
            body.reserve(HANDSHAKE_READ.min(limit - body.len()));
            if io.read_buf(body).await? == 0 {
                break;
            }
        }
        io::Result::Ok(())
    })
    .await;
    body.truncate(limit);
}

#[cfg(test)]
mod tests {
    use super::head_may_be_complete;

    #[test]
    fn head_end_is_found_across_reads_and_line_ending_styles() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for cut in 0..head.len() {
            // Bytes up to `cut` were scanned by an earlier read.
            let found = head_may_be_complete(head, cut, 16 * 1024);
            assert!(found, "end not found with scanned={cut}");
        }
        assert!(!head_may_be_complete(
            b"GET / HTTP/1.1\r\nHost: x\r\n",
            0,
            1024
        ));
        assert!(head_may_be_complete(
            b"GET / HTTP/1.1\nHost: x\n\n",
            20,
            1024
        ));
        // Over the limit: let the parser report the size error.
        assert!(head_may_be_complete(&[b'a'; 2000], 1990, 1024));
    }
}
