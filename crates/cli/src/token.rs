//! `switchboard token`: mint a development JWT for the hub, or check one;
//! and the token-key flags that `serve` shares.
//!
//! ```sh
//! switchboard token --token-hmac-secret-key S --user 42 --ttl 1h
//! switchboard token --token-hmac-secret-key S --user 42 --channel private:room
//! switchboard token --config serve.toml --check eyJhbGciOi...
//! ```
//!
//! Minting signs HS256 with the HMAC secret (production tokens come from
//! the application's backend); checking accepts every key `serve` does.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::value::RawValue;
use switchboard_hub::auth::{
    exp_in, mint_hmac, ConnectionClaims, JwtVerifier, Secret, SubscriptionClaims, TokenError,
    TokenVerifier,
};
use switchboard_hub::NodeConfig;

use crate::config::parse_interval;
use crate::serve::ServeFile;

/// The keys that verify hub tokens (Centrifugo's option names). Given
/// here, they override the `[hub]` table of the config file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TokenKeyArgs {
    /// HMAC secret for HS256 connection and subscription tokens. With any
    /// token key set, connections without a token are refused (error 101)
    /// unless --allow-anonymous or `allow_anonymous_connect` says otherwise.
    #[arg(long, value_name = "SECRET")]
    pub token_hmac_secret_key: Option<String>,
    /// RSA public key for RS256 tokens: PEM text or a PEM file's path.
    #[arg(long, value_name = "PEM|FILE")]
    pub token_rsa_public_key: Option<String>,
    /// ECDSA P-256 public key for ES256 tokens: PEM text or a PEM file's
    /// path.
    #[arg(long, value_name = "PEM|FILE")]
    pub token_ecdsa_public_key: Option<String>,
}

impl TokenKeyArgs {
    /// Applies the flags to `node`. When a key is configured and nothing
    /// said whether anonymous connections are allowed (`allow_anonymous`:
    /// the `--allow-anonymous` flag or an explicit `allow_anonymous_connect`
    /// in the file), anonymous connections are turned off, as Centrifugo
    /// does: configuring keys means clients must authenticate.
    pub fn apply(&self, node: &mut NodeConfig, anonymous_said: bool) {
        if let Some(secret) = &self.token_hmac_secret_key {
            node.token_hmac_secret_key = Some(Secret::new(secret.clone()));
        }
        if let Some(key) = &self.token_rsa_public_key {
            node.token_rsa_public_key = Some(key.clone());
        }
        if let Some(key) = &self.token_ecdsa_public_key {
            node.token_ecdsa_public_key = Some(key.clone());
        }
        if node.has_token_keys() && !anonymous_said {
            node.allow_anonymous_connect = false;
        }
    }
}

/// `switchboard token`: mint a development token, or check one.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = TOKEN_AFTER_HELP)]
pub struct TokenArgs {
    /// Read the token keys from the `[hub]` table of this serve config
    /// file (flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The keys that sign (HMAC) and verify tokens.
    #[command(flatten)]
    pub keys: TokenKeyArgs,

    /// Check TOKEN (signature, expiry, claims) instead of minting one.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["user", "info", "channels", "channel"])]
    pub check: Option<String>,

    /// The user id (`sub` claim) of the token to mint.
    #[arg(long, value_name = "ID", required_unless_present = "check")]
    pub user: Option<String>,

    /// How long the token is valid (`exp` claim), e.g. `30s`, `15m`, `1h`;
    /// `0` mints a token without `exp`.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub ttl: String,

    /// Connection info (`info` claim, any JSON) shown to other clients.
    #[arg(long, value_name = "JSON")]
    pub info: Option<String>,

    /// Server-side subscriptions (`channels` claim); repeat or separate
    /// with commas.
    #[arg(long, value_name = "CHANNEL", value_delimiter = ',')]
    pub channels: Vec<String>,

    /// Mint a subscription token for this channel instead of a connection
    /// token.
    #[arg(long, value_name = "CHANNEL", conflicts_with = "channels")]
    pub channel: Option<String>,
}

