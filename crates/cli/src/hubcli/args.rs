//! The flags of `sub` and `pub`.

use std::path::PathBuf;

/// What both commands need to reach the hub.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The hub's WebSocket URL, e.g. `ws://127.0.0.1:8080/connection/websocket`
    /// (a URL with only a host and port gets that path added).
    pub url: String,

    /// The channel, e.g. `chat`.
    pub channel: String,

    /// Trust this CA certificate (PEM) for `wss://`, besides the built-in roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// A connection token (JWT) for hubs that do not accept anonymous clients
    /// (mint one with `switchboard token`).
    #[arg(long, value_name = "JWT")]
    pub token: Option<String>,
}

/// `switchboard sub URL CHANNEL`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Output: one JSON line per publication on standard output,
  {\"channel\":\"chat\",\"offset\":7,\"data\":{\"text\":\"hi\"}}
and notes (connected, disconnected, recovered, could not recover) on
standard error. After a dropped connection sub reconnects with a growing
delay and resubscribes from its last offset; exit codes: 0 after --count
publications, 1 on a terminal refusal (bad token, permission), 2 on bad
arguments.")]
pub struct SubArgs {
    /// Where and what.
    #[command(flatten)]
    pub client: ClientArgs,

    /// Exit after printing this many publications (default: run until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Start from this offset of the channel's history (with --epoch): the
    /// first subscribe recovers every publication after it.
    #[arg(long, value_name = "OFFSET", requires = "epoch")]
    pub since: Option<u64>,

    /// The epoch for --since (printed in the `subscribed` note).
    #[arg(long, value_name = "EPOCH", requires = "since")]
    pub epoch: Option<String>,
}

/// `switchboard pub URL CHANNEL DATA`.
#[derive(Debug, Clone, clap::Args)]
pub struct PubArgs {
    /// Where and what.
    #[command(flatten)]
    pub client: ClientArgs,

    /// The publication: a JSON value, e.g. '{"text":"hi"}' or '"hi"'
    /// (with --text, any text, published as {"text":DATA}).
    pub data: String,

    /// Publish DATA as {"text":DATA}, the chat page's message form.
    #[arg(long)]
    pub text: bool,
}
