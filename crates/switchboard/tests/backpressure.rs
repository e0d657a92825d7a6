//! Bounded write buffer, corked writes (`feed` + `flush`), vectored writes
//! with the coalescing fallback.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use switchboard::{Config, Limits, Message, Role, WebSocket};
use switchboard_testkit::io::{CountingIo, IoCounts};
use tokio::io::DuplexStream;

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

struct Counted {
    sender: WebSocket<CountingIo<DuplexStream>>,
    receiver: WebSocket<DuplexStream>,
    counts: Arc<IoCounts>,
}

fn counted_pair(vectored: bool) -> Counted {
    let (a, b) = tokio::io::duplex(1 << 20);
    let io = CountingIo::with_vectored(a, vectored);
    let counts = io.counts();
    Counted {
        sender: WebSocket::from_raw(io, Role::Server, Config::default(), Limits::default()),
        receiver: WebSocket::from_raw(b, Role::Client, Config::default(), Limits::default()),
        counts,
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
            assert_eq!(pair.counts.writes(), 0, "feed must not write");
            pair.sender.flush().await.unwrap();
            assert_eq!(
                pair.counts.writes(),
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
        assert_eq!(pair.counts.writes(), 1);
        // The payload is not copied next to the header: header and payload
        // are separate slices of the same vectored write.
        assert!(pair.counts.slices_in_last_write() >= 2);
        assert_eq!(
            pair.receiver.recv().await.unwrap().unwrap(),
            Message::Binary(payload)
        );
    })
    .await;
}
