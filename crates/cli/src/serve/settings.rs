//! `serve`'s settings: the flags, the TOML config file, and how they merge
//! (a flag overrides the file, the file overrides the default).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::config::{parse_interval, parse_size, Compression, LogFormat};

pub use switchboard_hub::{
    normalize_origin, TlsFiles, DEFAULT_CONNECTION_BURST, DEFAULT_CONNECTION_RATE,
    DEFAULT_HUB_MAX_MESSAGE_SIZE, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MEMORY_BUDGET, DEFAULT_PING_INTERVAL,
};
use switchboard_hub::{EngineKind, HubConfig, NodeConfig, RedisOptions, DEFAULT_DRAIN_WINDOW};

/// `switchboard serve`: the hub (Centrifugo client protocol), an echo
/// endpoint, a chat room, a health check and a test page on one port.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = SERVE_AFTER_HELP)]
pub struct ServeArgs {
    /// Read settings from this TOML file; flags given on the command line
    /// override it. Keys are the flag names: listen, tls-cert, tls-key,
    /// origin, compression, ping-interval, max-message-size, max-connections,
    /// connection-rate, connection-burst, memory-budget, log-format,
    /// drain-window.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on. Port 0 picks a free port; the bound address is
    /// logged as `listening on ADDR`. [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Serve HTTPS and wss:// with this certificate chain (PEM, leaf first,
    /// then intermediates); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) for --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Allow WebSocket upgrades from this browser Origin (repeatable, e.g.
    /// `--origin https://example.com`). A request carrying another Origin
    /// gets 403; requests without an Origin (non-browser clients) are
    /// allowed. Without any --origin every Origin is allowed.
    #[arg(long = "origin", value_name = "ORIGIN")]
    pub origins: Vec<String>,

    /// Accept permessage-deflate compression from clients that offer it:
    /// `off`, `on` (= `balanced`), `low-memory` or `high`; costs memory per
    /// compressed connection. [default: off]
    #[arg(long, value_enum, value_name = "MODE")]
    pub compression: Option<Compression>,

    /// Send a keepalive ping after this long without traffic (`25s`, `1m`,
    /// `off`); a peer that does not answer within the same time again is
    /// dropped. [default: 20s]
    #[arg(long, value_name = "DURATION", value_parser = parse_ping_interval)]
    pub ping_interval: Option<PingInterval>,

    /// Largest message accepted (`64MiB`, `1MB`, `65536`); larger ones close
    /// the connection with 1009. Frames are capped at the smaller of this and
    /// 16 MiB. The chat room caps messages at 16 KiB regardless.
    /// [default: 4MiB: one peer cannot make the server hold tens of MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_message_size: Option<usize>,

    /// Largest message accepted from hub clients on
    /// `/connection/websocket` (`64KiB`, `1MiB`); larger ones close with
    /// 1009. [default: 64KiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub hub_max_message_size: Option<usize>,

    /// Accept anonymous hub connections on an address other than loopback.
    /// Without it (and without `allow_anonymous_connect` set in the config
    /// file's `[hub]` table), serve refuses to start there while anonymous
    /// connections are allowed: an open hub is never exposed by accident.
    #[arg(long)]
    pub allow_anonymous: bool,

    /// The keys that verify hub tokens (--token-hmac-secret-key, ...).
    #[command(flatten)]
    pub token_keys: crate::token::TokenKeyArgs,

    /// The server API key: `POST /api/<method>` requests must carry it as
    /// `X-API-Key: KEY` or `Authorization: apikey KEY` (Centrifugo's HTTP
    /// API). Without a key the API serves only on a loopback address.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Serve the server API, `/metrics` and `/info` on this separate
    /// address (e.g. an internal network) instead of --listen.
    #[arg(long, value_name = "ADDR")]
    pub api_listen: Option<String>,

    /// Most WebSocket sessions open at once; further upgrade requests are
    /// refused with HTTP 503 and `Retry-After`. [default: 10000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// New WebSocket connections per second on the whole node; beyond it
    /// upgrade requests get HTTP 503 with `Retry-After` (seconds until one
    /// is admitted), which SDKs and load balancers back off on. 0 turns
    /// the limit off. [default: 1000]
    #[arg(long, value_name = "N")]
    pub connection_rate: Option<u32>,

