//! A WebSocket echo server on 127.0.0.1, plain or TLS, built on the crate's
//! own server path (`ServerBuilder::accept_maybe_tls`).

use std::net::SocketAddr;

use switchboard::tls::TlsAcceptor;
use switchboard::{Message, ServerBuilder};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Starts the server; each connection's path and outcome (`Ok` after a
/// clean end, or the error text) is reported on the channel.
pub async fn ws_echo(
    tls: Option<TlsAcceptor>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Result<String, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = ServerBuilder::new();
    if let Some(acceptor) = tls {
        server = server.tls(acceptor);
    }
    let (report, outcomes) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let server = server.clone();
            let report = report.clone();
            tokio::spawn(async move {
                let mut path = String::new();
                let accepted = server
                    .accept_maybe_tls_with(tcp, |request| {
                        path = request.request.uri().path().to_owned();
                        Ok(switchboard::Accept::new())
                    })
                    .await;
                let mut ws = match accepted {
                    Ok(ws) => ws,
                    Err(error) => {
                        let _ = report.send(Err(error.to_string()));
                        return;
                    }
                };
                let outcome = loop {
                    match ws.recv().await {
                        Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            if let Err(error) = ws.send(message).await {
                                break Err(error.to_string());
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(error)) => break Err(error.to_string()),
                        None => break Ok(path),
                    }
                };
                let _ = report.send(outcome);
            });
        }
    });
    (addr, outcomes)
}

/// Sends a text and a binary message, checks the echoes, and closes
/// cleanly (1000).
pub async fn exchange_and_close<S>(ws: &mut switchboard::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for message in [
        Message::text("hello over the wire"),
        Message::binary(vec![0_u8, 1, 2, 254, 255]),
        Message::text("é ✓ 🚀"),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
    }
    ws.close(switchboard::CloseCode::NORMAL, "done")
        .await
        .unwrap();
}