const TOKEN_AFTER_HELP: &str = "\
Examples:
  switchboard token --token-hmac-secret-key S --user 42 --ttl 1h
  switchboard token --token-hmac-secret-key S --user 42 --channel private:room
  switchboard token --config serve.toml --check eyJhbGciOi...

Minting signs HS256 with the HMAC secret (for development: production
tokens come from the application backend). --check prints the claims and
exits 0 when the token is valid, 1 when it is not.";

/// Keys from the file (if any) with the flags over them.
fn node_keys(args: &TokenArgs) -> anyhow::Result<NodeConfig> {
    let mut node = match &args.config {
        Some(path) => {
            let file = ServeFile::load(path)?;
            match file.hub {
                Some(table) => toml::Value::Table(table)
                    .try_into()
                    .context("the [hub] table of the config file is invalid")?,
                None => NodeConfig::default(),
            }
        }
        None => NodeConfig::default(),
    };
    args.keys.apply(&mut node, true);
    Ok(node)
}

/// Mints the token the arguments describe.
pub fn mint(args: &TokenArgs) -> anyhow::Result<String> {
    let node = node_keys(args)?;
    let secret = node.token_hmac_secret_key.as_ref().context(
        "minting needs the HMAC secret: pass --token-hmac-secret-key or a --config file \
         with token_hmac_secret_key in its [hub] table",
    )?;
    let ttl = parse_interval(&args.ttl)
        .map_err(anyhow::Error::msg)
        .context("--ttl")?;
    let exp = ttl.filter(|ttl| !ttl.is_zero()).map(exp_in);
    let iat = Some(exp_in(Duration::ZERO));
    let info = args
        .info
        .as_deref()
        .map(|text| RawValue::from_string(text.to_owned()))
        .transpose()
        .context("--info must be JSON, e.g. '{\"name\":\"Alice\"}'")?;
    let user = args.user.clone().unwrap_or_default();
    let token = match &args.channel {
        Some(channel) => mint_hmac(
            secret.expose(),
            &SubscriptionClaims {
                sub: user,
                channel: channel.clone(),
                exp,
                iat,
                info,
            },
        ),
        None => mint_hmac(
            secret.expose(),
            &ConnectionClaims {
                sub: user,
                exp,
                iat,
                info,
                channels: args.channels.clone(),
                ..ConnectionClaims::default()
            },
        ),
    }?;
    Ok(token)
}

/// Checks `token` against the configured keys; returns a description of
/// its claims, or why it is refused.
pub fn check(args: &TokenArgs, token: &str) -> anyhow::Result<Result<String, TokenError>> {
    let node = node_keys(args)?;
    let verifier = JwtVerifier::from_config(&node)?.context(
        "checking needs a key: pass --token-hmac-secret-key, --token-rsa-public-key or \
         --token-ecdsa-public-key, or a --config file with one in its [hub] table",
    )?;
    let expiry = |expires_in: Option<Duration>| {
        expires_in.map_or("never expires".to_owned(), |left| {
            format!("expires in {}", humantime::format_duration(left))
        })
    };
    // A token with a `channel` claim is a subscription token.
    if let Ok(subscription) = verifier.verify_subscription(token) {
        return Ok(Ok(format!(
            "valid subscription token: user {:?}, channel {:?}, {}{}",
            subscription.user,
            subscription.channel,
            expiry(subscription.expires_in),
            info_text(subscription.info.as_deref()),
        )));
    }
    Ok(verifier.verify_connection(token).map(|connection| {
        let channels = if connection.channels.is_empty() {
            String::new()
        } else {
            format!(", channels {:?}", connection.channels)
        };
        format!(
            "valid connection token: user {:?}, {}{}{}",
            connection.user,
            expiry(connection.expires_in),
            info_text(connection.info.as_deref()),
            channels,
        )
    }))
}

