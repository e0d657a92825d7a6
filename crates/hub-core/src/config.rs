//! Configuration of a node: channel options per namespace, connection
//! limits, keepalive and outbound-queue bounds.
//!
//! [`NodeConfig`] is the one home of every option and its default. The cli
//! maps its flags and TOML file onto it (it derives `serde::Deserialize`
//! with snake_case keys; missing keys take the defaults documented here).
//! Durations are written as a number of seconds or a string with a unit:
//! `"300ms"`, `"25s"`, `"5m"`, `"1h"`, `"30d"`.

use std::time::Duration;

use serde::Deserialize;

use crate::error::HubError;
use crate::session::TokenVerifier;

/// The character separating a namespace from the rest of a channel name
/// (`chat:room`), as in Centrifugo.
pub const NAMESPACE_SEPARATOR: char = ':';

/// What clients may do in the channels of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelOptions {
    /// Publications kept per channel for history reads and recovery. 0
    /// disables history (and with it positions and recovery). Default 100:
    /// enough to bridge a reconnect of a few seconds on a busy channel.
    pub history_size: usize,
    /// How long a publication stays in history. Zero disables history.
    /// Default 5 minutes: longer than any reconnect backoff of the SDKs.
    #[serde(deserialize_with = "duration::deserialize")]
    pub history_ttl: Duration,
    /// Keep presence (who is subscribed) for the channel. Default on.
    pub presence: bool,
    /// Track joins and leaves and push them to the subscribers that ask
    /// for them (`join_leave: true` in their subscribe request, the SDKs'
    /// `joinLeave` option). Default on.
    pub join_leave: bool,
    /// Push joins and leaves to every subscriber, asked or not. Default off,
    /// as in Centrifugo: with it, N clients subscribing to one channel cost
    /// N² pushes, which floods a busy channel.
    pub force_push_join_leave: bool,
    /// Any connected client may publish. Default on (the embedded hub is a
    /// playground; turn it off for production namespaces).
    pub allow_publish_for_client: bool,
    /// A client subscribed to the channel may publish, even when
    /// `allow_publish_for_client` is off. Default off.
    pub allow_publish_for_subscriber: bool,
    /// Any connected client may read history. Default on.
    pub allow_history_for_client: bool,
    /// A subscribed client may read history. Default off.
    pub allow_history_for_subscriber: bool,
    /// Any connected client may ask for presence and presence stats.
    /// Default on.
    pub allow_presence_for_client: bool,
    /// A subscribed client may ask for presence and presence stats.
    /// Default off.
    pub allow_presence_for_subscriber: bool,
    /// Recover every subscription that asks for it, whatever the client's
    /// subscribe flags say. Default on.
    pub force_recovery: bool,
    /// Any connected client may subscribe without a subscription token.
    /// Default on. Off makes the namespace private, as Centrifugo v5's
    /// `allow_subscribe_for_client: false`: a `subscribe` needs a valid
    /// subscription token for the channel (else 103 "permission denied").
    pub allow_subscribe_for_client: bool,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self {
            history_size: 100,
            history_ttl: Duration::from_secs(300),
            presence: true,
            join_leave: true,
            force_push_join_leave: false,
            allow_publish_for_client: true,
            allow_publish_for_subscriber: false,
            allow_history_for_client: true,
            allow_history_for_subscriber: false,
            allow_presence_for_client: true,
            allow_presence_for_subscriber: false,
            force_recovery: true,
            allow_subscribe_for_client: true,
        }
    }
}

impl ChannelOptions {
    /// Options with everything off: no history, no presence, no client
    /// operations besides subscribing. A base for restrictive namespaces.
    pub fn restrictive() -> Self {
        Self {
            history_size: 0,
            history_ttl: Duration::ZERO,
            presence: false,
            join_leave: false,
            force_push_join_leave: false,
            allow_publish_for_client: false,
            allow_publish_for_subscriber: false,
            allow_history_for_client: false,
            allow_history_for_subscriber: false,
            allow_presence_for_client: false,
            allow_presence_for_subscriber: false,
            force_recovery: false,
            allow_subscribe_for_client: true,
        }
    }

