//! Transport steps of the opening handshake shared by client and server:
//! every step runs against one deadline, so a slow peer cannot stretch the
//! handshake past its timeout however it dribbles bytes.

use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
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

    /// The earlier of the deadline and `now + limit`.
    fn capped(&self, limit: Duration) -> Instant {
        self.at.min(Instant::now() + limit)
    }
}

/// Reads more of a handshake head into `buf`; returns the bytes read (0 at EOF).
pub(crate) async fn read_more<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    deadline: &Deadline,
) -> Result<usize, Error> {
    buf.reserve(HANDSHAKE_READ);
    deadline.run(io.read_buf(buf)).await
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
        let mut sink = [0u8; 4096];
        while io.read(&mut sink).await? > 0 {}
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
