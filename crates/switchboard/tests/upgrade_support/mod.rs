//! Shared by `hyper_upgrade.rs` and `axum_upgrade.rs`: the server-side echo
//! task, a full client session against a WebSocket route, and a raw HTTP
//! client that sends exactly the bytes a test needs.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use switchboard::{
    ClientBuilder, CloseCode, CloseFrame, DeflateConfig, MaybeTlsStream, Message, WebSocket,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Every test body runs under this bound.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `f`, failing the test if it takes longer than [`TEST_TIMEOUT`].
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test exceeded its time bound")
}

/// What the server-side echo task saw, reported to the test.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerSaw {
    /// A data message (echoed back).
    Data(Message),
    /// A ping (answered by the library).
    Ping(Bytes),
    /// The client's close frame; the stream ended cleanly after it.
    Closed(Option<CloseFrame>),
    /// The stream ended with an error.
    Failed(String),
}

/// Echoes text and binary messages until the client closes, reporting each
/// event on `report`.
pub async fn echo<S>(mut ws: WebSocket<S>, report: mpsc::UnboundedSender<ServerSaw>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = ws.recv().await {
        match message {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                let _ = report.send(ServerSaw::Data(m.clone()));
                if let Err(error) = ws.send(m).await {
                    let _ = report.send(ServerSaw::Failed(error.to_string()));
                    return;
                }
            }
            Ok(Message::Ping(payload)) => {
                let _ = report.send(ServerSaw::Ping(payload));
            }
            Ok(Message::Pong(_)) => {}
            Ok(Message::Close(frame)) => {
                let _ = report.send(ServerSaw::Closed(frame));
            }
            Err(error) => {
                let _ = report.send(ServerSaw::Failed(error.to_string()));
                return;
            }
        }
    }
}

/// The next report from the server, bounded.
pub async fn next_report(reports: &mut mpsc::UnboundedReceiver<ServerSaw>) -> ServerSaw {
    reports.recv().await.expect("server task ended early")
}

/// A full session against an echo route at `url`: offers `chat.v1` and
/// `chat.v2`, checks the server picked `expected_protocol`, exchanges text
/// and binary, pings, and closes with code 4001. `reports` are the server
/// task's observations.
pub async fn run_echo_session(
    url: String,
    expected_protocol: &str,
    reports: &mut mpsc::UnboundedReceiver<ServerSaw>,
) {
    let (mut ws, response) = ClientBuilder::new(url)
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .connect()
        .await
        .expect("the WebSocket route accepts a valid upgrade");
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        expected_protocol
    );

    ws.send(Message::text("hello through the HTTP server"))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("hello through the HTTP server")
    );
    assert_eq!(
        next_report(reports).await,
        ServerSaw::Data(Message::text("hello through the HTTP server"))
    );

    let blob: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(blob.clone())).await.unwrap();
    let echo = ws.recv().await.unwrap().unwrap();
    assert!(echo == Message::binary(blob), "binary echo differs");
    assert!(matches!(
        next_report(reports).await,
        ServerSaw::Data(Message::Binary(_))
    ));

    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"are you there"))
    );
    assert_eq!(
        next_report(reports).await,
        ServerSaw::Ping(Bytes::from_static(b"are you there"))
    );

    ws.close(CloseCode(4001), "done here").await.unwrap();
    assert_eq!(
        next_report(reports).await,
        ServerSaw::Closed(Some(CloseFrame::new(CloseCode(4001), "done here")))
    );
    // The server echoed the code (RFC 6455 §5.5.1).
    let echoed = ws.peer_close_frame().map(|close| close.code());
    assert_eq!(echoed, Some(CloseCode(4001)));
}

/// Checks that the server answers plain HTTP on `plain_path`, then runs
/// a full [`run_echo_session`] on `/ws` (where it picks `chat.v2`), then
/// checks that plain HTTP still works: both share one port.
pub async fn plain_http_and_websocket_share_the_port(
    addr: SocketAddr,
    plain_path: &str,
    reports: &mut mpsc::UnboundedReceiver<ServerSaw>,
) {
    let plain = plain_get(addr, plain_path).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.text(), "plain HTTP here");

    run_echo_session(format!("ws://{addr}/ws"), "chat.v2", reports).await;

    // The port still serves plain HTTP after a WebSocket came and went.
    let plain = plain_get(addr, "/").await;
    assert_eq!(plain.status, 200);
}

