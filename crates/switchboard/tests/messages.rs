//! Messages both ways, Stream/Sink, automatic pongs, streaming fragments,
//! and how protocol violations and limits surface.

mod common;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use switchboard::{
    proto, ClientBuilder, CloseCode, Config, DataKind, Delivery, Error, Event, Limits, Message,
    Misuse, ServerBuilder,
};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn text_and_binary_of_all_sizes_roundtrip() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        for size in [0usize, 1, 125, 126, 65535, 65536, 1 << 20] {
            let text: String = "é".repeat(size / 2);
            client.send(Message::text(text.clone())).await.unwrap();
            match server.recv().await.unwrap().unwrap() {
                Message::Text(got) => assert_eq!(got.as_str(), text),
                other => panic!("{other:?}"),
            }
            let data = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<_>>());
            server.send(Message::Binary(data.clone())).await.unwrap();
            assert_eq!(client.recv().await.unwrap().unwrap(), Message::Binary(data));
        }
    })
    .await;
}

#[tokio::test]
async fn stream_and_sink_traits_carry_messages_in_order() {
    bounded(async {
        let (mut client, server) = pair().await;
        let echo = tokio::spawn(async move {
            let mut server = server;
            while let Some(message) = StreamExt::next(&mut server).await {
                let message = message.unwrap();
                if message.is_data() {
                    SinkExt::send(&mut server, message).await.unwrap();
                }
            }
        });
        let messages: Vec<Message> = (0..100).map(|i| Message::text(format!("m{i}"))).collect();
        let mut outgoing = futures_util::stream::iter(messages.clone().into_iter().map(Ok));
        client.send_all(&mut outgoing).await.unwrap();
        let mut received = Vec::new();
        while received.len() < messages.len() {
            received.push(client.next().await.unwrap().unwrap());
        }
        assert_eq!(received, messages);
        client.close(CloseCode::NORMAL, "").await.unwrap();
        echo.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn application_ping_gets_an_automatic_pong() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        // The server only reads; its pong goes out automatically.
        let reader = tokio::spawn(async move {
            let first = server.recv().await.unwrap().unwrap();
            (server, first)
        });
        client
            .send(Message::Ping(Bytes::from_static(b"are you there")))
            .await
            .unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"are you there"))
        );
        let (_server, first) = reader.await.unwrap();
        assert_eq!(first, Message::Ping(Bytes::from_static(b"are you there")));
    })
    .await;
}

#[tokio::test]
async fn huge_message_streams_in_fragments_without_reassembly() {
    bounded(async {
        const PIECE: usize = 64 * 1024;
        const PIECES: usize = 64; // 4 MiB total, more than the receiver's message limit
        let (mut client, mut server) = pair_with(
            ClientBuilder::new,
            ServerBuilder::new()
                .config(Config::default().delivery(Delivery::Chunks))
                .limits(
                    Limits::default()
                        .max_frame_size(PIECE)
                        .max_message_size(PIECE * PIECES),
                ),
        )
        .await;
        let sender = tokio::spawn(async move {
            for i in 0..PIECES {
                let piece = Bytes::from(vec![i as u8; PIECE]);
                client
                    .send_fragment(DataKind::Binary, piece, i == 0, i == PIECES - 1)
                    .await
                    .unwrap();
            }
            client
        });
        let mut total = 0;
        let mut pieces = 0;
        loop {
            let fragment = server.recv_chunk().await.unwrap().unwrap();
            assert_eq!(fragment.kind, DataKind::Binary);
            assert_eq!(fragment.first, total == 0);
            assert!(fragment.payload.len() <= PIECE);
            assert!(fragment.payload.iter().all(|&b| b == (total / PIECE) as u8));
            total += fragment.payload.len();
            pieces += 1;
            if fragment.fin {
                break;
            }
        }
        assert_eq!(total, PIECE * PIECES);
        assert!(pieces >= PIECES);
        let mut client = sender.await.unwrap();

        // In fragment mode the whole-message API says what to use instead.
        client.send(Message::text("x")).await.unwrap();
        assert!(matches!(
            server.recv().await,
            Some(Err(Error::Misuse(Misuse::RecvWithChunkedDelivery)))
        ));
        // ... and the connection is still fine.
        client.send(Message::text("y")).await.unwrap();
        match server.recv_event().await.unwrap().unwrap() {
            Event::Chunk(f) => assert_eq!(&f.payload[..], b"y"),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn unmasked_client_frame_fails_with_1002() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            let error = ws.recv().await.unwrap().unwrap_err();
            assert!(ws.recv().await.is_none());
            error
        });
        let mut tcp = raw_client(addr).await;
        // RFC 6455 §5.1: a server must fail on an unmasked client frame.
        tcp.write_all(&frame(0x1, b"no mask", true, None))
            .await
            .unwrap();
        let close = read_frame(&mut tcp).await.unwrap();
        assert_eq!(close.opcode, 0x8);
        assert_eq!(close_code(&close.payload), 1002);
        tcp.shutdown().await.unwrap();
        let error = server.await.unwrap();
        assert!(
            matches!(error, Error::Connection(proto::Error::Protocol(_))),
            "{error:?}"
        );
        assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        assert!(read_to_end(&mut tcp).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8_fails_with_1007() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            ws.recv().await.unwrap().unwrap_err()
        });
        let mut tcp = raw_client(addr).await;
        tcp.write_all(&client_frame(0x1, b"\xff\xfe"))
            .await
            .unwrap();
        let close = read_frame(&mut tcp).await.unwrap();
        assert_eq!(close.opcode, 0x8);
        assert_eq!(close_code(&close.payload), 1007);
        let error = server.await.unwrap();
        assert_eq!(error.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    })
    .await;
}

#[tokio::test]
async fn message_over_the_limit_fails_with_1009() {
    bounded(async {
        let (mut client, mut server) = pair_with(
            ClientBuilder::new,
            ServerBuilder::new().limits(Limits::default().max_message_size(1024)),
        )
        .await;
        client.send(Message::binary(vec![0u8; 2048])).await.unwrap();
        let error = server.recv().await.unwrap().unwrap_err();
        assert!(
            matches!(error, Error::Connection(proto::Error::Limit(_))),
            "{error:?}"
        );
        assert_eq!(error.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
        match client.recv().await.unwrap().unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            client.send(Message::text("late")).await,
            Err(Error::ConnectionClosed)
        ));
    })
    .await;
}

#[tokio::test]
async fn invalid_sends_are_refused_without_harming_the_connection() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        let error = client
            .send(Message::Ping(Bytes::from(vec![0u8; 126])))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Send(_)), "{error:?}");
        let error = client.close(CloseCode(1006), "").await.unwrap_err();
        assert!(matches!(error, Error::Send(_)), "{error:?}");
        client.send(Message::text("still fine")).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text("still fine")
        );
    })
    .await;
}
