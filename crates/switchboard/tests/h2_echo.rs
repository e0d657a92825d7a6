//! WebSockets over HTTP/2 (RFC 8441), our client against our server on
//! one h2c connection: echo and negotiation, 100 WebSockets multiplexed on
//! one TCP connection, closes and resets that leave the neighbours alone,
//! flow control as backpressure, and the server's rejections.
#![cfg(all(feature = "hyper", feature = "http2"))]

mod h2_support;

use std::time::Duration;

use bytes::Bytes;
use h2_support::*;
use http::StatusCode;
use switchboard::{ClientBuilder, CloseCode, Error, Http2Connection, Message};

async fn h2c(server: &Server) -> Http2Connection {
    Http2Connection::handshake(tcp(server.addr).await)
        .await
        .expect("the server speaks h2c")
}

fn ws_url(server: &Server, path: &str) -> String {
    format!("ws://{}{path}", server.addr)
}

#[tokio::test]
async fn a_websocket_rides_an_http2_stream_with_negotiation_and_echo() {
    bounded(async {
        let mut server = start(Options {
            connect_protocol: true,
            deflate: true,
            ..Options::default()
        })
        .await;
        let connection = h2c(&server).await;
        assert!(connection.supports_websockets());
        let (mut ws, response) = ClientBuilder::new(ws_url(&server, "/ws"))
            .subprotocol("chat.v1")
            .deflate(switchboard::DeflateConfig::default())
            .connect_on_http2(&connection)
            .await
            .expect("extended CONNECT accepted");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
        assert!(response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap()
            .starts_with("permessage-deflate"));
        assert!(response.headers().get("sec-websocket-accept").is_none());

        let big = "compressible ".repeat(10_000);
        for message in [
            Message::text("hello over h2"),
            Message::Binary(Bytes::from_static(&[0, 1, 2, 255])),
            Message::text(big),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), message);
            assert_eq!(server.next_report().await, ServerSaw::Data(message));
        }
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(matches!(server.next_report().await, ServerSaw::Closed(Some(frame)) if frame.code == CloseCode::NORMAL));
        assert!(ws.recv().await.is_none(), "the stream ends after the close");
        assert_eq!(server.count(|c| &c.http2_websockets), 1);
        assert_eq!(server.count(|c| &c.http1_websockets), 0);
    })
    .await;
}

#[tokio::test]
async fn a_hundred_websockets_share_one_tcp_connection() {
    bounded(async {
        let server = extended_connect_server().await;
        let connection = h2c(&server).await;
        let builder = ClientBuilder::new(ws_url(&server, "/ws"));
        let mut sockets = Vec::new();
        for _ in 0..100 {
            let (ws, _) = builder.connect_on_http2(&connection).await.unwrap();
            sockets.push(ws);
        }
        // Every socket sends before any reads, so all 100 streams are busy
        // at once on the one connection.
        for (index, ws) in sockets.iter_mut().enumerate() {
            ws.send(Message::text(format!("socket {index}")))
                .await
                .unwrap();
        }
        for (index, ws) in sockets.iter_mut().enumerate() {
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(format!("socket {index}"))
            );
        }
        assert_eq!(server.count(|c| &c.connections), 1);
        assert_eq!(server.count(|c| &c.http2_websockets), 100);
    })
    .await;
}

