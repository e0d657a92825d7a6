//! permessage-deflate through the builders: negotiation outcomes and
//! compressed messages on the wire.

mod common;

use common::*;
use switchboard::proto::deflate::DeflateConfig;
use switchboard::{ClientBuilder, Message, ServerBuilder};
use switchboard_testkit::io::CountingIo;

fn compressible_text() -> String {
    "{\"channel\":\"prices\",\"symbol\":\"ABC\",\"bid\":101.25,\"ask\":101.5}\n".repeat(1000)
}

#[tokio::test]
async fn negotiated_deflate_compresses_both_ways() {
    bounded(async {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let client_io = CountingIo::new(client_io);
        let counts = client_io.counts();
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
        let before = counts.bytes_written();
        client.send(Message::text(text.clone())).await.unwrap();
        let on_wire = counts.bytes_written() - before;
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