fn info_text(info: Option<&[u8]>) -> String {
    info.map_or(String::new(), |info| {
        format!(", info {}", String::from_utf8_lossy(info))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        token: TokenArgs,
    }

    fn args(line: &[&str]) -> TokenArgs {
        Cli::try_parse_from(std::iter::once("token").chain(line.iter().copied()))
            .unwrap()
            .token
    }

    /// Runs `check` with the `--check` token of `line`.
    fn checked(line: &[&str]) -> anyhow::Result<Result<String, TokenError>> {
        let parsed = args(line);
        check(&parsed, parsed.check.as_deref().unwrap())
    }

    #[test]
    fn minted_tokens_check_as_valid() {
        let token = mint(&args(&[
            "--token-hmac-secret-key",
            "s3cret",
            "--user",
            "42",
            "--ttl",
            "1h",
            "--info",
            r#"{"name":"Alice"}"#,
            "--channels",
            "news,alerts",
        ]))
        .unwrap();
        let report = checked(&["--token-hmac-secret-key", "s3cret", "--check", &token])
            .unwrap()
            .unwrap();
        assert!(
            report.starts_with("valid connection token: user \"42\", expires in "),
            "{report}"
        );
        assert!(report.contains(r#"info {"name":"Alice"}"#), "{report}");
        assert!(
            report.contains(r#"channels ["news", "alerts"]"#),
            "{report}"
        );

        let token = mint(&args(&[
            "--token-hmac-secret-key",
            "s3cret",
            "--user",
            "42",
            "--ttl",
            "0",
            "--channel",
            "private:room",
        ]))
        .unwrap();
        let report = checked(&["--token-hmac-secret-key", "s3cret", "--check", &token])
            .unwrap()
            .unwrap();
        assert_eq!(
            report,
            "valid subscription token: user \"42\", channel \"private:room\", never expires"
        );
    }

    #[test]
    fn check_refuses_another_key_and_garbage() {
        let token = mint(&args(&["--token-hmac-secret-key", "one", "--user", "42"])).unwrap();
        let verdict = checked(&["--token-hmac-secret-key", "two", "--check", &token]).unwrap();
        assert!(
            matches!(verdict, Err(TokenError::Invalid(_))),
            "{verdict:?}"
        );
        let verdict = checked(&["--token-hmac-secret-key", "two", "--check", "x.y"]).unwrap();
        assert!(
            matches!(verdict, Err(TokenError::Invalid(_))),
            "{verdict:?}"
        );
    }

    #[test]
    fn minting_needs_the_secret_and_checking_a_key() {
        let error = mint(&args(&["--user", "42"])).unwrap_err();
        assert!(format!("{error:#}").contains("--token-hmac-secret-key"));
        let error = checked(&["--check", "x.y.z"]).unwrap_err();
        assert!(format!("{error:#}").contains("checking needs a key"));
    }

    #[test]
    fn serve_flags_set_the_keys_and_turn_anonymous_off() {
        use crate::serve::{ServeArgs, ServeFile, ServeSettings};
        let args = ServeArgs {
            token_keys: TokenKeyArgs {
                token_hmac_secret_key: Some("s3cret".into()),
                ..TokenKeyArgs::default()
            },
            ..ServeArgs::default()
        };
        let settings = ServeSettings::merge(&args, ServeFile::default()).unwrap();
        let secret = settings.node.token_hmac_secret_key.as_ref().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(!settings.node.allow_anonymous_connect);
        let args = ServeArgs {
            allow_anonymous: true,
            ..args
        };
        let settings = ServeSettings::merge(&args, ServeFile::default()).unwrap();
        assert!(settings.node.allow_anonymous_connect);
    }

    #[test]
    fn keys_turn_anonymous_off_unless_said_otherwise() {
        let keys = TokenKeyArgs {
            token_hmac_secret_key: Some("s".into()),
            ..TokenKeyArgs::default()
        };
        let mut node = NodeConfig::default();
        keys.apply(&mut node, false);
        assert!(!node.allow_anonymous_connect);
        let mut node = NodeConfig::default();
        keys.apply(&mut node, true);
        assert!(node.allow_anonymous_connect);
        let mut node = NodeConfig::default();
        TokenKeyArgs::default().apply(&mut node, false);
        assert!(node.allow_anonymous_connect);
    }
}
