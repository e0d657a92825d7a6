//! permessage-deflate through the builders: negotiation outcomes and
//! compressed messages on the wire.

mod common;

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use common::*;
use switchboard::proto::deflate::DeflateConfig;
use switchboard::{ClientBuilder, Message, ServerBuilder};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// Counts the bytes written through it.
struct Metered {
    inner: DuplexStream,
    written: Arc<AtomicUsize>,
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        result
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn compressible_text() -> String {
    "{\"channel\":\"prices\",\"symbol\":\"ABC\",\"bid\":101.25,\"ask\":101.5}\n".repeat(1000)
}

#[tokio::test]
async fn negotiated_deflate_compresses_both_ways() {
    bounded(async {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let written = Arc::new(AtomicUsize::new(0));
        let client_io = Metered {
            inner: client_io,
            written: written.clone(),
        };
        let server = tokio::spawn(async move {
            ServerBuilder::new()
                .deflate(DeflateConfig::default())
                .accept(server_io)
                .await
                .unwrap()
        });
        let (mut client, response) = ClientBuilder::new("ws://example.com/")
            .deflate(DeflateConfig::default())
            .connect_on(client_io)
            .await
            .unwrap();
        let mut server = server.await.unwrap();
        let header = response
            .headers()
            .get("sec-websocket-extensions")
            .expect("the server accepted permessage-deflate");
        assert!(header.to_str().unwrap().starts_with("permessage-deflate"));

        let text = compressible_text();
        let before = written.load(Ordering::Relaxed);
        client.send(Message::text(text.clone())).await.unwrap();
        let on_wire = written.load(Ordering::Relaxed) - before;
        assert!(
            on_wire < text.len() / 10,
            "{on_wire} bytes on the wire for {} bytes of text",
            text.len()
        );
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text(text.clone())
        );
        server.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::text(text));
    })
    .await;
}

#[tokio::test]
async fn either_side_without_deflate_gives_an_uncompressed_connection() {
    bounded(async {
        for (client_deflate, server_deflate) in [(true, false), (false, true)] {
            let (mut client, mut server) = pair_with(
                |url| {
                    let builder = ClientBuilder::new(url);
                    if client_deflate {
                        builder.deflate(DeflateConfig::low_memory())
                    } else {
                        builder
                    }
                },
                if server_deflate {
                    ServerBuilder::new().deflate(DeflateConfig::low_memory())
                } else {
                    ServerBuilder::new()
                },
            )
            .await;
            let text = compressible_text();
            client.send(Message::text(text.clone())).await.unwrap();
            assert_eq!(server.recv().await.unwrap().unwrap(), Message::text(text));
        }
    })
    .await;
}
