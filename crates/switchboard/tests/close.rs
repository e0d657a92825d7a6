//! The close handshake: clean closes from either side, who closes TCP,
//! bounded waits, immediate close, abnormal closure (1006).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use switchboard::{proto, CloseCode, CloseFrame, Config, Error, Message, ServerBuilder, State};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn client_close_is_clean_on_both_sides() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        // The server only reads: the close echo goes out automatically.
        let reader = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(message) = server.recv().await {
                seen.push(message.unwrap());
            }
            (server, seen)
        });
        client.send(Message::text("last words")).await.unwrap();
        client.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(client.state(), State::Closed);
        let (server, seen) = reader.await.unwrap();
        assert_eq!(
            seen,
            [
                Message::text("last words"),
                Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")))
            ]
        );
        assert_eq!(server.state(), State::Closed);
        // After the close, the client stream ends cleanly too.
        assert!(client.recv().await.is_none());
        // close() is idempotent once closed cleanly.
        client.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn server_close_is_clean_and_the_server_closes_tcp_first() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            ws.close(CloseCode::GOING_AWAY, "restart").await
        });
        let mut tcp = raw_client(addr).await;
        let close = read_frame(&mut tcp).await.unwrap();
        assert_eq!(close.opcode, 0x8);
        assert_eq!(close_code(&close.payload), 1001);
        assert_eq!(&close.payload[2..], b"restart");
        // Echo the close but keep TCP open: the server must close it.
        tcp.write_all(&client_frame(0x8, &close.payload))
            .await
            .unwrap();
        assert!(read_to_end(&mut tcp).await.is_empty(), "EOF expected");
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn client_waits_for_the_server_to_close_tcp() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        let server_task = tokio::spawn(async move {
            let close = server.recv().await.unwrap().unwrap();
            assert!(matches!(close, Message::Close(_)));
            // The stream ends after the server shut down TCP.
            assert!(server.recv().await.is_none());
            server
        });
        client.close(CloseCode::NORMAL, "").await.unwrap();
        let _server = server_task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn peer_vanishing_is_an_abnormal_closure() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            let first = ws.recv().await.unwrap().unwrap();
            let error = ws.recv().await.unwrap().unwrap_err();
            let after = ws.recv().await;
            (first, error, after.is_none())
        });
        let mut tcp = raw_client(addr).await;
        tcp.write_all(&client_frame(0x1, b"hi")).await.unwrap();
        drop(tcp); // no close frame
        let (first, error, ended) = server.await.unwrap();
        assert_eq!(first, Message::text("hi"));
        assert!(error.is_abnormal_closure(), "{error:?}");
        assert_eq!(error.close_code(), Some(CloseCode::ABNORMAL));
        assert!(ended);
    })
    .await;
}

#[tokio::test]
async fn close_wait_is_bounded_by_the_close_timeout() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = ServerBuilder::new()
                .config(Config::default().close_timeout(Duration::from_millis(300)))
                .accept(tcp)
                .await
                .unwrap();
            ws.close(CloseCode::NORMAL, "").await
        });
        let mut tcp = raw_client(addr).await;
        // Read the close frame but never answer it.
        let close = read_frame(&mut tcp).await.unwrap();
        assert_eq!(close.opcode, 0x8);
        let result = server.await.unwrap();
        assert!(
            matches!(
                result,
                Err(Error::Connection(proto::Error::CloseTimeout(_)))
            ),
            "{result:?}"
        );
        // The server dropped the connection.
        assert!(read_to_end(&mut tcp).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn close_now_sends_a_close_frame_without_waiting() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            ws.close_now();
            let after = ws.recv().await;
            let send = ws.send(Message::text("x")).await;
            (after.is_none(), send)
        });
        let mut tcp = raw_client(addr).await;
        let close = read_frame(&mut tcp).await.unwrap();
        assert_eq!(close.opcode, 0x8);
        assert_eq!(close_code(&close.payload), 1000);
        let (ended, send) = server.await.unwrap();
        assert!(ended);
        assert!(matches!(send, Err(Error::ConnectionClosed)), "{send:?}");
    })
    .await;
}

#[tokio::test]
async fn dropping_a_socket_with_unsent_data_does_not_hang() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            ws.set_write_buffer_limit(usize::MAX);
            // Queue far more than the socket buffers hold; nobody reads.
            for _ in 0..64 {
                ws.feed(Message::Binary(Bytes::from(vec![0u8; 1 << 20])))
                    .await
                    .unwrap();
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), ws.flush()).await;
            assert!(ws.buffered_amount() > 0);
            drop(ws);
        });
        let _tcp = raw_client(addr).await;
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn messages_after_the_peer_closed_are_refused() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        let server_side = tokio::spawn(async move {
            assert!(matches!(
                server.recv().await,
                Some(Ok(Message::Close(Some(_))))
            ));
            server.send(Message::text("too late")).await
        });
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(matches!(
            server_side.await.unwrap(),
            Err(Error::ConnectionClosed)
        ));
        assert!(matches!(
            client.send(Message::text("too late")).await,
            Err(Error::ConnectionClosed)
        ));
    })
    .await;
}
