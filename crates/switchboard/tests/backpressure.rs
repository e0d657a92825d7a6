//! Bounded write buffer, corked writes (`feed` + `flush`), vectored writes
//! with the coalescing fallback.

mod common;

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use switchboard::{Config, Limits, Message, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

#[tokio::test]
async fn send_waits_while_the_write_buffer_is_over_the_limit() {
    bounded(async {
        let (listener, addr) = listener().await;
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let peer = tokio::spawn(async move {
            let mut tcp = raw_client(addr).await;
            // Do not read until told: the server's socket buffers fill up.
            release_rx.await.unwrap();
            let mut total = 0;
            while total < 64 << 20 {
                total += read_frame(&mut tcp).await.unwrap().payload.len();
            }
            total
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = switchboard::accept(tcp).await.unwrap();
        const LIMIT: usize = 64 * 1024;
        const MESSAGE: usize = 16 * 1024;
        ws.set_write_buffer_limit(LIMIT);
        let message = Message::Binary(Bytes::from(vec![7u8; MESSAGE]));
        let mut fed = 0usize;
        // Feed until feed() blocks: the buffer is over the limit and the
        // transport takes nothing more.
        loop {
            match tokio::time::timeout(Duration::from_millis(300), ws.feed(message.clone())).await {
                Ok(result) => {
                    result.unwrap();
                    fed += MESSAGE;
                    assert!(ws.buffered_amount() < LIMIT + MESSAGE + 64);
                }
                Err(_) => break,
            }
            assert!(fed < 256 << 20, "feed never applied backpressure");
        }
        assert!(ws.buffered_amount() >= LIMIT);
        // Once the peer reads, sending continues.
        release_tx.send(()).unwrap();
        while fed < 64 << 20 {
            ws.feed(message.clone()).await.unwrap();
            fed += MESSAGE;
        }
        ws.flush().await.unwrap();
        assert!(peer.await.unwrap() >= 64 << 20);
    })
    .await;
}

/// A duplex stream that counts write calls and can claim vectored support.
struct CountingIo {
    inner: DuplexStream,
    vectored: bool,
    writes: Arc<AtomicUsize>,
    slices_in_last_write: Arc<AtomicUsize>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.slices_in_last_write.store(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.vectored {
            return Poll::Ready(Err(io::Error::other(
                "vectored write on a transport that said it does not support it",
            )));
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.slices_in_last_write
            .store(bufs.len(), Ordering::Relaxed);
        // Take everything, as a socket with room would.
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        Pin::new(&mut self.inner).poll_write(cx, &all)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct Counted {
    sender: WebSocket<CountingIo>,
    receiver: WebSocket<DuplexStream>,
    writes: Arc<AtomicUsize>,
    slices_in_last_write: Arc<AtomicUsize>,
}

fn counted_pair(vectored: bool) -> Counted {
    let (a, b) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let slices_in_last_write = Arc::new(AtomicUsize::new(0));
    let io = CountingIo {
        inner: a,
        vectored,
        writes: writes.clone(),
        slices_in_last_write: slices_in_last_write.clone(),
    };
    Counted {
        sender: WebSocket::from_raw(io, Role::Server, Config::default(), Limits::default()),
        receiver: WebSocket::from_raw(b, Role::Client, Config::default(), Limits::default()),
        writes,
        slices_in_last_write,
    }
}

#[tokio::test]
async fn feed_then_flush_is_one_write_for_many_messages() {
    bounded(async {
        for vectored in [true, false] {
            let mut pair = counted_pair(vectored);
            for i in 0..50 {
                pair.sender
                    .feed(Message::text(format!("message {i:02}")))
                    .await
                    .unwrap();
            }
            assert_eq!(
                pair.writes.load(Ordering::Relaxed),
                0,
                "feed must not write"
            );
            pair.sender.flush().await.unwrap();
            assert_eq!(
                pair.writes.load(Ordering::Relaxed),
                1,
                "vectored={vectored}: 50 small messages should leave in one write"
            );
            for i in 0..50 {
                assert_eq!(
                    pair.receiver.recv().await.unwrap().unwrap(),
                    Message::text(format!("message {i:02}"))
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn header_and_payload_leave_in_one_write() {
    bounded(async {
        let mut pair = counted_pair(true);
        let payload = Bytes::from(vec![3u8; 4096]);
        pair.sender
            .send(Message::Binary(payload.clone()))
            .await
            .unwrap();
        assert_eq!(pair.writes.load(Ordering::Relaxed), 1);
        // The payload is not copied next to the header: header and payload
        // are separate slices of the same vectored write.
        assert!(pair.slices_in_last_write.load(Ordering::Relaxed) >= 2);
        assert_eq!(
            pair.receiver.recv().await.unwrap().unwrap(),
            Message::Binary(payload)
        );
    })
    .await;
}
