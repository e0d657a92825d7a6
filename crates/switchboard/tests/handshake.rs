//! Opening handshake: connect/accept, the accept callback, rejections,
//! timeouts and header limits, raw upgraded streams.

mod common;

use std::time::Duration;

use common::*;
use http::{HeaderValue, StatusCode};
use switchboard::{
    Accept, ClientBuilder, Config, Error, Limits, Message, Reject, Role, ServerBuilder,
    TimeoutKind, WebSocket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn connect_and_accept_exchange_messages() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        client.send(Message::text("hello")).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text("hello")
        );
        server
            .send(Message::binary(&b"\x00\x01"[..]))
            .await
            .unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::binary(&b"\x00\x01"[..])
        );
        assert_eq!(client.role(), Role::Client);
        assert_eq!(server.role(), Role::Server);
    })
    .await;
}

#[tokio::test]
async fn connect_function_uses_url_path() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut path = String::new();
            let ws = switchboard::accept_with(tcp, |req: &switchboard::UpgradeRequest| {
                path = req.request.uri().to_string();
                Ok(Accept::new())
            })
            .await
            .unwrap();
            (ws, path)
        });
        let (_client, response) = switchboard::connect(&format!("ws://{addr}/a/b?c=d"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let (_ws, path) = server.await.unwrap();
        assert_eq!(path, "/a/b?c=d");
    })
    .await;
}

#[tokio::test]
async fn accept_with_sees_request_and_picks_subprotocol() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            switchboard::accept_with(tcp, |req: &switchboard::UpgradeRequest| {
                assert_eq!(req.request.uri().path(), "/room");
                assert_eq!(req.origin.as_deref(), Some("https://example.com"));
                assert_eq!(req.subprotocols, ["chat.v1", "chat.v2"]);
                assert_eq!(req.request.headers().get("x-token").unwrap(), "secret");
                Ok(Accept::new().subprotocol("chat.v2").header(
                    http::HeaderName::from_static("x-server"),
                    HeaderValue::from_static("switchboard"),
                ))
            })
            .await
            .unwrap()
        });
        let (mut client, response) = ClientBuilder::new(format!("ws://{addr}/room"))
            .origin("https://example.com")
            .subprotocol("chat.v1")
            .subprotocol("chat.v2")
            .header(
                http::HeaderName::from_static("x-token"),
                HeaderValue::from_static("secret"),
            )
            .connect()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("sec-websocket-protocol").unwrap(),
            "chat.v2"
        );
        assert_eq!(response.headers().get("x-server").unwrap(), "switchboard");
        let mut server = server.await.unwrap();
        client.send(Message::text("in")).await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("in"));
    })
    .await;
}

#[tokio::test]
async fn rejection_reaches_the_client_with_status_and_body() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            switchboard::accept_with(tcp, |_: &switchboard::UpgradeRequest| {
                Err(Reject::new(StatusCode::FORBIDDEN)
                    .header(
                        http::HeaderName::from_static("x-reason"),
                        HeaderValue::from_static("origin"),
                    )
                    .body("origin not allowed"))
            })
            .await
        });
        let error = switchboard::connect(&format!("ws://{addr}/"))
            .await
            .unwrap_err();
        match error {
            Error::Http(response) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
                assert_eq!(response.headers().get("x-reason").unwrap(), "origin");
                assert_eq!(&response.body()[..], b"origin not allowed");
            }
            other => panic!("expected Error::Http, got {other:?}"),
        }
        match server.await.unwrap() {
            Err(Error::Rejected(status)) => assert_eq!(status, StatusCode::FORBIDDEN),
            other => panic!("expected Error::Rejected, got {other:?}"),
        }
    })
    .await;
}

/// Reads a client's request head from `tcp` and returns its
/// `Sec-WebSocket-Key`.
async fn read_request_key(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let line = head
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("sec-websocket-key:"))
        .expect("the request carries Sec-WebSocket-Key");
    line.split_once(':').unwrap().1.trim().to_owned()
}

/// Connects a default client to a hand-written server that reads the
/// request and lets `answer` write the response (given the request's
/// `Sec-WebSocket-Key`), then holds the connection open; returns the
/// client's error.
async fn client_error_against<F, Fut>(answer: F) -> Error
where
    F: FnOnce(TcpStream, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = TcpStream> + Send,
{
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let key = read_request_key(&mut tcp).await;
        let mut tcp = answer(tcp, key).await;
        // Held open: the client must end on what it was sent, not on EOF.
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
    });
    let error = switchboard::connect(&format!("ws://{addr}/"))
        .await
        .unwrap_err();
    server.abort();
    error
}

