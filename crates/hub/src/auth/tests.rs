//! Verification rules that the end-to-end tests do not reach.

use serde_json::json;

use super::*;

const SECRET: &str = "unit-test-secret";

fn verifier() -> JwtVerifier {
    JwtVerifier::hmac(SECRET).unwrap()
}

fn hs256(claims: serde_json::Value) -> String {
    mint_hmac(SECRET, &claims).unwrap()
}

#[test]
fn connection_claims_map_onto_the_token() {
    let token = hs256(json!({
        "sub": "42",
        "exp": exp_in(Duration::from_secs(120)),
        "info": {"name": "Alice"},
        "channels": ["news"],
        "subs": {"alerts": {}, "news": {}},
    }));
    let verified = verifier().verify_connection(&token).unwrap();
    assert_eq!(verified.user, "42");
    assert_eq!(verified.info.as_deref(), Some(&br#"{"name":"Alice"}"#[..]));
    assert_eq!(verified.channels, ["news", "alerts"]);
    let left = verified.expires_in.unwrap();
    assert!(left <= Duration::from_secs(120) && left >= Duration::from_secs(110));
    // No exp: never expires; a null info is no info.
    let verified = verifier()
        .verify_connection(&hs256(json!({"sub": "42", "info": null})))
        .unwrap();
    assert_eq!(verified.expires_in, None);
    assert_eq!(verified.info, None);
}

#[test]
fn expiry_is_checked_without_leeway() {
    let token = hs256(json!({"sub": "42", "exp": exp_in(Duration::ZERO) - 1}));
    assert_eq!(
        verifier().verify_connection(&token),
        Err(TokenError::Expired)
    );
}

#[test]
fn a_subscription_token_needs_a_channel() {
    let error = verifier()
        .verify_subscription(&hs256(json!({"sub": "42"})))
        .unwrap_err();
    assert!(matches!(error, TokenError::Invalid(ref why) if why.contains("channel")));
    let verified = verifier()
        .verify_subscription(&hs256(json!({"sub": "42", "channel": "x", "info": [1]})))
        .unwrap();
    assert_eq!(verified.channel, "x");
    assert_eq!(verified.info.as_deref(), Some(&b"[1]"[..]));
}

#[test]
fn an_algorithm_without_its_key_is_refused() {
    // An HS256-only verifier and a token claiming RS256.
    let header = base64_url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = base64_url(br#"{"sub":"42"}"#);
    let token = format!("{header}.{payload}.c2ln");
    let error = verifier().verify_connection(&token).unwrap_err();
    assert!(matches!(error, TokenError::Invalid(ref why) if why.contains("RS256")));
    assert!(matches!(
        verifier().verify_connection("garbage"),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn unusable_keys_say_what_to_fix() {
    let config = NodeConfig {
        token_rsa_public_key: Some("/nonexistent/rsa.pem".into()),
        ..NodeConfig::default()
    };
    let error = JwtVerifier::from_config(&config).unwrap_err().to_string();
    assert!(
        error.contains("cannot read the RSA public key file"),
        "{error}"
    );
    let config = NodeConfig {
        token_ecdsa_public_key: Some(
            "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n".into(),
        ),
        ..NodeConfig::default()
    };
    let error = JwtVerifier::from_config(&config).unwrap_err().to_string();
    assert!(
        error.contains("not a PEM-encoded ECDSA public key"),
        "{error}"
    );
    let config = NodeConfig {
        token_hmac_secret_key: Some(Secret::new("")),
        ..NodeConfig::default()
    };
    assert!(matches!(
        JwtVerifier::from_config(&config),
        Err(AuthError::Key(KeyError::EmptySecret))
    ));
    assert!(JwtVerifier::from_config(&NodeConfig::default())
        .unwrap()
        .is_none());
    assert!(mint_hmac("", &json!({})).is_err());
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = NodeConfig {
        token_hmac_secret_key: Some(Secret::new("hunter2")),
        ..NodeConfig::default()
    };
    assert!(!format!("{config:?}").contains("hunter2"));
    let verifier = JwtVerifier::from_config(&config).unwrap().unwrap();
    assert!(!format!("{verifier:?}").contains("hunter2"));
}

/// Base64url without padding (the JWT alphabet).
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, byte)| n | (u32::from(*byte) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}
