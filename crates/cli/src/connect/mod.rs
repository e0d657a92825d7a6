//! `switchboard connect URL`: an interactive WebSocket client.
//!
//! Standard-input lines go out as text messages (`--binary`: binary);
//! what arrives is printed (see [`display`] for the formats). When standard
//! input or output is not a terminal, or with `--pipe`, nothing but data is
//! written to standard output and every input line is data; at a terminal,
//! received lines are marked `< ` and lines starting with `/` are commands
//! ([`input::COMMANDS_HELP`]). Pongs and the close code go to standard
//! error. When standard input ends, a ping goes out first and the close
//! frame (1000) follows its pong (or 5 s), so that a server that answers
//! in order (like `/echo`) has sent its replies to the last lines before
//! it sees the close; then the program waits for the server's close. The
//! exit code says how it ended ([`outcome::EXIT_CODES_HELP`]).

pub mod dial;
pub mod display;
pub mod input;
pub mod outcome;
mod session;

use std::io::IsTerminal;
use std::time::Duration;

use std::path::PathBuf;

use http::{HeaderName, HeaderValue};
use switchboard::proxy::{ProxyConfig, ProxyMode};
use switchboard::tls::TlsClientConfig;
use switchboard::{ClientBuilder, ClientStream, Error, HttpVersionUsed, Limits, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{parse_positive_duration, parse_size, Compression};
pub use outcome::{Outcome, EXIT_CODES_HELP};

/// `switchboard connect URL`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct ConnectArgs {
    /// The server, e.g. ws://127.0.0.1:8080/echo.
    pub url: String,

    /// Send input lines as binary messages instead of text.
    #[arg(long)]
    pub binary: bool,

    /// Script mode: print only received data (one message per line, binary
    /// as hex), treat every input line as data. The default when standard
    /// input or output is not a terminal.
    #[arg(long)]
    pub pipe: bool,

    /// Extra request header (repeatable), e.g. -H 'Authorization: Bearer x'.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub headers: Vec<Header>,

    /// Offer this subprotocol (repeatable, in order of preference).
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub subprotocols: Vec<String>,

    /// Send this Origin header, as a browser page from that origin would.
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,

    /// Send a ping every DURATION (`5s`, `500ms`); pongs are shown on
    /// standard error. At a terminal, `/ping [payload]` sends one at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub ping: Option<Duration>,

    /// Offer permessage-deflate compression: `off`, `on` (= `balanced`),
    /// `low-memory` or `high`. If the server declines, the session runs
    /// uncompressed. [default: off]
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        default_value = "off",
        hide_default_value = true
    )]
    pub compression: Compression,

    /// Largest message accepted from the server (`64MiB`, `1MB`); larger
    /// ones close the connection with 1009. [default: 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_message_size: Option<usize>,

    /// For wss://: also trust the CA certificate(s) in this PEM file
    /// (repeatable), e.g. a private or test CA.
    #[arg(long = "ca", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,

    /// For wss://: accept ANY server certificate. Dangerous: anyone on the
    /// network path can read and change the traffic. For local experiments
    /// only; prefer --ca.
    #[arg(long)]
    pub insecure: bool,

    /// Connect through this proxy: `http://[user:pass@]host[:port]` (HTTP
    /// CONNECT), `socks5://...` or `socks5h://...`. Without it the
    /// https_proxy/http_proxy/all_proxy/no_proxy variables apply, as in curl.
    #[arg(long, value_name = "URL", value_parser = parse_proxy, conflicts_with = "no_proxy")]
    pub proxy: Option<ProxyConfig>,

    /// Connect directly, ignoring the proxy environment variables.
    #[arg(long)]
    pub no_proxy: bool,

    /// Prefer HTTP/2 (RFC 8441): for wss://, offer ALPN h2 and open the
    /// WebSocket as an HTTP/2 stream when the server allows it, else fall
    /// back to HTTP/1.1. Which one was used is printed on standard error.
    #[arg(long)]
    pub http2: bool,

    /// Give up if the TCP connection and the opening handshake take longer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,
}

/// One `-H 'Name: value'` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name.
    pub name: HeaderName,
    /// The header value.
    pub value: HeaderValue,
}

/// Parses `Name: value` (spaces around the value are trimmed).
pub fn parse_header(text: &str) -> Result<Header, String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not a header; write it as 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a valid header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} contains characters a header cannot carry"))?;
    Ok(Header { name, value })
}

/// Parses a `--proxy` URL.
pub fn parse_proxy(text: &str) -> Result<ProxyConfig, String> {
    ProxyConfig::parse(text).map_err(|error| error.to_string())
}