    /// Whether channels of this namespace keep history, and so have stream
    /// positions and can recover.
    pub fn has_history(&self) -> bool {
        self.history_size > 0 && !self.history_ttl.is_zero()
    }

    /// Whether a client may publish; `subscribed`: it is subscribed to the
    /// channel.
    pub fn may_publish(&self, subscribed: bool) -> bool {
        self.allow_publish_for_client || (subscribed && self.allow_publish_for_subscriber)
    }

    /// Whether a client may read history; `subscribed`: it is subscribed.
    pub fn may_read_history(&self, subscribed: bool) -> bool {
        self.allow_history_for_client || (subscribed && self.allow_history_for_subscriber)
    }

    /// Whether a client may read presence; `subscribed`: it is subscribed.
    pub fn may_read_presence(&self, subscribed: bool) -> bool {
        self.allow_presence_for_client || (subscribed && self.allow_presence_for_subscriber)
    }
}

/// A named namespace: channels `name:...` take its options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamespaceConfig {
    /// The namespace's name: the part of a channel name before the first
    /// `:`. Non-empty, without `:`.
    pub name: String,
    /// The options of its channels; missing keys take the embedded
    /// defaults of [`ChannelOptions`].
    #[serde(flatten)]
    pub options: ChannelOptions,
}

