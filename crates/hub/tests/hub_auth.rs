//! JWT authentication end to end over `/connection/websocket`: HS256,
//! RS256 and ES256 connection tokens, the documented error and
//! disconnect codes, expiry and refresh, and subscription tokens for a
//! private namespace.

mod common;

use std::time::Duration;

use common::{run, Hub, JsonClient};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard::{Message, WebSocket};
use switchboard_hub::auth::exp_in;
use switchboard_hub::HubConfig;
use switchboard_hub_core::config::{NamespaceConfig, Secret};
use switchboard_hub_core::{ChannelOptions, NodeConfig};
use tokio::net::TcpStream;

const SECRET: &str = "test-secret-not-for-production";
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hub_auth");

fn key_file(name: &str) -> String {
    format!("{KEYS}/{name}")
}

/// A hub verifying tokens (HMAC secret, RSA key by path, ECDSA key as PEM
/// text), anonymous connections off, a private namespace `private`, and
/// no grace after expiry.
fn config() -> HubConfig {
    let ecdsa_pem = std::fs::read_to_string(key_file("ec_public.pem")).unwrap();
    HubConfig {
        node: NodeConfig {
            allow_anonymous_connect: false,
            token_hmac_secret_key: Some(Secret::new(SECRET)),
            token_rsa_public_key: Some(key_file("rsa_public.pem")),
            token_ecdsa_public_key: Some(ecdsa_pem),
            expired_close_delay: Duration::ZERO,
            expired_sub_close_delay: Duration::ZERO,
            namespaces: vec![NamespaceConfig {
                name: "private".into(),
                options: ChannelOptions {
                    allow_subscribe_for_client: false,
                    ..ChannelOptions::default()
                },
            }],
            ..NodeConfig::default()
        },
        ..HubConfig::default()
    }
}

fn sign(algorithm: Algorithm, claims: &Value) -> String {
    let key = match algorithm {
        Algorithm::HS256 => EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(&std::fs::read(key_file("rsa_private.pem")).unwrap()).unwrap()
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(&std::fs::read(key_file("ec_private.pem")).unwrap()).unwrap()
        }
        other => panic!("no test key for {other:?}"),
    };
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).unwrap()
}

fn hs256(claims: Value) -> String {
    sign(Algorithm::HS256, &claims)
}

/// A raw JSON client: replies by id, pushes skipped, pings answered.
struct Client {
    ws: WebSocket<TcpStream>,
    next_id: u64,
}

impl Client {
    async fn open(hub: &Hub) -> Client {
        let (ws, _) = JsonClient::open(&hub.url(), &[]).await;
        Client { ws, next_id: 1 }
    }

    /// Sends `command` and returns its reply, or the close frame's code
    /// when the server closes first.
    async fn request(&mut self, mut command: Value) -> Result<Value, u16> {
        let id = self.next_id;
        self.next_id += 1;
        command["id"] = json!(id);
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        loop {
            for reply in self.read().await? {
                if reply["id"] == json!(id) {
                    return Ok(reply);
                }
            }
        }
    }

    /// One message's replies (pings answered), or the close code.
    async fn read(&mut self) -> Result<Vec<Value>, u16> {
        loop {
            match self.ws.recv().await {
                Some(Ok(Message::Text(text))) => {
                    let mut replies = Vec::new();
                    for line in text.as_str().split('\n') {
                        let reply: Value = serde_json::from_str(line).unwrap();
                        if reply == json!({}) {
                            self.ws.send(Message::text("{}")).await.unwrap();
                        } else {
                            replies.push(reply);
                        }
                    }
                    return Ok(replies);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(1005, |frame| frame.code.0));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("connection failed: {error}"),
                None => return Err(1006),
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    async fn closed(&mut self) -> u16 {
        loop {
            if let Err(code) = self.read().await {
                return code;
            }
        }
    }

    async fn connect(&mut self, token: &str) -> Result<Value, u16> {
        self.request(json!({"connect": {"token": token}})).await
    }
}

async fn connected(hub: &Hub, token: &str) -> (Client, Value) {
    let mut client = Client::open(hub).await;
    let reply = client.connect(token).await.expect("connect reply");
    assert!(reply.get("error").is_none(), "{reply}");
    (client, reply["connect"].clone())
}

#[test]
fn hs256_rs256_and_es256_connection_tokens_are_accepted() {
    run(async {
        let hub = Hub::start(config()).await;
        for algorithm in [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256] {
            let claims = json!({"sub": "alice", "info": {"name": "Alice"}});
            let (mut client, connect) = connected(&hub, &sign(algorithm, &claims)).await;
            assert!(connect.get("expires").is_none(), "{connect}");
            client
                .request(json!({"subscribe": {"channel": "room"}}))
                .await
                .unwrap();
            let reply = client
                .request(json!({"presence": {"channel": "room"}}))
                .await
                .unwrap();
            let me = &reply["presence"]["presence"][connect["client"].as_str().unwrap()];
            assert_eq!(me["user"], "alice", "{reply}");
            assert_eq!(me["conn_info"], json!({"name": "Alice"}), "{reply}");
        }
    });
}

#[test]
fn token_errors_use_the_documented_codes() {
    run(async {
        let hub = Hub::start(config()).await;
        // Expired: error 109 in the connect reply; the SDK refreshes.
        let mut client = Client::open(&hub).await;
        let expired = hs256(json!({"sub": "alice", "exp": exp_in(Duration::ZERO) - 10}));
        let reply = client.connect(&expired).await.unwrap();
        assert_eq!(reply["error"]["code"], 109, "{reply}");
        // The same connection may connect again with a fresh token.
        let fresh = hs256(json!({"sub": "alice", "exp": exp_in(Duration::from_secs(60))}));
        let reply = client.connect(&fresh).await.unwrap();
        assert_eq!(reply["connect"]["expires"], true, "{reply}");
        assert!(reply["connect"]["ttl"].as_u64().unwrap() > 50, "{reply}");

        // Another key, or garbage: disconnect 3500 "invalid token".
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "alice"}),
            &EncodingKey::from_secret(b"another secret"),
        )
        .unwrap();
        for token in [forged.as_str(), "not.a.jwt"] {
            let mut client = Client::open(&hub).await;
            assert_eq!(client.connect(token).await, Err(3500), "{token}");
        }

        // No token while anonymous connections are off: error 101.
        let mut client = Client::open(&hub).await;
        let reply = client.request(json!({"connect": {}})).await.unwrap();
        assert_eq!(reply["error"]["code"], 101, "{reply}");
    });
}

