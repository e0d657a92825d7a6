//! Loopback echo servers: the stand-in WebSocket target for tunnel tests.

use std::net::SocketAddr;

use switchboard::tls::{TlsAcceptor, TlsError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Listens on 127.0.0.1 and echoes every connection until it closes.
pub async fn tcp_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(echo(stream));
        }
    });
    addr
}

/// What the TLS echo server saw in one successful handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The negotiated ALPN protocol.
    pub alpn: Option<Vec<u8>>,
    /// The SNI host name the client sent.
    pub sni: Option<String>,
}

/// What the TLS echo server saw for one connection.
pub type Accepted = Result<Handshake, TlsError>;

/// Listens on 127.0.0.1, runs the server TLS handshake and echoes the
/// decrypted bytes. Each handshake outcome is reported on the channel.
pub async fn tls_echo(acceptor: TlsAcceptor) -> (SocketAddr, mpsc::UnboundedReceiver<Accepted>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, outcomes) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let report = report.clone();
            tokio::spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls) => {
                        let connection = tls.get_ref().1;
                        let _ = report.send(Ok(Handshake {
                            alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
                            sni: connection.server_name().map(str::to_owned),
                        }));
                        echo(tls).await;
                    }
                    Err(error) => {
                        let _ = report.send(Err(error));
                    }
                }
            });
        }
    });
    (addr, outcomes)
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if stream.write_all(&buffer[..read]).await.is_err() {
                    break;
                }
                let _ = stream.flush().await;
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// Writes `message` and reads the same number of bytes back.
pub async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    message: &[u8],
) -> Vec<u8> {
    stream.write_all(message).await.unwrap();
    stream.flush().await.unwrap();
    let mut reply = vec![0_u8; message.len()];
    stream.read_exact(&mut reply).await.unwrap();
    reply
}
