//! An axum app serving a plain HTTP page and a WebSocket echo on one port.
//!
//! ```text
//! cargo run -p switchboard --features axum --example axum-echo -- 127.0.0.1:3000
//! switchboard connect ws://127.0.0.1:3000/echo   # or any WebSocket client
//! curl -i http://127.0.0.1:3000/echo              # 426 Upgrade Required
//! ```
//!
//! `/echo` speaks the `echo.v1` subprotocol when the client offers it and
//! accepts permessage-deflate with the low-memory preset.

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use switchboard::upgrade::{UpgradedWebSocket, WebSocketUpgrade};
use switchboard::{DeflateConfig, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let app = Router::new()
        .route("/", get(|| async { "WebSocket echo at /echo\n" }))
        .route("/echo", get(echo_route));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn echo_route(ws: WebSocketUpgrade) -> Response {
    if let Some(origin) = &ws.request().origin {
        println!("upgrade from origin {origin}");
    }
    ws.protocols(["echo.v1"])
        .deflate(DeflateConfig::low_memory())
        .on_failed_upgrade(|error| eprintln!("upgrade failed: {error}"))
        .on_upgrade(echo)
}

/// Sends every text and binary message back; pings are answered and the
/// close handshake is completed by the library while this loop reads.
async fn echo(mut ws: UpgradedWebSocket) {
    while let Some(message) = ws.recv().await {
        match message {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if let Err(error) = ws.send(m).await {
                    eprintln!("send failed: {error}");
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("connection ended: {error}");
                return;
            }
        }
    }
}
