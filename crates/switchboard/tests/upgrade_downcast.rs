//! `UpgradeFuture::downcast`: the WebSocket runs over the connection's own
//! type when hyper served it as that type (hyper's HTTP/1 builder and
//! hyper-util's auto builder alike), bytes read past the request head are
//! not lost on the way out of hyper's box, and any other type falls back
//! to the boxed connection.

mod upgrade_support;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use switchboard::upgrade::{Downcast, Upgrade};
use switchboard::{CloseCode, CloseFrame};
use tokio::io::DuplexStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use upgrade_support::*;

/// Which hyper server serves the connection.
#[derive(Clone, Copy)]
enum Builder {
    /// `hyper::server::conn::http1` with `.with_upgrades()`.
    Http1,
    /// hyper-util's auto builder with `serve_connection_with_upgrades`
    /// (it wraps the connection in a private type of its own).
    Auto,
}

/// The type the handler asks the connection to be handed over as.
#[derive(Clone, Copy)]
enum Target {
    /// `TcpStream`: what the server serves.
    Tcp,
    /// A type the server never serves.
    Duplex,
}

/// How the WebSocket reached the handler, reported first for each
/// connection; the echo's reports follow.
#[derive(Debug, PartialEq, Eq)]
enum HandedOver {
    Direct,
    Boxed,
}

/// Starts a server whose every request is upgraded to an echo WebSocket,
/// handed over through `downcast::<target>`.
async fn start(
    builder: Builder,
    target: Target,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<HandedOver>,
    mpsc::UnboundedReceiver<ServerSaw>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (handed_over, handed_over_rx) = mpsc::unbounded_channel();
    let (reports, reports_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (handed_over, reports) = (handed_over.clone(), reports.clone());
            let service = service_fn(move |request| {
                handle(request, target, handed_over.clone(), reports.clone())
            });
            tokio::spawn(async move {
                // Errors here are the client's doing; the tests assert on
                // what the handler reports.
                match builder {
                    Builder::Http1 => {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .with_upgrades()
                            .await;
                    }
                    Builder::Auto => {
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                            .await;
                    }
                }
            });
        }
    });
    (addr, handed_over_rx, reports_rx)
}

async fn handle(
    mut request: Request<Incoming>,
    target: Target,
    handed_over: mpsc::UnboundedSender<HandedOver>,
    reports: mpsc::UnboundedSender<ServerSaw>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let upgrade = match Upgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let (response, websocket) = upgrade.accept();
    tokio::spawn(async move {
        let outcome = match target {
            Target::Tcp => websocket.downcast::<TcpStream>().await.map(|ws| match ws {
                Downcast::Direct(ws) => (HandedOver::Direct, Either::Tcp(ws)),
                Downcast::Boxed(ws) => (HandedOver::Boxed, Either::Boxed(ws)),
            }),
            Target::Duplex => websocket
                .downcast::<DuplexStream>()
                .await
                .map(|ws| match ws {
                    Downcast::Direct(_) => panic!("a TCP connection came out as a duplex stream"),
                    Downcast::Boxed(ws) => (HandedOver::Boxed, Either::Boxed(ws)),
                }),
        };
        match outcome {
            Ok((how, ws)) => {
                let _ = handed_over.send(how);
                match ws {
                    Either::Tcp(ws) => echo(ws, reports).await,
                    Either::Boxed(ws) => echo(ws, reports).await,
                }
            }
            Err(error) => {
                let _ = reports.send(ServerSaw::Failed(error.to_string()));
            }
        }
    });
    Ok(response)
}

/// The two WebSocket types a handover can give.
enum Either {
    Tcp(switchboard::WebSocket<TcpStream>),
    Boxed(switchboard::upgrade::UpgradedWebSocket),
}

/// A full session (subprotocol-free) over `addr`, then a pipelined first
/// frame on a second connection; returns how each was handed over.
async fn sessions(builder: Builder, target: Target) -> Vec<HandedOver> {
    let (addr, mut handed_over, mut reports) = start(builder, target).await;
    let (mut ws, _) = switchboard::ClientBuilder::new(format!("ws://{addr}/ws"))
        .connect()
        .await
        .unwrap();
    for message in [
        switchboard::Message::text("over the socket itself"),
        switchboard::Message::binary(vec![7u8; 70_000]),
    ] {
        assert_echoed_and_seen(&mut ws, &mut reports, message).await;
    }
    ws.close(CloseCode(4001), "done here").await.unwrap();
    assert_eq!(
        next_report(&mut reports).await,
        ServerSaw::Closed(Some(CloseFrame::new(CloseCode(4001), "done here")))
    );
    let first = handed_over.recv().await.unwrap();
    pipelined_frame_is_echoed(addr, "/ws").await;
    let second = handed_over.recv().await.unwrap();
    vec![first, second]
}

#[tokio::test]
async fn the_auto_builders_connection_comes_out_as_the_tcp_stream() {
    let handed_over = bounded(sessions(Builder::Auto, Target::Tcp)).await;
    assert_eq!(handed_over, [HandedOver::Direct, HandedOver::Direct]);
}

#[tokio::test]
async fn the_http1_builders_connection_comes_out_as_the_tcp_stream() {
    let handed_over = bounded(sessions(Builder::Http1, Target::Tcp)).await;
    assert_eq!(handed_over, [HandedOver::Direct, HandedOver::Direct]);
}

#[tokio::test]
async fn another_type_falls_back_to_the_boxed_connection() {
    for builder in [Builder::Auto, Builder::Http1] {
        let handed_over = bounded(sessions(builder, Target::Duplex)).await;
        assert_eq!(handed_over, [HandedOver::Boxed, HandedOver::Boxed]);
    }
}