    /// New connections admitted at once under --connection-rate (0: one
    /// second's worth). [default: 10000, so every client of a full node
    /// may reconnect at once after a restart]
    #[arg(long, value_name = "N")]
    pub connection_burst: Option<u32>,

    /// Node-wide budget for bytes held on peers' behalf (`256MiB`, `1GiB`,
    /// `0` for none): messages being received, reassembled or inflated on
    /// every WebSocket route and hub outbound queues. A message that does
    /// not fit closes its connection with 1009; a push that does not fit
    /// sheds the largest hub queues with 3008 (the clients reconnect and
    /// recover). [default: 256MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub memory_budget: Option<usize>,

    /// Log line format on standard error; filter with RUST_LOG (e.g.
    /// `RUST_LOG=debug`). [default: text]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// The built demo page served at `/` and `/assets/*` (build it with
    /// scripts/build-web.sh). [default: web/dist in the working directory
    /// if built there, else web/dist of the checkout the binary came from]
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,

    /// After SIGTERM or Ctrl-C, close the WebSocket clients in batches
    /// spread over this long (`30s`, `2m`; `0s` closes them all at once)
    /// so their reconnects do not arrive at once. Meanwhile /ready says
    /// 503 and upgrades and API calls are refused; the process exits when
    /// the last client has gone, or 5 s after the window at the latest;
    /// a second signal closes every client still open at once.
    /// [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_drain_window)]
    pub drain_window: Option<Duration>,

    /// Where channels, history and presence live: `memory` (this process
    /// only) or `redis` (shared by every node on the same Redis: any node
    /// serves any client). In the config file: `engine`, `redis_url`,
    /// `redis_prefix`, `redis_presence_ttl`, `redis_node_ttl` and
    /// `node_name` in the `[hub]` table. [default: memory]
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<EngineChoice>,

    /// The Redis of `--engine redis` (`redis://HOST:PORT[/DB]`).
    /// [default: redis://127.0.0.1:6379]
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and pub/sub channel; nodes with the same
    /// prefix form one hub. [default: sb]
    #[arg(long, value_name = "PREFIX")]
    pub redis_prefix: Option<String>,

    /// How long a client stays in presence after its node stopped
    /// refreshing it (a node that died). [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = crate::config::parse_positive_duration)]
    pub redis_presence_ttl: Option<Duration>,

    /// How long a node stays in the registry (`/info`, the API's `info`)
    /// after its last heartbeat. [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = crate::config::parse_positive_duration)]
    pub redis_node_ttl: Option<Duration>,

    /// This node's name in `/info`, the API's `info` and the Redis node
    /// registry. [default: the host name; with --engine redis the host
    /// name and the listen port]
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
}

/// The engine `serve` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// Every channel in this process's memory: one node.
    #[default]
    Memory,
    /// Channels, history, presence and the node registry in Redis.
    Redis,
}

/// The default Redis of `--engine redis`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The engine keys of the config file's `[hub]` table (taken out before
/// the rest becomes the node configuration).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineKeys {
    engine: Option<EngineChoice>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    redis_presence_ttl: Option<String>,
    redis_node_ttl: Option<String>,
    node_name: Option<String>,
}

impl EngineKeys {
    const NAMES: [&'static str; 6] = [
        "engine",
        "redis_url",
        "redis_prefix",
        "redis_presence_ttl",
        "redis_node_ttl",
        "node_name",
    ];

    /// Moves the engine keys out of the `[hub]` table.
    fn take(table: &mut toml::Table) -> anyhow::Result<Self> {
        let mut keys = toml::Table::new();
        for name in Self::NAMES {
            if let Some(value) = table.remove(name) {
                keys.insert(name.to_owned(), value);
            }
        }
        toml::Value::Table(keys).try_into().context(
            "the engine keys of the [hub] table are invalid (engine = \"memory\" or \"redis\", \
             redis_url, redis_prefix, redis_presence_ttl, redis_node_ttl and node_name are strings)",
        )
    }
}