/// Connects to `url` offering permessage-deflate at default settings.
pub async fn connect_offering_deflate(
    url: String,
) -> (WebSocket<MaybeTlsStream<TcpStream>>, http::Response<()>) {
    ClientBuilder::new(url)
        .deflate(DeflateConfig::default())
        .connect()
        .await
        .unwrap()
}

/// The extensions the server accepted, from its 101 response.
pub fn accepted_extensions<B>(response: &http::Response<B>) -> String {
    response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Sends `message` and checks that it comes back unchanged.
pub async fn assert_echoed<S>(ws: &mut WebSocket<S>, message: Message)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(message.clone()).await.unwrap();
    let echo = ws.recv().await.unwrap().unwrap();
    assert!(echo == message, "echo differs");
}

/// [`assert_echoed`], and checks that the server's echo task saw the
/// message as it was sent.
pub async fn assert_echoed_and_seen<S>(
    ws: &mut WebSocket<S>,
    reports: &mut mpsc::UnboundedReceiver<ServerSaw>,
    message: Message,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    assert_echoed(ws, message.clone()).await;
    let seen = next_report(reports).await;
    assert!(
        seen == ServerSaw::Data(message),
        "server saw another message"
    );
}

/// Checks the core's answer to a plain `GET` on the WebSocket route
/// `path`: 426 naming the protocol and the version. Returns the response
/// for further checks.
pub async fn plain_get_on_websocket_route_is_426(addr: SocketAddr, path: &str) -> RawResponse {
    let response = plain_get(addr, path).await;
    assert_eq!(response.status, 426);
    assert_eq!(response.header("upgrade"), Some("websocket"));
    assert_eq!(response.header("sec-websocket-version"), Some("13"));
    assert!(response.text().contains("Upgrade: websocket"));
    response
}

/// Checks that an upgrade request with `POST` gets 405 allowing only `GET`
/// (RFC 6455 §4.2.1 item 1).
pub async fn post_upgrade_is_405(addr: SocketAddr, path: &str) {
    let post = upgrade_request(path, "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n")
        .replacen("GET", "POST", 1);
    let response = raw_http(addr, &post).await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET"));
}

/// A parsed HTTP response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Whatever followed the head.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` (a complete HTTP/1.1 head, with `Connection: close`
/// unless it is an upgrade the server will refuse) and reads the response
/// until the server closes the connection.
pub async fn raw_http(addr: SocketAddr, request: &str) -> RawResponse {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tcp.read_to_end(&mut bytes).await.unwrap();
    parse_response(&bytes).expect("a complete HTTP response")
}

/// A plain `GET` of `path` that asks the server to close afterwards.
pub async fn plain_get(addr: SocketAddr, path: &str) -> RawResponse {
    raw_http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Parses a response head and takes the rest as the body.
pub fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(bytes).ok()? else {
        return None;
    };
    Some(RawResponse {
        status: response.code?,
        headers: response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: bytes[head_len..].to_vec(),
    })
}

/// An upgrade request head for `path` with `extra` header lines appended
/// (each ending in `\r\n`).
pub fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// A masked client text frame (RFC 6455 §5.3: clients mask every frame),
/// for payloads under 126 bytes.
pub fn masked_text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Sends an upgrade request with a first frame in the same write, then
/// checks the 101 and that the server echoes the frame: the bytes hyper
/// read past the request head must reach the WebSocket.
pub async fn pipelined_frame_is_echoed(addr: SocketAddr, path: &str) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut bytes = upgrade_request(path, "Sec-WebSocket-Version: 13\r\n").into_bytes();
    bytes.extend_from_slice(&masked_text_frame("sent before the 101"));
    tcp.write_all(&bytes).await.unwrap();

    let mut received = Vec::new();
    let head_len = loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed before answering the upgrade");
        received.extend_from_slice(&chunk[..n]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = parse_response(&received[..head_len]).unwrap();
    assert_eq!(head.status, 101);
    assert_eq!(
        head.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );

    let expected = b"sent before the 101";
    let mut frame = received[head_len..].to_vec();
    while frame.len() < 2 + expected.len() {
        let mut chunk = [0u8; 256];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed before echoing the pipelined frame");
        frame.extend_from_slice(&chunk[..n]);
    }
    // An unmasked server text frame carrying the same payload.
    assert_eq!(frame[0], 0x81);
    assert_eq!(frame[1] as usize, expected.len());
    assert_eq!(&frame[2..2 + expected.len()], expected);
}
