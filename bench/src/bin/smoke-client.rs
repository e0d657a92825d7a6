//! Checks that an echo server works: connects to `ws://127.0.0.1:<port>/<path>`
//! with tokio-tungstenite, sends a text message (with non-ASCII text), a
//! binary message, a 1 MiB binary message and a ping, and fails unless each
//! data message comes back unchanged. `--raw` checks the raw TCP echo instead.
//!
//! Usage: smoke-client <port> [--raw]

use anyhow::Context as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .context("usage: smoke-client <port> [--raw]")?
        .parse()
        .context("the port must be a number")?;
    let summary = if args.next().as_deref() == Some("--raw") {
        switchboard_bench::check_raw_echo(port).await?
    } else {
        switchboard_bench::check_websocket_echo(port).await?
    };
    println!("{summary}");
    Ok(())
}