/// Every option of a node, with its default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Options of channels without a namespace.
    pub channel: ChannelOptions,
    /// Named namespaces. A channel `ns:rest` whose `ns` is not listed here
    /// is refused with "unknown channel" (102).
    pub namespaces: Vec<NamespaceConfig>,
    /// Accept connections whose `connect` carries no credentials. Default
    /// on: the embedded hub serves loopback clients without setup.
    pub allow_anonymous_connect: bool,
    /// HMAC secret that verifies HS256 connection and subscription JWTs
    /// (Centrifugo's `token_hmac_secret_key`). Default none.
    pub token_hmac_secret_key: Option<Secret>,
    /// RSA public key (PEM text, or the path of a PEM file) that verifies
    /// RS256 tokens (Centrifugo's `token_rsa_public_key`). Default none.
    pub token_rsa_public_key: Option<String>,
    /// ECDSA P-256 public key (PEM text, or the path of a PEM file) that
    /// verifies ES256 tokens (Centrifugo's `token_ecdsa_public_key`).
    /// Default none.
    pub token_ecdsa_public_key: Option<String>,
    /// How long a connection whose token expired may stay before it is
    /// disconnected with 3005 "connection expired", when the client does
    /// not `refresh` it. Default 25 s, Centrifugo's
    /// `client_expired_close_delay`: time for the SDK's `getToken`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub expired_close_delay: Duration,
    /// How long a subscription whose token expired may stay before the
    /// connection is disconnected with 3006 "subscription expired", when
    /// the client does not `sub_refresh` it. Default 25 s, Centrifugo's
    /// `client_expired_sub_close_delay`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub expired_sub_close_delay: Duration,
    /// Interval of server pings. Default 25 s, Centrifugo's: below the
    /// 30 s to 60 s idle timeouts of common proxies and load balancers.
    #[serde(deserialize_with = "duration::deserialize")]
    pub ping_interval: Duration,
    /// How long a client has to answer a ping before it is disconnected
    /// with 3012 "no pong". Default 8 s, Centrifugo's.
    #[serde(deserialize_with = "duration::deserialize")]
    pub pong_timeout: Duration,
    /// How long a new connection has to send its `connect` command.
    /// Default 10 s: a slow mobile handshake, but not an idle socket.
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    /// Channels one connection may subscribe to. Default 128, Centrifugo's
    /// `client_channel_limit`.
    pub max_channels_per_connection: usize,
    /// Longest channel name in bytes. Default 255, Centrifugo's
    /// `channel_max_length`.
    pub max_channel_name_length: usize,
    /// Most publications one history read returns. Default 300, as
    /// Centrifugo's `client_history_max_publication_limit`.
    pub history_max_publication_limit: usize,
    /// Most publications one recovery may return; a client further behind
    /// gets `recovered: false`. Default 300, as Centrifugo's
    /// `client_recovery_max_publication_limit`.
    pub recovery_max_publication_limit: usize,
    /// How long a channel's stream position (epoch and top offset) outlives
    /// its last publication when nobody is subscribed. Default 30 days,
    /// Centrifugo's `history_meta_ttl`; after it the epoch changes.
    #[serde(deserialize_with = "duration::deserialize")]
    pub history_meta_ttl: Duration,
    /// Bytes a connection's outbound queue may hold before it is
    /// disconnected as slow (3008). Default 1 MiB, Centrifugo's
    /// `client_queue_max_size`.
    pub client_queue_max_bytes: usize,
    /// Messages a connection's outbound queue may hold before it is
    /// disconnected as slow (3008). Default 4096: bounds per-message
    /// overhead when messages are tiny.
    pub client_queue_max_messages: usize,
    /// How long one write may take before the connection is disconnected
    /// as slow (3008). Default 1 s, Centrifugo's `websocket_write_timeout`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub write_timeout: Duration,
    /// Commands one connection may send per second (pongs to server pings
    /// do not count); 0, the default, sets no limit, as Centrifugo without
    /// PRO's operation limits. Commands over it are answered with error
    /// 111 "too many requests" (temporary); a client that keeps going
    /// (more refusals than `client_command_burst` without a quiet second)
    /// is disconnected with 3013 "too many requests" and reconnects after
    /// a backoff. Off by default because SDKs and benchmark publishers
    /// legitimately send thousands of publishes per second over one
    /// connection; set it for public clients (e.g. 100).
    pub client_command_rate: u32,
    /// Commands a connection may send at once under `client_command_rate`;
    /// 0 means one second's worth. Keep it above
    /// `max_channels_per_connection`: an SDK resubscribes to every channel
    /// in one burst when it reconnects.
    pub client_command_burst: u32,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            channel: ChannelOptions::default(),
            namespaces: Vec::new(),
            allow_anonymous_connect: true,
            token_hmac_secret_key: None,
            token_rsa_public_key: None,
            token_ecdsa_public_key: None,
            expired_close_delay: Duration::from_secs(25),
            expired_sub_close_delay: Duration::from_secs(25),
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(10),
            max_channels_per_connection: 128,
            max_channel_name_length: 255,
            history_max_publication_limit: 300,
            recovery_max_publication_limit: 300,
            history_meta_ttl: Duration::from_secs(30 * 24 * 3600),
            client_queue_max_bytes: 1 << 20,
            client_queue_max_messages: 4096,
            write_timeout: Duration::from_secs(1),
            client_command_rate: 0,
            client_command_burst: 0,
        }
    }
}

impl NodeConfig {
    /// The commands-per-connection limit, `None` when
    /// `client_command_rate` is 0 (off).
    pub fn command_rate(&self) -> Option<crate::rate::RateLimit> {
        crate::rate::RateLimit::new(self.client_command_rate, self.client_command_burst)
    }

    /// Whether any token key is configured (tokens are then verified).
    pub fn has_token_keys(&self) -> bool {
        self.token_hmac_secret_key.is_some()
            || self.token_rsa_public_key.is_some()
            || self.token_ecdsa_public_key.is_some()
    }
}

/// A secret string that never shows in `Debug` output (logs, panics).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A namespace name is empty or contains `:`.
    #[error("namespace name {0:?} is invalid: use a non-empty name without ':'")]
    InvalidNamespaceName(String),
    /// Two namespaces share a name.
    #[error("namespace {0:?} is configured twice: keep one entry")]
    DuplicateNamespace(String),
    /// A duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// A limit that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
}

