//! `recv` is cancel safe: a future dropped while a frame is half read loses
//! nothing. The transport here is a scripted `AsyncRead` that hands out
//! exactly the chunks the test releases and returns `Pending` in between.

mod common;

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use switchboard::{Config, Limits, Message, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Default)]
struct Script {
    chunks: VecDeque<Vec<u8>>,
    reader: Option<Waker>,
    pendings: usize,
}

/// Reads return released chunks one at a time, `Pending` when none is left.
#[derive(Clone, Default)]
struct ScriptedIo(Arc<Mutex<Script>>);

impl ScriptedIo {
    fn release(&self, chunk: &[u8]) {
        let mut script = self.0.lock().unwrap();
        script.chunks.push_back(chunk.to_vec());
        if let Some(waker) = script.reader.take() {
            waker.wake();
        }
    }

    fn pendings(&self) -> usize {
        self.0.lock().unwrap().pendings
    }
}

impl AsyncRead for ScriptedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut script = self.0.lock().unwrap();
        match script.chunks.pop_front() {
            Some(mut chunk) => {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    chunk.drain(..n);
                    script.chunks.push_front(chunk);
                }
                Poll::Ready(Ok(()))
            }
            None => {
                script.pendings += 1;
                script.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for ScriptedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn server_on(io: ScriptedIo) -> WebSocket<ScriptedIo> {
    let config = Config::default().ping_interval(None);
    WebSocket::from_raw(io, Role::Server, config, Limits::default())
}

/// Releases `first`, lets a `recv` run into `Pending` and drops it (a
/// `select!` whose timer wins), then releases `rest` and receives again.
async fn cancel_between(first: &[u8], rest: &[u8]) -> Message {
    let io = ScriptedIo::default();
    let mut ws = server_on(io.clone());
    io.release(first);
    tokio::select! {
        biased;
        message = ws.recv() => panic!("a partial frame produced {message:?}"),
        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
    }
    assert!(io.pendings() >= 1, "recv never reached Pending mid-frame");
    io.release(rest);
    ws.recv().await.unwrap().unwrap()
}

#[tokio::test]
async fn recv_dropped_mid_payload_loses_nothing() {
    bounded(async {
        let text = "cancel safety is a property of the state, not the future";
        let frame = client_frame(0x1, text.as_bytes());
        let (first, rest) = frame.split_at(frame.len() / 2);
        assert_eq!(cancel_between(first, rest).await, Message::text(text));
    })
    .await;
}

#[tokio::test]
async fn recv_dropped_mid_header_loses_nothing() {
    bounded(async {
        let payload = vec![0x5a; 70_000]; // 64-bit length form
        let frame = client_frame(0x2, &payload);
        let (first, rest) = frame.split_at(3);
        assert_eq!(
            cancel_between(first, rest).await,
            Message::Binary(Bytes::from(payload))
        );
    })
    .await;
}

#[tokio::test]
async fn recv_dropped_repeatedly_across_a_fragmented_message() {
    bounded(async {
        let io = ScriptedIo::default();
        let mut ws = server_on(io.clone());
        let mut wire = frame(0x1, b"frag", false, Some([1, 2, 3, 4]));
        wire.extend(frame(0x9, b"ping", true, Some([5, 6, 7, 8])));
        wire.extend(frame(0x0, b"mented", true, Some([9, 9, 9, 9])));
        // Release one byte at a time, cancelling a recv after each.
        let mut messages = Vec::new();
        for byte in &wire {
            io.release(std::slice::from_ref(byte));
            tokio::select! {
                biased;
                message = ws.recv() => messages.push(message.unwrap().unwrap()),
                _ = tokio::task::yield_now() => {}
            }
        }
        while messages.len() < 2 {
            messages.push(ws.recv().await.unwrap().unwrap());
        }
        assert_eq!(
            messages,
            [
                Message::Ping(Bytes::from_static(b"ping")),
                Message::text("fragmented")
            ]
        );
    })
    .await;
}