/// A duration of the engine keys, parsed like the flag.
fn file_duration(text: Option<&str>, key: &str) -> anyhow::Result<Option<Duration>> {
    text.map(|text| {
        crate::config::parse_positive_duration(text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("config file key [hub] {key}"))
    })
    .transpose()
}

/// A memory budget: a size, or 0 for none.
fn parse_budget(text: &str) -> Result<usize, String> {
    if text.trim() == "0" {
        Ok(0)
    } else {
        parse_size(text)
    }
}

/// A keepalive interval as given: a duration, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingInterval(pub Option<Duration>);

fn parse_ping_interval(text: &str) -> Result<PingInterval, String> {
    parse_interval(text).map(PingInterval)
}

/// A drain window: a duration; `0s` (or `off`) closes every client at once.
fn parse_drain_window(text: &str) -> Result<Duration, String> {
    parse_interval(text).map(Option::unwrap_or_default)
}

const SERVE_AFTER_HELP: &str = "\
Endpoints:
  /         the hub demo page (a chat through centrifuge-js) from --web-root;
            without built assets, a page saying how to build them
  /chat.html
            the /chat room with the browser's native WebSocket
  /echo     WebSocket echo of text and binary messages
  /chat     WebSocket chat room, a view of the hub channel `chat`;
            subprotocol `chat` (plain text) or `superchat` (JSON events
            with member ids); a client offering neither is refused with 400
  /connection/websocket
            the hub: Centrifugo client protocol v2 (JSON; Protobuf with
            subprotocol `centrifuge-protobuf` or `?format=protobuf`)
  /healthz  plain HTTP 200 `ok` (keep-alive)
  /live     200 while the process is up
  /ready    200 while accepting and the engine answers, 503 when stopping
  /api/<method>
            the server API (Centrifugo's HTTP API: publish, broadcast,
            subscribe, unsubscribe, disconnect, refresh, presence,
            presence_stats, history, history_remove, channels, info,
            batch); key from --api-key; on --api-listen when given
  /metrics  Prometheus text format; /info the node and its counts as JSON
  other     404

Ctrl-C or SIGTERM drains: /ready turns 503 and WebSocket upgrades and API
calls are refused (503, Retry-After) at once; WebSocket clients are closed in
batches over --drain-window (hub clients with 3001 \"shutdown\", reconnect
advised; /echo and /chat with 1001); the process exits 0 when the last client
has gone, or 5 s after the window at the latest. A second signal closes every
client still open at once.";

/// The same settings as read from a TOML file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeFile {
    /// See [`ServeArgs::listen`].
    pub listen: Option<String>,
    /// See [`ServeArgs::tls_cert`]; relative to the working directory.
    pub tls_cert: Option<PathBuf>,
    /// See [`ServeArgs::tls_key`]; relative to the working directory.
    pub tls_key: Option<PathBuf>,
    /// See [`ServeArgs::origins`]; a list of origins.
    #[serde(alias = "origins")]
    pub origin: Option<Vec<String>>,
    /// See [`ServeArgs::compression`].
    pub compression: Option<Compression>,
    /// See [`ServeArgs::ping_interval`]; a duration string or `off`.
    pub ping_interval: Option<String>,
    /// See [`ServeArgs::max_message_size`]; a size string or a number of bytes.
    pub max_message_size: Option<SizeValue>,
    /// See [`ServeArgs::max_connections`].
    pub max_connections: Option<u32>,
    /// See [`ServeArgs::connection_rate`].
    pub connection_rate: Option<u32>,
    /// See [`ServeArgs::connection_burst`].
    pub connection_burst: Option<u32>,
    /// See [`ServeArgs::memory_budget`]; a size string or a number of bytes.
    pub memory_budget: Option<SizeValue>,
    /// See [`ServeArgs::log_format`]: `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// See [`ServeArgs::hub_max_message_size`].
    pub hub_max_message_size: Option<SizeValue>,
    /// See [`ServeArgs::api_key`].
    pub api_key: Option<String>,
    /// See [`ServeArgs::api_listen`].
    pub api_listen: Option<String>,
    /// See [`ServeArgs::web_root`]; relative to the working directory.
    pub web_root: Option<PathBuf>,
    /// See [`ServeArgs::drain_window`]; a duration string.
    pub drain_window: Option<String>,
    /// The hub at `/connection/websocket`: channel options, namespaces,
    /// keepalive and queue bounds, with the keys (snake_case, as
    /// Centrifugo's) and defaults of [`switchboard_hub::NodeConfig`].
    /// Kept as a table so that an explicit `allow_anonymous_connect` can be
    /// told from the default.
    pub hub: Option<toml::Table>,
}