impl NodeConfig {
    /// Checks that the configuration can run and builds its namespace
    /// table.
    pub fn namespaces(&self) -> Result<Namespaces, ConfigError> {
        for (name, value) in [
            ("ping_interval", self.ping_interval),
            ("pong_timeout", self.pong_timeout),
            ("connect_timeout", self.connect_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        for (name, value) in [
            ("max_channel_name_length", self.max_channel_name_length),
            ("client_queue_max_bytes", self.client_queue_max_bytes),
            ("client_queue_max_messages", self.client_queue_max_messages),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        Namespaces::new(self.channel.clone(), &self.namespaces)
    }
}

/// A checked configuration and its namespace table, shared (in an `Arc`)
/// by the node and every session.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    config: NodeConfig,
    namespaces: Namespaces,
    /// Verifies connection and subscription tokens; `None`: tokens are
    /// ignored (anonymous access decides).
    token_verifier: Option<std::sync::Arc<dyn TokenVerifier>>,
}

impl Settings {
    /// Checks `config` and builds its namespace table; tokens are not
    /// verified.
    pub fn new(config: NodeConfig) -> Result<std::sync::Arc<Self>, ConfigError> {
        let namespaces = config.namespaces()?;
        Ok(std::sync::Arc::new(Self {
            config,
            namespaces,
            token_verifier: None,
        }))
    }

    /// Like [`Settings::new`], with `verifier` checking the tokens that
    /// clients send with `connect`, `refresh`, `subscribe` and
    /// `sub_refresh`.
    pub fn with_token_verifier(
        config: NodeConfig,
        verifier: std::sync::Arc<dyn TokenVerifier>,
    ) -> Result<std::sync::Arc<Self>, ConfigError> {
        let namespaces = config.namespaces()?;
        Ok(std::sync::Arc::new(Self {
            config,
            namespaces,
            token_verifier: Some(verifier),
        }))
    }

    /// The token verifier, when tokens are verified.
    pub fn token_verifier(&self) -> Option<&dyn TokenVerifier> {
        self.token_verifier.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The namespace table.
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// The options of `channel`'s namespace; 102 "unknown channel" when the
    /// namespace is not configured.
    pub fn channel_options(&self, channel: &str) -> Result<&ChannelOptions, HubError> {
        self.namespaces.channel_options(channel)
    }
}

/// Index of a namespace in a [`Namespaces`] table; 0 is the default
/// namespace (channels without `:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceId(pub u32);

/// The namespace table: resolves a channel name to its options.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// Options by [`NamespaceId`]; index 0 is the default namespace.
    options: Vec<ChannelOptions>,
    /// Named namespaces sorted by name, with their index in `options`.
    names: Vec<(Box<str>, NamespaceId)>,
}

impl Namespaces {
    /// A table of the default options and the named namespaces.
    pub fn new(default: ChannelOptions, named: &[NamespaceConfig]) -> Result<Self, ConfigError> {
        let mut options = Vec::with_capacity(named.len() + 1);
        options.push(default);
        let mut names: Vec<(Box<str>, NamespaceId)> = Vec::with_capacity(named.len());
        for namespace in named {
            if namespace.name.is_empty() || namespace.name.contains(NAMESPACE_SEPARATOR) {
                return Err(ConfigError::InvalidNamespaceName(namespace.name.clone()));
            }
            let id = NamespaceId(options.len() as u32);
            options.push(namespace.options.clone());
            names.push((namespace.name.as_str().into(), id));
        }
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = names.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ConfigError::DuplicateNamespace(pair[0].0.to_string()));
        }
        Ok(Self { options, names })
    }

    /// The namespace of `channel`: the default one without `:`, the named
    /// one before the first `:`, or "unknown channel" (102) when that name
    /// is not configured or the channel name is empty.
    pub fn resolve(&self, channel: &str) -> Result<NamespaceId, HubError> {
        if channel.is_empty() {
            return Err(HubError::UnknownChannel);
        }
        match channel.split_once(NAMESPACE_SEPARATOR) {
            None => Ok(NamespaceId(0)),
            Some((name, _)) => self
                .names
                .binary_search_by(|(known, _)| (**known).cmp(name))
                .map(|index| self.names[index].1)
                .map_err(|_| HubError::UnknownChannel),
        }
    }