#[tokio::test]
async fn closing_or_resetting_one_stream_leaves_its_neighbours_working() {
    bounded(async {
        let mut server = extended_connect_server().await;
        let connection = h2c(&server).await;
        let builder = ClientBuilder::new(ws_url(&server, "/ws"));
        let (mut closed, _) = builder.connect_on_http2(&connection).await.unwrap();
        let (reset, _) = builder.connect_on_http2(&connection).await.unwrap();
        let (mut survivor, _) = builder.connect_on_http2(&connection).await.unwrap();

        closed.close(CloseCode::GOING_AWAY, "bye").await.unwrap();
        assert!(
            matches!(server.next_report().await, ServerSaw::Closed(Some(frame)) if frame.code == CloseCode::GOING_AWAY)
        );
        assert!(closed.recv().await.is_none());

        // Dropping a stream without a close frame makes hyper send
        // RST_STREAM; the server sees an abnormal end, not a clean close.
        drop(reset);
        match server.next_report().await {
            ServerSaw::Failed(_) => {}
            other => panic!("a reset stream must read as an abnormal close, saw {other:?}"),
        }

        survivor.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            survivor.recv().await.unwrap().unwrap(),
            Message::text("still here")
        );
        let (mut late, _) = builder.connect_on_http2(&connection).await.unwrap();
        late.send(Message::text("new stream")).await.unwrap();
        assert_eq!(late.recv().await.unwrap().unwrap(), Message::text("new stream"));
        assert_eq!(server.count(|c| &c.connections), 1);
    })
    .await;
}

#[tokio::test]
async fn a_slow_reader_holds_the_sender_back_through_flow_control() {
    bounded(async {
        let server = extended_connect_server().await;
        let connection = h2c(&server).await;
        let (mut ws, _) = ClientBuilder::new(ws_url(&server, "/flood"))
            .connect_on_http2(&connection)
            .await
            .unwrap();
        // Not reading: the server's sends stop once the stream and
        // connection windows and its own write buffer are full. Wait until
        // the count stops growing (it must, or the test times out).
        let mut last = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = server.count(|c| &c.flooded_bytes);
            if now > 0 && now == last {
                break;
            }
            last = now;
        }
        // hyper's windows (stream and connection, a few MiB at most) plus
        // the 128 KiB write buffer bound what is in flight; an unbounded
        // server would have queued far more in the same time.
        assert!(last < 16 << 20, "the server buffered {last} bytes");
        // Reading drains the window and the flood resumes.
        let mut read = 0;
        while read < last + (1 << 20) {
            match ws.recv().await.unwrap().unwrap() {
                Message::Binary(payload) => read += payload.len(),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(server.count(|c| &c.flooded_bytes) > last);
    })
    .await;
}

#[tokio::test]
async fn without_enable_connect_protocol_the_client_refuses_to_open_a_stream() {
    bounded(async {
        let server = start(Options::default()).await;
        let connection = h2c(&server).await;
        assert!(!connection.supports_websockets());
        let error = ClientBuilder::new(ws_url(&server, "/ws"))
            .connect_on_http2(&connection)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Handshake(_)), "{error}");
    })
    .await;
}

#[tokio::test]
async fn the_server_answers_bad_extended_connects_with_the_core_status() {
    use http_body_util::Empty;
    use hyper::client::conn::http2;
    use hyper::ext::Protocol;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    bounded(async {
        let server = extended_connect_server().await;
        let (mut sender, connection) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tcp(server.addr).await))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = |protocol: &'static str, version: Option<&'static str>| {
            let mut builder = http::Request::builder()
                .method(http::Method::CONNECT)
                .uri(format!("http://{}/ws", server.addr))
                .extension(Protocol::from_static(protocol));
            if let Some(version) = version {
                builder = builder.header("sec-websocket-version", version);
            }
            builder.body(Empty::<Bytes>::new()).unwrap()
        };
        // The SETTINGS frame may not have been read yet; wait for it the
        // way a client must before sending `:protocol`.
        let mut answer = None;
        for _ in 0..1000 {
            sender.ready().await.unwrap();
            match sender.send_request(request("chat", Some("13"))).await {
                Ok(response) => {
                    answer = Some(response);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        let wrong_protocol = answer.expect("the server enables extended CONNECT");
        assert_eq!(wrong_protocol.status(), StatusCode::BAD_REQUEST);

        sender.ready().await.unwrap();
        let no_version = sender
            .send_request(request("websocket", None))
            .await
            .unwrap();
        assert_eq!(no_version.status(), StatusCode::UPGRADE_REQUIRED);

        sender.ready().await.unwrap();
        let good = sender
            .send_request(request("websocket", Some("13")))
            .await
            .unwrap();
        assert_eq!(good.status(), StatusCode::OK);
    })
    .await;
}