/// A size in the config file: `65536` or `"64KiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    /// A number of bytes.
    Bytes(u64),
    /// A size with a unit, parsed like the flag.
    Text(String),
}

impl ServeFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a valid serve config (TOML with keys listen, tls-cert, tls-key, \
                 origin, compression, ping-interval, max-message-size, max-connections, \
                 connection-rate, connection-burst, memory-budget, log-format, drain-window, hub-max-message-size and a [hub] table)",
                path.display()
            )
        })
    }
}

/// The settings `serve` runs with, after merging flags, file and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    /// Address to bind.
    pub listen: String,
    /// Certificate chain and key for HTTPS/wss://; `None` serves plain.
    pub tls: Option<TlsFiles>,
    /// Allowed browser origins, normalised (lowercase, no trailing `/`);
    /// empty means any.
    pub origins: Vec<String>,
    /// permessage-deflate for clients that offer it.
    pub compression: Compression,
    /// Keepalive ping interval; `None` disables keepalive.
    pub ping_interval: Option<Duration>,
    /// Largest message accepted.
    pub max_message_size: usize,
    /// Largest frame accepted.
    pub max_frame_size: usize,
    /// Most WebSocket sessions at once.
    pub max_connections: usize,
    /// New WebSocket connections per second (0: no limit).
    pub connection_rate: u32,
    /// New connections at once under `connection_rate`.
    pub connection_burst: u32,
    /// Node-wide memory budget in bytes (0: none).
    pub memory_budget: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest message on the hub route.
    pub hub_max_message_size: usize,
    /// The hub's node configuration.
    pub node: NodeConfig,
    /// Anonymous hub connections are allowed beyond loopback (the flag, or
    /// `allow_anonymous_connect` written in the `[hub]` table).
    pub allow_anonymous_beyond_loopback: bool,
    /// The server API key.
    pub api_key: Option<String>,
    /// The server API's separate address.
    pub api_listen: Option<String>,
    /// The built demo page's directory.
    pub web_root: PathBuf,
    /// How long the drain after a stop signal takes.
    pub drain_window: Duration,
    /// The engine.
    pub engine: EngineKind,
    /// This node's name.
    pub node_name: Option<String>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            listen: DEFAULT_LISTEN.to_owned(),
            tls: None,
            origins: Vec::new(),
            compression: Compression::Off,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_MESSAGE_SIZE.min(DEFAULT_MAX_FRAME_SIZE),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connection_rate: DEFAULT_CONNECTION_RATE,
            connection_burst: DEFAULT_CONNECTION_BURST,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            log_format: LogFormat::Text,
            hub_max_message_size: DEFAULT_HUB_MAX_MESSAGE_SIZE,
            node: NodeConfig::default(),
            allow_anonymous_beyond_loopback: false,
            api_key: None,
            api_listen: None,
            web_root: switchboard_hub::default_web_root(),
            drain_window: DEFAULT_DRAIN_WINDOW,
            engine: EngineKind::Memory,
            node_name: None,
        }
    }
}

impl ServeSettings {
    /// The hub's configuration (everything but the log format, which is
    /// the binary's business).
    pub fn hub_config(&self) -> HubConfig {
        HubConfig {
            listen: self.listen.clone(),
            tls: self.tls.clone(),
            origins: self.origins.clone(),
            deflate: self.compression.deflate_config(),
            ping_interval: self.ping_interval,
            max_message_size: self.max_message_size,
            max_frame_size: self.max_frame_size,
            hub_max_message_size: self.hub_max_message_size,
            max_connections: self.max_connections,
            connection_rate: self.connection_rate,
            connection_burst: self.connection_burst,
            memory_budget: self.memory_budget,
            allow_anonymous_beyond_loopback: self.allow_anonymous_beyond_loopback,
            api_key: self.api_key.clone(),
            api_listen: self.api_listen.clone(),
            node: self.node.clone(),
            web_root: self.web_root.clone(),
            drain_window: self.drain_window,
            engine: self.engine.clone(),
            node_name: self.node_name.clone(),
        }
    }

