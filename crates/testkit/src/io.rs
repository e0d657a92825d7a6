//! A transport wrapper that counts what passes through it, for tests that
//! check how many bytes or write calls reach the wire.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a [`CountingIo`] has seen so far; the test keeps a handle while the
/// transport itself moves into a WebSocket.
#[derive(Debug, Default)]
pub struct IoCounts {
    bytes_read: AtomicUsize,
    bytes_written: AtomicUsize,
    writes: AtomicUsize,
    slices_in_last_write: AtomicUsize,
}

impl IoCounts {
    /// Bytes the reader received.
    pub fn bytes_read(&self) -> usize {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Bytes the inner transport accepted.
    pub fn bytes_written(&self) -> usize {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// Write calls, plain and vectored.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// Slices handed to the latest write call (1 for a plain write).
    pub fn slices_in_last_write(&self) -> usize {
        self.slices_in_last_write.load(Ordering::Relaxed)
    }
}

/// Forwards to `inner`, counting into [`IoCounts`].
pub struct CountingIo<T> {
    inner: T,
    vectored: bool,
    counts: Arc<IoCounts>,
}

impl<T> CountingIo<T> {
    /// A wrapper that does not claim vectored writes, so callers must
    /// coalesce; a vectored write then fails, which exposes a caller that
    /// ignores [`AsyncWrite::is_write_vectored`].
    pub fn new(inner: T) -> Self {
        Self::with_vectored(inner, false)
    }

    /// A wrapper that claims vectored writes when `vectored`, taking each
    /// one whole, as a socket with room would.
    pub fn with_vectored(inner: T, vectored: bool) -> Self {
        Self {
            inner,
            vectored,
            counts: Arc::default(),
        }
    }

    /// A handle on the counts that outlives moving the wrapper away.
    pub fn counts(&self) -> Arc<IoCounts> {
        self.counts.clone()
    }
}

// `get_mut` rather than `mut self`: these impls require an `Unpin`
// transport, which makes the wrapper `Unpin` too.
impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.counts
            .bytes_read
            .fetch_add(buf.filled().len() - before, Ordering::Relaxed);
        result
    }
}

impl<T: AsyncWrite + Unpin> CountingIo<T> {
    fn count_write(&self, slices: usize, result: &Poll<io::Result<usize>>) {
        self.counts.writes.fetch_add(1, Ordering::Relaxed);
        self.counts
            .slices_in_last_write
            .store(slices, Ordering::Relaxed);
        if let Poll::Ready(Ok(written)) = result {
            self.counts
                .bytes_written
                .fetch_add(*written, Ordering::Relaxed);
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count_write(1, &result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.vectored {
            return Poll::Ready(Err(io::Error::other(
                "vectored write on a transport that said it does not support it",
            )));
        }
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let result = Pin::new(&mut this.inner).poll_write(cx, &all);
        this.count_write(bufs.len(), &result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
