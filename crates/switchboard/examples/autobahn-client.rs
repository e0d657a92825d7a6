//! Client for the Autobahn|Testsuite `fuzzingserver`.
//!
//! Reads `AUTOBAHN_URL` (default `ws://127.0.0.1:9001`) and
//! `AUTOBAHN_AGENT` (default `switchboard`), asks `/getCaseCount`, runs
//! every case by echoing each text and binary message until the server
//! closes, then asks for `/updateReports`. permessage-deflate is offered
//! (sections 12 and 13).

#[path = "autobahn_support/echo.rs"]
mod echo;

use switchboard::proto::deflate::DeflateConfig;
use switchboard::{ClientBuilder, Config, Error, Limits, MaybeTlsStream, Message, WebSocket};
use tokio::net::TcpStream;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".to_owned());
    let base = base.trim_end_matches('/').to_owned();
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "switchboard".to_owned());

    let count = case_count(&base).await?;
    println!("running {count} cases as {agent}");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        match open(&url).await {
            Ok(mut ws) => echo::echo(&mut ws).await,
            Err(error) => eprintln!("case {case}: {error}"),
        }
    }
    let mut ws = open(&format!("{base}/updateReports?agent={agent}")).await?;
    while ws.recv().await.is_some() {}
    println!("reports updated");
    Ok(())
}

async fn open(url: &str) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, Error> {
    let (ws, _) = ClientBuilder::new(url)
        .config(Config::default().ping_interval(None))
        .limits(
            Limits::default()
                .max_frame_size(16 << 20)
                .max_message_size(64 << 20),
        )
        .deflate(DeflateConfig::default())
        .connect()
        .await?;
    Ok(ws)
}

async fn case_count(base: &str) -> Result<u32, Error> {
    let mut ws = open(&format!("{base}/getCaseCount")).await?;
    let mut count = None;
    while let Some(message) = ws.recv().await {
        if let Message::Text(text) = message? {
            count = text.trim().parse().ok();
        }
    }
    count.ok_or_else(|| {
        Error::Io(std::io::Error::other(
            "the fuzzingserver did not send a case count; check that it runs and its version",
        ))
    })
}