#[tokio::test]
async fn rejection_body_sent_after_the_head_is_read_to_its_length() {
    bounded(async {
        let body = "the service is down for maintenance";
        let error = client_error_against(move |mut tcp, _key| async move {
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nRetry-After: 30\r\n\r\n",
                body.len()
            );
            tcp.write_all(head.as_bytes()).await.unwrap();
            tcp.write_all(&body.as_bytes()[..8]).await.unwrap();
            tcp.flush().await.unwrap();
            // The rest comes in a later segment: the client must read on.
            tokio::time::sleep(Duration::from_millis(50)).await;
            tcp.write_all(&body.as_bytes()[8..]).await.unwrap();
            tcp
        })
        .await;
        match error {
            Error::Http(response) => {
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(response.headers().get("retry-after").unwrap(), "30");
                assert_eq!(&response.body()[..], body.as_bytes());
            }
            other => panic!("expected Error::Http, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn server_accepting_an_extension_that_was_not_offered_fails_the_handshake() {
    bounded(async {
        // No deflate configured: the client offers no extension.
        let error = client_error_against(|mut tcp, key| async move {
            let accept = switchboard::proto::handshake::accept_key(key.as_bytes());
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            );
            tcp.write_all(head.as_bytes()).await.unwrap();
            tcp
        })
        .await;
        match error {
            Error::Handshake(error) => assert!(
                matches!(
                    *error,
                    switchboard::proto::HandshakeError::ExtensionNotOffered { ref name }
                        if name == "permessage-deflate"
                ),
                "{error:?}"
            ),
            other => panic!("expected Error::Handshake, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn slow_client_is_cut_at_the_handshake_timeout() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .handshake_timeout(Duration::from_secs(2))
                .accept(tcp)
                .await
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        // One byte per second: a slowloris client never finishes the head.
        let mut cut = false;
        for byte in UPGRADE_REQUEST.bytes().take(10) {
            if tcp.write_all(&[byte]).await.is_err() {
                cut = true;
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            if server.is_finished() {
                cut = true;
                break;
            }
        }
        assert!(cut, "the server was still waiting after 10 slow bytes");
        match server.await.unwrap() {
            Err(Error::Timeout(TimeoutKind::Handshake(d))) => {
                assert_eq!(d, Duration::from_secs(2))
            }
            other => panic!("expected a handshake timeout, got {other:?}"),
        }
        // The connection is gone: the client reads EOF (or a reset).
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
        assert!(rest.is_empty());
    })
    .await;
}

#[tokio::test]
async fn oversized_header_gets_431_and_the_connection_ends() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new().accept(tcp).await
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = tcp.into_split();
        let writer = tokio::spawn(async move {
            let mut request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
            request.resize(request.len() + 1_000_000, b'a');
            request.extend_from_slice(b"\r\n\r\n");
            // The server stops parsing early; a failed write is expected.
            let _ = write.write_all(&request).await;
        });
        let mut response = Vec::new();
        let _ = read.read_to_end(&mut response).await;
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with("HTTP/1.1 431"),
            "expected 431, got {response:?}"
        );
        match server.await.unwrap() {
            Err(Error::Handshake(e)) => {
                assert_eq!(e.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            }
            other => panic!("expected a handshake error, got {other:?}"),
        }
        writer.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn plain_http_request_is_refused_with_an_http_error() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            switchboard::accept(tcp).await
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let response = read_to_end(&mut tcp).await;
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with("HTTP/1.1 4"),
            "expected a 4xx answer, got {response:?}"
        );
        assert!(matches!(server.await.unwrap(), Err(Error::Handshake(_))));
    })
    .await;
}

#[tokio::test]
async fn client_handshake_times_out_on_a_silent_server() {
    bounded(async {
        let (listener, addr) = listener().await;
        let _silent = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(tcp);
        });
        let error = ClientBuilder::new(format!("ws://{addr}/"))
            .handshake_timeout(Duration::from_millis(300))
            .connect()
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::Timeout(TimeoutKind::Handshake(_))),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_urls_are_reported_before_dialing() {
    bounded(async {
        for url in ["not a url", "ftp://127.0.0.1/", "ws:///path", "wss:///path"] {
            let error = switchboard::connect(url).await.unwrap_err();
            assert!(
                matches!(error, Error::InvalidUrl { .. }),
                "{url}: {error:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn frames_sent_right_after_the_request_are_not_lost() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = switchboard::accept(tcp).await.unwrap();
            ws.recv().await.unwrap().unwrap()
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut bytes = UPGRADE_REQUEST.as_bytes().to_vec();
        bytes.extend(client_frame(0x1, b"pipelined"));
        tcp.write_all(&bytes).await.unwrap();
        assert_eq!(server.await.unwrap(), Message::text("pipelined"));
    })
    .await;
}

#[tokio::test]
async fn handshake_over_any_stream_and_from_raw() {
    bounded(async {
        // connect_on/accept over an in-memory pipe: the seam for TLS and proxies.
        let (client_io, server_io) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move { switchboard::accept(server_io).await.unwrap() });
        let (mut client, _) = ClientBuilder::new("ws://example.com/over-pipe")
            .connect_on(client_io)
            .await
            .unwrap();
        let mut server = server.await.unwrap();
        client.send(Message::text("piped")).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text("piped")
        );

        // from_raw with bytes read past the (external) handshake.
        let (raw_client, raw_server) = tokio::io::duplex(4096);
        let leftover = client_frame(0x2, b"early");
        let mut server = WebSocket::from_raw_with_buffered(
            raw_server,
            Role::Server,
            Config::default(),
            Limits::default(),
            &leftover,
        );
        let mut client = WebSocket::from_raw(
            raw_client,
            Role::Client,
            Config::default(),
            Limits::default(),
        );
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::binary(&b"early"[..])
        );
        server.send(Message::text("late")).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("late"));
    })
    .await;
}
