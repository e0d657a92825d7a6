//! JWT authentication, as Centrifugo does it: connection tokens (claims
//! `sub`, `exp`, `info`, `channels`, `subs`) and subscription tokens
//! (`sub`, `channel`, `exp`, `info`), signed with HS256, RS256 or ES256
//! (also HS384/HS512, RS384/RS512, ES384 with the same keys).
//!
//! [`JwtVerifier`] is the hub-core [`TokenVerifier`]: the
//! session calls it and applies the protocol's rules (109 "token expired",
//! 3500 "invalid token", 3005 / 3006 when a connection or subscription is
//! not refreshed in time). [`node_settings`] builds the node's settings
//! with a verifier whenever a key is configured. [`mint_hmac`] signs a
//! development token (`switchboard token`).

mod claims;
mod keys;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use switchboard_hub_core::config::ConfigError;
use switchboard_hub_core::session::{ConnectionToken, SubscriptionToken};
pub use switchboard_hub_core::session::{TokenError, TokenVerifier};
use switchboard_hub_core::{NodeConfig, Settings};

pub use claims::{ConnectionClaims, SubscriptionClaims};
pub use keys::KeyError;
pub use switchboard_hub_core::config::Secret;

/// Why the hub cannot verify tokens with its configuration, or could not
/// sign one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A configured key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The node configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Signing a token failed (e.g. an empty HMAC secret).
    #[error("could not sign the token: {0}; check the HMAC secret")]
    Sign(String),
}

/// Verifies JWTs with the keys of the configuration: the token header's
/// algorithm picks the key (HS* the HMAC secret, RS* the RSA key, ES* the
/// ECDSA key); an algorithm without a configured key is refused.
#[derive(Clone)]
pub struct JwtVerifier {
    hmac: Option<DecodingKey>,
    rsa: Option<DecodingKey>,
    ecdsa: Option<DecodingKey>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs; which ones are set is enough.
        f.debug_struct("JwtVerifier")
            .field("hmac", &self.hmac.is_some())
            .field("rsa", &self.rsa.is_some())
            .field("ecdsa", &self.ecdsa.is_some())
            .finish()
    }
}

impl JwtVerifier {
    /// A verifier with the keys of `config`; `None` when it has none.
    pub fn from_config(config: &NodeConfig) -> Result<Option<Self>, AuthError> {
        if !config.has_token_keys() {
            return Ok(None);
        }
        Ok(Some(Self {
            hmac: config
                .token_hmac_secret_key
                .as_ref()
                .map(|secret| keys::hmac(secret.expose()))
                .transpose()?,
            rsa: config
                .token_rsa_public_key
                .as_deref()
                .map(keys::rsa)
                .transpose()?,
            ecdsa: config
                .token_ecdsa_public_key
                .as_deref()
                .map(keys::ecdsa)
                .transpose()?,
        }))
    }

    /// A verifier of HS256 tokens signed with `secret`.
    pub fn hmac(secret: &str) -> Result<Self, AuthError> {
        Ok(Self {
            hmac: Some(keys::hmac(secret)?),
            rsa: None,
            ecdsa: None,
        })
    }

    /// Checks the signature and `exp` of `token` and decodes its claims.
    fn decode<C: DeserializeOwned>(&self, token: &str) -> Result<C, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| TokenError::Invalid(format!("malformed token: {error}")))?;
        let key = match header.alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => self.hmac.as_ref(),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => self.rsa.as_ref(),
            Algorithm::ES256 | Algorithm::ES384 => self.ecdsa.as_ref(),
            _ => None,
        }
        .ok_or_else(|| {
            TokenError::Invalid(format!("no key is configured for {:?} tokens", header.alg))
        })?;
        let mut validation = Validation::new(header.alg);
        // Centrifugo: `exp` is optional (no exp, no expiry) and checked
        // to the second, without leeway; `aud` and `iss` are not
        // configured here.
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        validation.validate_aud = false;
        match jsonwebtoken::decode::<C>(token, key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(error) if matches!(error.kind(), ErrorKind::ExpiredSignature) => {
                Err(TokenError::Expired)
            }
            Err(error) => Err(TokenError::Invalid(describe(error.kind()))),
        }
    }
}

/// Why a token failed, in words a developer can act on.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => {
            "the signature does not match the configured key (another secret or key pair?)".into()
        }
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not fit the key".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf is in the future)".into(),
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => format!("malformed token ({kind:?})"),
        other => format!("{other:?}"),
    }
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The time left until `exp` (seconds since the epoch); zero when it is
/// now (the verification already refused a past `exp`).
fn expires_in(exp: Option<u64>) -> Option<Duration> {
    exp.map(|exp| Duration::from_secs(exp.saturating_sub(unix_now())))
}

impl TokenVerifier for JwtVerifier {
    fn verify_connection(&self, token: &str) -> Result<ConnectionToken, TokenError> {
        let claims: ConnectionClaims = self.decode(token)?;
        let expires_in = expires_in(claims.exp);
        Ok(claims.into_token(expires_in))
    }

    fn verify_subscription(&self, token: &str) -> Result<SubscriptionToken, TokenError> {
        let claims: SubscriptionClaims = self.decode(token)?;
        if claims.channel.is_empty() {
            return Err(TokenError::Invalid(
                "a subscription token needs a channel claim".to_owned(),
            ));
        }
        let expires_in = expires_in(claims.exp);
        Ok(claims.into_token(expires_in))
    }
}

/// The node's settings: with a [`JwtVerifier`] when `config` has a token
/// key, else without token verification.
pub fn node_settings(config: &NodeConfig) -> Result<Arc<Settings>, AuthError> {
    Ok(match JwtVerifier::from_config(config)? {
        Some(verifier) => Settings::with_token_verifier(config.clone(), Arc::new(verifier))?,
        None => Settings::new(config.clone())?,
    })
}

/// Signs `claims` as an HS256 token with `secret` (a development token;
/// production tokens come from the application backend).
pub fn mint_hmac(secret: &str, claims: &impl serde::Serialize) -> Result<String, AuthError> {
    if secret.is_empty() {
        return Err(AuthError::Sign("the HMAC secret is empty".to_owned()));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|error| AuthError::Sign(error.to_string()))
}

/// `exp` for a token valid for `ttl` from now.
pub fn exp_in(ttl: Duration) -> u64 {
    unix_now().saturating_add(ttl.as_secs())
}

#[cfg(test)]
mod tests;