/// The TLS settings from `--ca` and `--insecure`.
fn tls_config(args: &ConnectArgs) -> Result<TlsClientConfig, String> {
    let mut tls = TlsClientConfig::new();
    for file in &args.ca_files {
        tls = tls
            .add_root_certificates_pem_file(file)
            .map_err(|error| format!("--ca {}: {error}", file.display()))?;
    }
    if args.insecure {
        tls = tls.dangerous_disable_certificate_verification();
    }
    Ok(tls)
}

/// Connects, runs the session, and says how it ended. Messages for the
/// user go to standard error.
pub async fn run(args: ConnectArgs) -> Outcome {
    let interactive =
        !args.pipe && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let tls = match tls_config(&args) {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::Usage;
        }
    };
    if args.insecure {
        eprintln!("warning: --insecure: the server's certificate is not verified");
    }
    let proxy = match (&args.proxy, args.no_proxy) {
        (Some(proxy), _) => ProxyMode::Explicit(proxy.clone()),
        (None, true) => ProxyMode::Disabled,
        (None, false) => ProxyMode::FromEnvironment,
    };
    let target = match dial::Target::from_url(&args.url) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::Usage;
        }
    };
    let mut builder = ClientBuilder::new(args.url.clone()).handshake_timeout(args.connect_timeout);
    for header in &args.headers {
        builder = builder.header(header.name.clone(), header.value.clone());
    }
    for protocol in &args.subprotocols {
        builder = builder.subprotocol(protocol.clone());
    }
    if let Some(origin) = &args.origin {
        builder = builder.origin(origin.clone());
    }
    if let Some(deflate) = args.compression.deflate_config() {
        builder = builder.deflate(deflate);
    }
    if let Some(size) = args.max_message_size {
        builder = builder.limits(
            Limits::default()
                .max_message_size(size)
                .max_frame_size(size.min(Limits::default().max_frame_size)),
        );
    }
    if args.http2 {
        let builder = builder
            .tls_config(tls)
            .proxy_mode(proxy)
            .connect_timeout(args.connect_timeout);
        let (ws, response, _connection) = match builder.connect_preferring_http2().await {
            Ok(connected) => connected,
            Err(error) => return handshake_failed(&error),
        };
        let used = match ws.get_ref() {
            ClientStream::Http1(_) => HttpVersionUsed::Http1,
            ClientStream::Http2(_) => HttpVersionUsed::Http2,
        };
        eprintln!("using {used}");
        return start_session(ws, &response, &args, interactive).await;
    }
    let io = match dial::dial(&target, &proxy, &tls, args.connect_timeout).await {
        Ok(io) => io,
        Err(error) => {
            eprintln!("handshake failed: {error}");
            return Outcome::HandshakeFailed;
        }
    };
    let (ws, response) = match builder.connect_on(io).await {
        Ok(connected) => connected,
        Err(error) => return handshake_failed(&error),
    };
    start_session(ws, &response, &args, interactive).await
}

/// Says what was negotiated (at a terminal) and runs the session.
async fn start_session<S>(
    ws: WebSocket<S>,
    response: &http::Response<()>,
    args: &ConnectArgs,
    interactive: bool,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if interactive {
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        let mut negotiated = Vec::new();
        if let Some(protocol) = header(http::header::SEC_WEBSOCKET_PROTOCOL) {
            negotiated.push(format!("subprotocol {protocol}"));
        }
        if let Some(extensions) = header(http::header::SEC_WEBSOCKET_EXTENSIONS) {
            negotiated.push(format!("extensions {extensions}"));
        }
        if negotiated.is_empty() {
            eprintln!("connected to {}", args.url);
        } else {
            eprintln!("connected to {} ({})", args.url, negotiated.join("; "));
        }
        eprintln!("{}", input::COMMANDS_HELP);
    }
    let style = if interactive {
        display::Style::Interactive
    } else {
        display::Style::Pipe
    };
    session::run(ws, args, style).await
}

/// Reports a failed connect and picks the exit code.
fn handshake_failed(error: &Error) -> Outcome {
    match error {
        Error::InvalidUrl { .. } => {
            eprintln!("error: {error}");
            Outcome::Usage
        }
        Error::Http(response) => {
            let body = String::from_utf8_lossy(response.body());
            let reason = response.status().canonical_reason().unwrap_or("");
            eprintln!(
                "handshake failed: HTTP {} {reason}: {}",
                response.status().as_u16(),
                body.trim()
            );
            Outcome::HandshakeFailed
        }
        _ => {
            eprintln!("handshake failed: {error}");
            Outcome::HandshakeFailed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_bad_ones_explain() {
        let header = parse_header("Authorization:  Bearer x ").unwrap();
        assert_eq!(header.name, "authorization");
        assert_eq!(header.value, "Bearer x");
        assert!(parse_header("no colon")
            .unwrap_err()
            .contains("Name: value"));
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("x: a\u{7f}b").is_err());
    }
}