    /// The options of a namespace resolved by [`Namespaces::resolve`].
    pub fn options(&self, id: NamespaceId) -> &ChannelOptions {
        &self.options[id.0 as usize]
    }

    /// Resolves `channel` and returns its options.
    pub fn channel_options(&self, channel: &str) -> Result<&ChannelOptions, HubError> {
        self.resolve(channel).map(|id| self.options(id))
    }
}

impl Default for Namespaces {
    fn default() -> Self {
        Self {
            options: vec![ChannelOptions::default()],
            names: Vec::new(),
        }
    }
}

/// Durations in configuration: seconds as a number, or a string with a
/// unit (`ms`, `s`, `m`, `h`, `d`).
mod duration {
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("seconds as a number, or a string such as \"300ms\", \"25s\", \"5m\", \"1h\", \"30d\"")
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(seconds))
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
            u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| E::custom("a duration cannot be negative"))
        }

        fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Duration, E> {
            Duration::try_from_secs_f64(seconds).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
        }
    }

    pub(super) fn parse(text: &str) -> Option<Duration> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit())?;
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().ok()?;
        let millis_per_unit: u64 = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        number
            .checked_mul(millis_per_unit)
            .map(Duration::from_millis)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn units() {
            assert_eq!(parse("300ms"), Some(Duration::from_millis(300)));
            assert_eq!(parse("25s"), Some(Duration::from_secs(25)));
            assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
            assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
            assert_eq!(parse("30d"), Some(Duration::from_secs(30 * 86400)));
            assert_eq!(parse("5"), None);
            assert_eq!(parse("5y"), None);
            assert_eq!(parse("s"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_namespaces(names: &[&str]) -> NodeConfig {
        NodeConfig {
            namespaces: names
                .iter()
                .map(|name| NamespaceConfig {
                    name: (*name).to_owned(),
                    options: ChannelOptions::restrictive(),
                })
                .collect(),
            ..NodeConfig::default()
        }
    }

    #[test]
    fn resolves_default_named_and_unknown() {
        let table = with_namespaces(&["chat", "news"]).namespaces().unwrap();
        assert_eq!(table.resolve("lobby"), Ok(NamespaceId(0)));
        assert!(table.options(table.resolve("lobby").unwrap()).presence);
        let chat = table.resolve("chat:room").unwrap();
        assert_ne!(chat, NamespaceId(0));
        assert!(!table.options(chat).presence);
        assert_eq!(table.resolve("sport:x"), Err(HubError::UnknownChannel));
        assert_eq!(table.resolve(""), Err(HubError::UnknownChannel));
        assert_eq!(table.resolve(":x"), Err(HubError::UnknownChannel));
    }

    #[test]
    fn rejects_bad_namespace_tables() {
        assert_eq!(
            with_namespaces(&["a", "a"]).namespaces().unwrap_err(),
            ConfigError::DuplicateNamespace("a".into())
        );
        assert_eq!(
            with_namespaces(&["a:b"]).namespaces().unwrap_err(),
            ConfigError::InvalidNamespaceName("a:b".into())
        );
        let zero_ping = NodeConfig {
            ping_interval: Duration::ZERO,
            ..NodeConfig::default()
        };
        assert_eq!(
            zero_ping.namespaces().unwrap_err(),
            ConfigError::ZeroDuration("ping_interval")
        );
    }

    #[test]
    fn deserializes_with_defaults_and_units() {
        let config: NodeConfig = serde_json::from_str(
            r#"{"ping_interval": "10s", "channel": {"history_ttl": 60},
                "namespaces": [{"name": "chat", "presence": false}]}"#,
        )
        .unwrap();
        assert_eq!(config.ping_interval, Duration::from_secs(10));
        assert_eq!(config.pong_timeout, Duration::from_secs(8));
        assert_eq!(config.channel.history_ttl, Duration::from_secs(60));
        assert_eq!(config.channel.history_size, 100);
        assert!(!config.namespaces[0].options.presence);
        assert!(config.namespaces[0].options.join_leave);
        assert!(serde_json::from_str::<NodeConfig>(r#"{"ping_intervall": 1}"#).is_err());
    }
}