#[test]
fn a_connection_that_does_not_refresh_is_closed_with_3005() {
    run(async {
        let hub = Hub::start(config()).await;
        let token = hs256(json!({"sub": "alice", "exp": exp_in(Duration::from_secs(2))}));
        let (mut lazy, connect) = connected(&hub, &token).await;
        assert_eq!(connect["expires"], true);

        let (mut diligent, _) = connected(&hub, &token).await;
        let fresh = hs256(json!({"sub": "alice", "exp": exp_in(Duration::from_secs(60))}));
        let reply = diligent
            .request(json!({"refresh": {"token": fresh}}))
            .await
            .unwrap();
        assert_eq!(reply["refresh"]["expires"], true, "{reply}");

        assert_eq!(lazy.closed().await, 3005);
        // The refreshed connection still answers after the old expiry.
        let reply = diligent
            .request(json!({"subscribe": {"channel": "after"}}))
            .await
            .unwrap();
        assert!(reply.get("error").is_none(), "{reply}");

        // A refresh token of another user is invalid.
        let other = hs256(json!({"sub": "mallory"}));
        assert_eq!(
            diligent.request(json!({"refresh": {"token": other}})).await,
            Err(3500)
        );
    });
}

#[test]
fn private_channels_take_subscription_tokens() {
    run(async {
        let hub = Hub::start(config()).await;
        let (mut client, connect) = connected(&hub, &hs256(json!({"sub": "alice"}))).await;
        let reply = client
            .request(json!({"subscribe": {"channel": "private:room"}}))
            .await
            .unwrap();
        assert_eq!(reply["error"]["code"], 103, "{reply}");

        let token = hs256(json!({
            "sub": "alice",
            "channel": "private:room",
            "exp": exp_in(Duration::from_secs(60)),
            "info": {"role": "moderator"},
        }));
        let reply = client
            .request(json!({"subscribe": {"channel": "private:room", "token": token}}))
            .await
            .unwrap();
        assert_eq!(reply["subscribe"]["expires"], true, "{reply}");
        let reply = client
            .request(json!({"presence": {"channel": "private:room"}}))
            .await
            .unwrap();
        let me = &reply["presence"]["presence"][connect["client"].as_str().unwrap()];
        assert_eq!(me["chan_info"], json!({"role": "moderator"}), "{reply}");

        let refreshed = hs256(json!({"sub": "alice", "channel": "private:room"}));
        let reply = client
            .request(json!({"sub_refresh": {"channel": "private:room", "token": refreshed}}))
            .await
            .unwrap();
        assert!(reply["sub_refresh"].get("expires").is_none(), "{reply}");

        // A token for another channel: 3500.
        let wrong = hs256(json!({"sub": "alice", "channel": "private:other"}));
        assert_eq!(
            client
                .request(json!({"subscribe": {"channel": "private:x", "token": wrong}}))
                .await,
            Err(3500)
        );
    });
}

#[test]
fn the_channels_claim_subscribes_on_the_server_side() {
    run(async {
        let hub = Hub::start(config()).await;
        let token = hs256(json!({"sub": "alice", "channels": ["news"]}));
        let (mut client, connect) = connected(&hub, &token).await;
        assert_eq!(connect["subs"]["news"]["positioned"], true, "{connect}");
        let (mut publisher, _) = connected(&hub, &hs256(json!({"sub": "bob"}))).await;
        publisher
            .request(json!({"publish": {"channel": "news", "data": {"n": 1}}}))
            .await
            .unwrap();
        let publication = loop {
            let replies = client.read().await.unwrap();
            if let Some(push) = replies
                .iter()
                .find(|reply| reply["push"]["pub"].is_object())
            {
                break push["push"].clone();
            }
        };
        assert_eq!(publication["channel"], "news");
        assert_eq!(publication["pub"]["data"], json!({"n": 1}));
        assert_eq!(publication["pub"]["info"]["user"], "bob");
    });
}
