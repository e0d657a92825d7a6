//! Shared helpers for the integration tests: socket pairs on 127.0.0.1,
//! a hand-rolled raw peer (to send exactly the bytes a test needs) and a
//! bound on every test.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use switchboard::{ClientBuilder, MaybeTlsStream, ServerBuilder, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every test body runs under this bound.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `f`, failing the test if it takes longer than [`TEST_TIMEOUT`].
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test exceeded its time bound")
}

/// A connected (client, server) pair with the given settings.
pub async fn pair_with(
    client: impl FnOnce(String) -> ClientBuilder,
    server: ServerBuilder,
) -> (WebSocket<MaybeTlsStream<TcpStream>>, WebSocket<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        server.accept(tcp).await.unwrap()
    });
    let (client, response) = client(format!("ws://{addr}/")).connect().await.unwrap();
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    (client, accepting.await.unwrap())
}

/// A pair with default settings.
pub async fn pair() -> (WebSocket<MaybeTlsStream<TcpStream>>, WebSocket<TcpStream>) {
    pair_with(ClientBuilder::new, ServerBuilder::new()).await
}

/// A listener and its address.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

pub const UPGRADE_REQUEST: &str = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A raw TCP client that has completed the upgrade by hand; it sends and
/// reads exactly the frames a test writes.
pub async fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.write_all(UPGRADE_REQUEST.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "unexpected response: {head}"
    );
    // RFC 6455 §1.3: the accept value for the sample key.
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    tcp
}

/// Reads an HTTP head byte by byte (so no frame bytes are consumed).
pub async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tcp
            .read_u8()
            .await
            .expect("connection ended inside the HTTP head");
        head.push(byte);
    }
    String::from_utf8(head).unwrap()
}

/// Encodes one frame. `mask` is required for client-to-server frames.
pub fn frame(opcode: u8, payload: &[u8], fin: bool, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len if len < 126 => out.push(mask_bit | len as u8),
        len if len <= u16::MAX as usize => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A masked frame as a client sends it.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(opcode, payload, true, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// One decoded frame read by a raw peer.
#[derive(Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// Reads one frame (unmasking it if needed).
pub async fn read_frame(tcp: &mut TcpStream) -> std::io::Result<RawFrame> {
    let b0 = tcp.read_u8().await?;
    let b1 = tcp.read_u8().await?;
    let len = match b1 & 0x7f {
        126 => tcp.read_u16().await? as u64,
        127 => tcp.read_u64().await?,
        len => len as u64,
    };
    let mask = if b1 & 0x80 != 0 {
        let mut key = [0u8; 4];
        tcp.read_exact(&mut key).await?;
        Some(key)
    } else {
        None
    };
    let mut payload = vec![0u8; len as usize];
    tcp.read_exact(&mut payload).await?;
    if let Some(key) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Ok(RawFrame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        payload,
    })
}

/// Reads until EOF, returning what arrived (errors count as EOF).
pub async fn read_to_end(tcp: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    rest
}

/// The status code of a close frame payload.
pub fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}