    /// Merges `args` over the file they name (if any) over the defaults.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => ServeFile::load(path)?,
            None => ServeFile::default(),
        };
        Self::merge(args, file)
    }

    /// Merges `args` over `file` over the defaults.
    pub fn merge(args: &ServeArgs, file: ServeFile) -> anyhow::Result<Self> {
        let defaults = ServeSettings::default();
        let file_interval = match &file.ping_interval {
            Some(text) => Some(
                parse_interval(text)
                    .map_err(anyhow::Error::msg)
                    .context("config file key ping-interval")?,
            ),
            None => None,
        };
        let file_drain_window = match &file.drain_window {
            Some(text) => Some(
                parse_drain_window(text)
                    .map_err(anyhow::Error::msg)
                    .context("config file key drain-window")?,
            ),
            None => None,
        };
        let file_size = file_size_value(file.max_message_size, "max-message-size")?;
        let memory_budget = match &file.memory_budget {
            Some(SizeValue::Text(text)) if text.trim() == "0" => Some(0),
            _ => file_size_value(file.memory_budget, "memory-budget")?,
        };
        let file_hub_size = file_size_value(file.hub_max_message_size, "hub-max-message-size")?;
        let hub_max_message_size = args
            .hub_max_message_size
            .or(file_hub_size)
            .unwrap_or(defaults.hub_max_message_size);
        if hub_max_message_size == 0 {
            anyhow::bail!("hub-max-message-size must be at least 1 byte");
        }
        let (mut node, anonymous_written, engine_keys) = match file.hub {
            Some(mut table) => {
                let engine_keys = EngineKeys::take(&mut table)?;
                let written = table.contains_key("allow_anonymous_connect");
                let node: NodeConfig = toml::Value::Table(table).try_into().context(
                    "the [hub] table of the config file is invalid (keys as in \
                     switchboard_hub::NodeConfig, see docs/hub.md)",
                )?;
                (node, written, engine_keys)
            }
            None => (NodeConfig::default(), false, EngineKeys::default()),
        };
        let engine = engine_kind(args, &engine_keys)?;
        args.token_keys
            .apply(&mut node, args.allow_anonymous || anonymous_written);
        let origins = if args.origins.is_empty() {
            file.origin.unwrap_or_default()
        } else {
            args.origins.clone()
        };
        let max_message_size = args
            .max_message_size
            .or(file_size)
            .unwrap_or(defaults.max_message_size);
        if max_message_size == 0 {
            anyhow::bail!("max-message-size must be at least 1 byte");
        }
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .map_or(defaults.max_connections, |n| n as usize);
        if max_connections == 0 {
            anyhow::bail!("max-connections must be at least 1");
        }
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => {
                anyhow::bail!("--tls-cert needs --tls-key (the certificate's private key)")
            }
            (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert (the certificate chain)"),
        };
        Ok(ServeSettings {
            tls,
            listen: args
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or(defaults.listen),
            origins: origins.iter().map(|o| normalize_origin(o)).collect(),
            compression: args
                .compression
                .or(file.compression)
                .unwrap_or(defaults.compression),
            ping_interval: args
                .ping_interval
                .map(|interval| interval.0)
                .or(file_interval)
                .unwrap_or(defaults.ping_interval),
            max_message_size,
            max_frame_size: max_message_size.min(DEFAULT_MAX_FRAME_SIZE),
            max_connections,
            connection_rate: args
                .connection_rate
                .or(file.connection_rate)
                .unwrap_or(defaults.connection_rate),
            connection_burst: args
                .connection_burst
                .or(file.connection_burst)
                .unwrap_or(defaults.connection_burst),
            memory_budget: args
                .memory_budget
                .or(memory_budget)
                .unwrap_or(defaults.memory_budget),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(defaults.log_format),
            hub_max_message_size,
            allow_anonymous_beyond_loopback: args.allow_anonymous
                || (anonymous_written && node.allow_anonymous_connect),
            node,
            api_key: args.api_key.clone().or(file.api_key),
            api_listen: args.api_listen.clone().or(file.api_listen),
            web_root: args
                .web_root
                .clone()
                .or(file.web_root)
                .unwrap_or(defaults.web_root),
            drain_window: args
                .drain_window
                .or(file_drain_window)
                .unwrap_or(defaults.drain_window),
            engine,
            node_name: args.node_name.clone().or(engine_keys.node_name),
        })
    }
}

