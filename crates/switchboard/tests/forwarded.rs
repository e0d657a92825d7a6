//! `client_addr` on requests received over real loopback connections: the
//! peer address comes from the socket, the headers from the wire.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use switchboard::forwarded::{client_addr, TrustedProxies};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts one connection, parses the request head and returns the peer
/// address and headers.
async fn receive_request(listener: &TcpListener) -> (SocketAddr, HeaderMap) {
    let (mut stream, peer) = listener.accept().await.unwrap();
    let mut buffer = Vec::new();
    while !buffer.ends_with(b"\r\n\r\n") {
        let mut byte = [0_u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        buffer.push(byte[0]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(&buffer).unwrap();
    let mut map = HeaderMap::new();
    for header in request.headers.iter() {
        map.append(
            HeaderName::from_bytes(header.name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(header.value).unwrap(),
        );
    }
    (peer, map)
}

async fn send_from_loopback(addr: SocketAddr, head: &str) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
}

const REQUEST: &str = "GET /ws HTTP/1.1\r\nHost: x\r\n\
    X-Forwarded-For: 198.51.100.66, 203.0.113.7\r\n\
    Forwarded: for=198.51.100.66, for=\"203.0.113.7:4711\";proto=https\r\n\r\n";

#[tokio::test]
async fn headers_from_a_trusted_loopback_proxy_name_the_client() {
    tokio::time::timeout(Duration::from_secs(10), async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (received, ()) = tokio::join!(
            receive_request(&listener),
            send_from_loopback(addr, REQUEST)
        );
        let (peer, headers) = received;
        let client = client_addr(peer, &headers, &TrustedProxies::loopback());
        assert_eq!(client, "203.0.113.7".parse::<IpAddr>().unwrap());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn forged_headers_from_an_untrusted_peer_are_ignored() {
    tokio::time::timeout(Duration::from_secs(10), async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (received, ()) = tokio::join!(
            receive_request(&listener),
            send_from_loopback(addr, REQUEST)
        );
        let (peer, headers) = received;
        let only_lan: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        for trusted in [TrustedProxies::none(), only_lan] {
            assert_eq!(client_addr(peer, &headers, &trusted), peer.ip());
        }
    })
    .await
    .unwrap();
}
