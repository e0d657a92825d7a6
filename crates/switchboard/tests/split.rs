//! Split halves used from two tasks, automatic pongs while split, reunite.

mod common;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use switchboard::{CloseCode, Message};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn halves_work_from_two_tasks_at_once() {
    bounded(async {
        let (client, mut server) = pair().await;
        let echo = tokio::spawn(async move {
            while let Some(message) = server.recv().await {
                let message = message.unwrap();
                if message.is_data() {
                    server.send(message).await.unwrap();
                }
            }
        });
        let (mut reader, mut writer) = client.split();
        const COUNT: usize = 2000;
        let writing = tokio::spawn(async move {
            for i in 0..COUNT {
                writer.send(Message::text(format!("{i}"))).await.unwrap();
            }
            writer
        });
        let reading = tokio::spawn(async move {
            for i in 0..COUNT {
                let message = reader.next().await.unwrap().unwrap();
                assert_eq!(message, Message::text(format!("{i}")));
            }
            reader
        });
        let mut writer = writing.await.unwrap();
        let mut reader = reading.await.unwrap();
        writer.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(matches!(reader.recv().await, Some(Ok(Message::Close(_)))));
        assert!(reader.recv().await.is_none());
        echo.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn reading_half_answers_pings_while_the_writer_is_idle() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = switchboard::accept(tcp).await.unwrap();
            let (mut reader, writer) = ws.split();
            // Only the reader is polled; the writer sits idle in this task.
            let mut pings = 0;
            while let Some(message) = reader.recv().await {
                if let Message::Ping(_) = message.unwrap() {
                    pings += 1;
                }
            }
            drop(writer);
            pings
        });
        let mut tcp = raw_client(addr).await;
        for i in 0..5u8 {
            tcp.write_all(&client_frame(0x9, &[i; 4])).await.unwrap();
            let pong = read_frame(&mut tcp).await.unwrap();
            assert_eq!(pong.opcode, 0xA);
            assert_eq!(pong.payload, [i; 4]);
        }
        tcp.write_all(&client_frame(0x8, &1000u16.to_be_bytes()))
            .await
            .unwrap();
        let close = read_frame(&mut tcp).await.unwrap();
        assert_eq!(close.opcode, 0x8);
        assert!(read_to_end(&mut tcp).await.is_empty());
        assert_eq!(server.await.unwrap(), 5);
    })
    .await;
}

#[tokio::test]
async fn sink_and_stream_halves_and_reunite() {
    bounded(async {
        let (client, mut server) = pair().await;
        let (mut reader, mut writer) = client.split();
        SinkExt::send(
            &mut writer,
            Message::Binary(Bytes::from_static(b"via sink")),
        )
        .await
        .unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::Binary(Bytes::from_static(b"via sink"))
        );
        server.send(Message::text("via stream")).await.unwrap();
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            Message::text("via stream")
        );

        // Halves of different sockets do not reunite.
        let (other_client, _other_server) = pair().await;
        let (other_reader, other_writer) = other_client.split();
        let error = reader.reunite(other_writer).unwrap_err();
        assert!(!error.read.is_pair_of(&error.write));
        let (reader, _) = (error.read, other_reader);
        let mut client = reader.reunite(writer).unwrap();
        client.send(Message::text("whole again")).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text("whole again")
        );
    })
    .await;
}