/// The engine from the flags over the `[hub]` table's engine keys.
fn engine_kind(args: &ServeArgs, file: &EngineKeys) -> anyhow::Result<EngineKind> {
    let choice = args.engine.or(file.engine).unwrap_or_default();
    let url = args.redis_url.clone().or(file.redis_url.clone());
    if choice == EngineChoice::Memory {
        if url.is_some() || args.redis_prefix.is_some() {
            anyhow::bail!(
                "--redis-url and --redis-prefix need --engine redis (or engine = \"redis\" in \
                 the [hub] table of the config file)"
            );
        }
        return Ok(EngineKind::Memory);
    }
    let mut options = RedisOptions::new(url.unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned()));
    options.prefix = args.redis_prefix.clone().or(file.redis_prefix.clone());
    if let Some(ttl) = args.redis_presence_ttl.or(file_duration(
        file.redis_presence_ttl.as_deref(),
        "redis_presence_ttl",
    )?) {
        options.presence_ttl = ttl;
    }
    if let Some(ttl) = args.redis_node_ttl.or(file_duration(
        file.redis_node_ttl.as_deref(),
        "redis_node_ttl",
    )?) {
        options.node_ttl = ttl;
    }
    Ok(EngineKind::Redis(options))
}

/// A size from the config file, parsed like the flag.
fn file_size_value(value: Option<SizeValue>, key: &str) -> anyhow::Result<Option<usize>> {
    match value {
        Some(SizeValue::Bytes(bytes)) => usize::try_from(bytes)
            .map(Some)
            .with_context(|| format!("config file key {key} is too large")),
        Some(SizeValue::Text(text)) => parse_size(&text)
            .map(Some)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("config file key {key}")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ServeFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_without_flags_or_file() {
        let settings = ServeSettings::merge(&ServeArgs::default(), ServeFile::default()).unwrap();
        assert_eq!(settings, ServeSettings::default());
        assert_eq!(settings.listen, "127.0.0.1:8080");
    }

    #[test]
    fn file_values_apply_and_flags_override_them() {
        let from_file = file(
            r#"
            listen = "0.0.0.0:9000"
            origin = ["https://Example.com/"]
            ping-interval = "off"
            max-message-size = "1MiB"
            max-connections = 5
            connection-rate = 50
            connection-burst = 60
            memory-budget = "64MiB"
            log-format = "json"
            compression = "low-memory"
            "#,
        );
        let settings = ServeSettings::merge(&ServeArgs::default(), from_file).unwrap();
        assert_eq!(settings.listen, "0.0.0.0:9000");
        assert_eq!(settings.origins, ["https://example.com"]);
        assert_eq!(settings.ping_interval, None);
        assert_eq!(settings.max_message_size, 1 << 20);
        assert_eq!(settings.max_frame_size, 1 << 20);
        assert_eq!(settings.max_connections, 5);
        assert_eq!(settings.connection_rate, 50);
        assert_eq!(settings.hub_config().connection_burst, 60);
        assert_eq!(settings.hub_config().memory_budget, 64 << 20);
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.compression, Compression::LowMemory);

        let args = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            origins: vec!["http://a.test".into()],
            ping_interval: Some(PingInterval(Some(Duration::from_secs(3)))),
            max_message_size: Some(100),
            max_connections: Some(7),
            connection_rate: Some(0),
            memory_budget: Some(0),
            log_format: Some(LogFormat::Text),
            ..ServeArgs::default()
        };
        let from_file = file("listen = \"0.0.0.0:9000\"\nmax-message-size = 4096");
        let settings = ServeSettings::merge(&args, from_file).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:0");
        assert_eq!(settings.origins, ["http://a.test"]);
        assert_eq!(settings.ping_interval, Some(Duration::from_secs(3)));
        assert_eq!(settings.max_message_size, 100);
        assert_eq!(settings.max_connections, 7);
        assert_eq!(settings.connection_rate, 0, "0 from the flag turns it off");
        assert_eq!(settings.memory_budget, 0);
        assert_eq!(settings.log_format, LogFormat::Text);
    }

    #[test]
    fn tls_needs_both_files_from_flags_or_file() {
        let args = ServeArgs {
            tls_cert: Some("chain.pem".into()),
            ..ServeArgs::default()
        };
        let settings = ServeSettings::merge(&args, file("tls-key = \"key.pem\"")).unwrap();
        assert_eq!(
            settings.tls,
            Some(TlsFiles {
                cert: "chain.pem".into(),
                key: "key.pem".into()
            })
        );
        let error = ServeSettings::merge(&args, ServeFile::default()).unwrap_err();
        assert!(error.to_string().contains("--tls-key"), "{error}");
    }

    #[test]
    fn the_hub_table_maps_onto_the_node_config() {
        let settings = ServeSettings::merge(
            &ServeArgs::default(),
            file(
                r#"
                hub-max-message-size = "16KiB"
                [hub]
                ping_interval = "10s"
                [hub.channel]
                history_size = 7
                join_leave = false
                [[hub.namespaces]]
                name = "private"
                presence = false
                "#,
            ),
        )
        .unwrap();
        assert_eq!(settings.hub_max_message_size, 16 << 10);
        assert_eq!(settings.node.ping_interval, Duration::from_secs(10));
        assert_eq!(settings.node.channel.history_size, 7);
        assert!(!settings.node.channel.join_leave);
        assert_eq!(settings.node.namespaces.len(), 1);
        assert_eq!(settings.node.namespaces[0].name, "private");
        assert!(!settings.node.namespaces[0].options.presence);
        // Unwritten keys keep the embedded defaults.
        assert!(settings.node.allow_anonymous_connect);
        assert!(!settings.allow_anonymous_beyond_loopback);
        let config = settings.hub_config();
        assert_eq!(config.node, settings.node);
        assert_eq!(config.hub_max_message_size, 16 << 10);
    }

    #[test]
    fn anonymous_beyond_loopback_needs_the_flag_or_an_explicit_key() {
        let defaults = ServeSettings::merge(&ServeArgs::default(), ServeFile::default()).unwrap();
        assert!(!defaults.allow_anonymous_beyond_loopback);
        let flag = ServeArgs {
            allow_anonymous: true,
            ..ServeArgs::default()
        };
        let flagged = ServeSettings::merge(&flag, ServeFile::default()).unwrap();
        assert!(flagged.allow_anonymous_beyond_loopback);
        let written = ServeSettings::merge(
            &ServeArgs::default(),
            file("[hub]\nallow_anonymous_connect = true"),
        )
        .unwrap();
        assert!(written.allow_anonymous_beyond_loopback);
        let closed = ServeSettings::merge(
            &ServeArgs::default(),
            file("[hub]\nallow_anonymous_connect = false"),
        )
        .unwrap();
        assert!(!closed.allow_anonymous_beyond_loopback);
        assert!(!closed.node.allow_anonymous_connect);
    }

    #[test]
    fn api_key_and_address_from_flags_over_the_file() {
        let from_file = ServeSettings::merge(
            &ServeArgs::default(),
            file("api-key = \"file-key\"\napi-listen = \"127.0.0.1:9000\""),
        )
        .unwrap();
        let config = from_file.hub_config();
        assert_eq!(config.api_key.as_deref(), Some("file-key"));
        assert_eq!(config.api_listen.as_deref(), Some("127.0.0.1:9000"));
        let flagged = ServeArgs {
            api_key: Some("flag-key".into()),
            ..ServeArgs::default()
        };
        let merged = ServeSettings::merge(&flagged, file("api-key = \"file-key\"")).unwrap();
        assert_eq!(merged.hub_config().api_key.as_deref(), Some("flag-key"));
        assert_eq!(ServeSettings::default().hub_config().api_key, None);
    }

    #[test]
    fn file_errors_name_the_key() {
        assert!(toml::from_str::<ServeFile>("listn = \"x\"").is_err());
        let error = ServeSettings::merge(&ServeArgs::default(), file("ping-interval = \"soon\""))
            .unwrap_err();
        assert!(format!("{error:#}").contains("ping-interval"), "{error:#}");
        let error = ServeSettings::merge(&ServeArgs::default(), file("max-message-size = \"big\""))
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("max-message-size"),
            "{error:#}"
        );
        let error =
            ServeSettings::merge(&ServeArgs::default(), file("max-connections = 0")).unwrap_err();
        assert!(
            format!("{error:#}").contains("max-connections"),
            "{error:#}"
        );
    }

    #[test]
    fn the_engine_from_the_flags_or_the_hub_table() {
        let defaults = ServeSettings::merge(&ServeArgs::default(), ServeFile::default()).unwrap();
        assert_eq!(defaults.engine, EngineKind::Memory, "memory is the default");
        let from_file = ServeSettings::merge(
            &ServeArgs::default(),
            file(
                r#"
                [hub]
                engine = "redis"
                redis_url = "redis://10.0.0.5:6380"
                redis_prefix = "hub-a"
                redis_presence_ttl = "9s"
                node_name = "edge-1"
                history_meta_ttl = "1h"
                "#,
            ),
        )
        .unwrap();
        let EngineKind::Redis(options) = &from_file.engine else {
            panic!("the redis engine: {:?}", from_file.engine);
        };
        assert_eq!(options.url, "redis://10.0.0.5:6380");
        assert_eq!(options.prefix.as_deref(), Some("hub-a"));
        assert_eq!(options.presence_ttl, Duration::from_secs(9));
        assert_eq!(from_file.node_name.as_deref(), Some("edge-1"));
        assert_eq!(
            from_file.node.history_meta_ttl,
            Duration::from_secs(3600),
            "the other [hub] keys still reach the node config"
        );
        let flagged = ServeArgs {
            engine: Some(EngineChoice::Redis),
            redis_node_ttl: Some(Duration::from_secs(4)),
            ..ServeArgs::default()
        };
        let merged = ServeSettings::merge(&flagged, ServeFile::default()).unwrap();
        let EngineKind::Redis(options) = &merged.hub_config().engine else {
            panic!("the redis engine");
        };
        assert_eq!(options.url, DEFAULT_REDIS_URL);
        assert_eq!(options.node_ttl, Duration::from_secs(4));
        let lost = ServeArgs {
            redis_url: Some("redis://127.0.0.1:1".into()),
            ..ServeArgs::default()
        };
        let error = ServeSettings::merge(&lost, ServeFile::default()).unwrap_err();
        assert!(error.to_string().contains("--engine redis"), "{error}");
        let error = ServeSettings::merge(&ServeArgs::default(), file("[hub]\nengine = \"disk\""))
            .unwrap_err();
        assert!(format!("{error:#}").contains("engine"), "{error:#}");
    }

    #[test]
    fn drain_window_from_the_file_or_the_flag() {
        assert_eq!(
            ServeSettings::default().hub_config().drain_window,
            DEFAULT_DRAIN_WINDOW
        );
        let merged =
            ServeSettings::merge(&ServeArgs::default(), file("drain-window = \"12s\"")).unwrap();
        assert_eq!(merged.hub_config().drain_window, Duration::from_secs(12));
        let flagged = ServeArgs {
            drain_window: Some(parse_drain_window("0s").unwrap()),
            ..ServeArgs::default()
        };
        let merged = ServeSettings::merge(&flagged, file("drain-window = \"12s\"")).unwrap();
        assert_eq!(
            merged.drain_window,
            Duration::ZERO,
            "the flag wins; 0s is allowed"
        );
        let error = ServeSettings::merge(&ServeArgs::default(), file("drain-window = \"soon\""))
            .unwrap_err();
        assert!(format!("{error:#}").contains("drain-window"), "{error:#}");
    }
}
