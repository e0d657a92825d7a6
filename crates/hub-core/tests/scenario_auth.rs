//! Tokens on virtual time: connect, refresh and expiry of connections;
//! private namespaces, subscription tokens, `sub_refresh` and expiry of
//! subscriptions; server-side subscriptions. A fake verifier reads claims
//! from plain-text tokens, so the session's rules are tested without
//! cryptography (the hub crate tests real JWTs).

mod harness;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::Sim;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::config::NamespaceConfig;
use switchboard_hub_core::session::{
    ConnectionToken, SubscriptionToken, TokenError, TokenVerifier,
};
use switchboard_hub_core::wire::{self, Command, Format, Reply};
use switchboard_hub_core::{ChannelOptions, Node, NodeConfig, Settings};

/// Tokens are `key=value` pairs joined by `;`: `user`, `channel`, `ttl`
/// (seconds), `info` (JSON), `channels` (comma-separated). `expired` and
/// `bad` are refused as such.
#[derive(Debug)]
struct PlainVerifier;

fn claims(token: &str) -> Result<Vec<(&str, &str)>, TokenError> {
    match token {
        "expired" => Err(TokenError::Expired),
        "bad" => Err(TokenError::Invalid("bad signature".into())),
        _ => Ok(token
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .collect()),
    }
}

fn claim<'a>(claims: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    claims.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

impl TokenVerifier for PlainVerifier {
    fn verify_connection(&self, token: &str) -> Result<ConnectionToken, TokenError> {
        let claims = claims(token)?;
        Ok(ConnectionToken {
            user: claim(&claims, "user").unwrap_or_default().to_owned(),
            expires_in: claim(&claims, "ttl").map(|s| Duration::from_secs(s.parse().unwrap())),
            info: claim(&claims, "info").map(|s| Bytes::copy_from_slice(s.as_bytes())),
            channels: claim(&claims, "channels")
                .map(|s| s.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }

    fn verify_subscription(&self, token: &str) -> Result<SubscriptionToken, TokenError> {
        let claims = claims(token)?;
        Ok(SubscriptionToken {
            user: claim(&claims, "user").unwrap_or_default().to_owned(),
            channel: claim(&claims, "channel").unwrap_or_default().to_owned(),
            expires_in: claim(&claims, "ttl").map(|s| Duration::from_secs(s.parse().unwrap())),
            info: claim(&claims, "info").map(|s| Bytes::copy_from_slice(s.as_bytes())),
        })
    }
}

/// A node verifying tokens, with anonymous connections off, a private
/// namespace `private`, and 10 s expiry delays.
fn sim() -> Sim {
    let config = NodeConfig {
        allow_anonymous_connect: false,
        expired_close_delay: Duration::from_secs(10),
        expired_sub_close_delay: Duration::from_secs(10),
        namespaces: vec![NamespaceConfig {
            name: "private".into(),
            options: ChannelOptions {
                allow_subscribe_for_client: false,
                ..ChannelOptions::default()
            },
        }],
        ..NodeConfig::default()
    };
    let mut sim = Sim::new(config.clone());
    let settings = Settings::with_token_verifier(config, Arc::new(PlainVerifier)).unwrap();
    sim.node = Node::new(settings.clone(), 1);
    sim.settings = settings;
    sim
}

fn connect_command(token: &str) -> Command {
    Command {
        connect: Some(wire::ConnectRequest {
            token: token.into(),
            ..wire::ConnectRequest::default()
        }),
        ..Command::default()
    }
}

/// Opens a connection and sends `connect` with `token`; returns the
/// client and the reply (if the connection still answers).
fn connect(sim: &mut Sim, format: Format, token: &str) -> (usize, Option<Reply>) {
    let client = sim.open(format);
    let mut command = connect_command(token);
    command.id = sim.next_id(client);
    sim.send(client, vec![command]);
    let reply = sim.clients[client].replies.first().cloned();
    (client, reply)
}

fn error_code(reply: &Reply) -> u32 {
    reply.error.as_ref().map_or(0, |error| error.code)
}

fn refresh(sim: &mut Sim, client: usize, token: &str) {
    let id = sim.next_id(client);
    sim.send(
        client,
        vec![Command {
            id,
            refresh: Some(wire::RefreshRequest {
                token: token.into(),
            }),
            ..Command::default()
        }],
    );
}

fn subscribe_with(sim: &mut Sim, client: usize, channel: &str, token: &str) -> Option<Reply> {
    let mut command = Sim::subscribe_command(channel);
    command.subscribe.as_mut().unwrap().token = token.into();
    command.id = sim.next_id(client);
    let id = command.id;
    sim.send(client, vec![command]);
    sim.clients[client]
        .replies
        .iter()
        .find(|reply| reply.id == id)
        .cloned()
}

fn sub_refresh(sim: &mut Sim, client: usize, channel: &str, token: &str) -> Option<Reply> {
    let id = sim.next_id(client);
    sim.send(
        client,
        vec![Command {
            id,
            sub_refresh: Some(wire::SubRefreshRequest {
                channel: channel.into(),
                token: token.into(),
            }),
            ..Command::default()
        }],
    );
    sim.clients[client]
        .replies
        .iter()
        .find(|reply| reply.id == id)
        .cloned()
}

#[test]
fn a_valid_connection_token_sets_user_info_and_expiry() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = sim();
        let (client, reply) = connect(&mut sim, format, r#"user=alice;ttl=60;info={"n":1}"#);
        let result = reply.unwrap().connect.unwrap();
        assert!(result.expires);
        assert_eq!(result.ttl, 60);
        let info = sim.clients[client].session.client_info();
        assert_eq!(info.user, "alice");
        assert_eq!(info.conn_info.as_deref(), Some(&br#"{"n":1}"#[..]));
        let (_, reply) = connect(&mut sim, format, "user=bob");
        let result = reply.unwrap().connect.unwrap();
        assert!(!result.expires);
        assert_eq!(result.ttl, 0);
    }
}

#[test]
fn token_errors_at_connect_use_the_documented_codes() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = sim();
        let (expired, reply) = connect(&mut sim, format, "expired");
        assert_eq!(error_code(&reply.unwrap()), 109);
        assert!(!sim.clients[expired].session.is_connected());
        assert!(sim.clients[expired].open, "109 lets the SDK retry");

        let (invalid, reply) = connect(&mut sim, format, "bad");
        assert!(reply.is_none());
        assert_eq!(
            sim.clients[invalid].closed_with,
            Some(DisconnectCode::INVALID_TOKEN)
        );

        let (anonymous, reply) = connect(&mut sim, format, "");
        assert_eq!(error_code(&reply.unwrap()), 101);
        assert!(!sim.clients[anonymous].session.is_connected());
    }
}

#[test]
fn a_connection_not_refreshed_is_disconnected_after_the_delay() {
    let mut sim = sim();
    let (client, _) = connect(&mut sim, Format::Json, "user=alice;ttl=30");
    // Expiry at 30 s, plus the 10 s delay: still open at 39 s.
    sim.advance(Duration::from_secs(39));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.clients[client].closed_with,
        Some(DisconnectCode::EXPIRED)
    );
}

#[test]
fn refresh_extends_the_connection() {
    let mut sim = sim();
    let (client, _) = connect(&mut sim, Format::Json, "user=alice;ttl=30");
    sim.advance(Duration::from_secs(25));
    refresh(&mut sim, client, "user=alice;ttl=30");
    let reply = sim.clients[client].replies.last().unwrap().clone();
    let result = reply.refresh.unwrap();
    assert!(result.expires);
    assert_eq!(result.ttl, 30);
    // The old deadline (40 s) passes; the new one is 25 + 30 + 10 = 65 s.
    sim.advance(Duration::from_secs(39));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.clients[client].closed_with,
        Some(DisconnectCode::EXPIRED)
    );

    // A token without exp makes the connection permanent.
    let (client, _) = connect(&mut sim, Format::Json, "user=alice;ttl=30");
    refresh(&mut sim, client, "user=alice");
    let result = sim.clients[client].replies.last().unwrap().refresh.clone();
    assert!(!result.unwrap().expires);
    sim.advance(Duration::from_secs(3600));
    assert!(sim.clients[client].open);
}

#[test]
fn refresh_errors_disconnect() {
    let mut sim = sim();
    for (token, code) in [
        ("expired", DisconnectCode::EXPIRED),
        ("bad", DisconnectCode::INVALID_TOKEN),
        ("user=mallory;ttl=30", DisconnectCode::INVALID_TOKEN),
    ] {
        let (client, _) = connect(&mut sim, Format::Json, "user=alice;ttl=30");
        refresh(&mut sim, client, token);
        assert_eq!(sim.clients[client].closed_with, Some(code), "{token}");
    }
}

#[test]
fn private_channels_need_a_subscription_token() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = sim();
        let (client, _) = connect(&mut sim, format, "user=alice");
        let reply = subscribe_with(&mut sim, client, "private:room", "").unwrap();
        assert_eq!(error_code(&reply), 103);
        // Public channels need none.
        let reply = subscribe_with(&mut sim, client, "open", "").unwrap();
        assert!(reply.subscribe.is_some());

        let token = r#"user=alice;channel=private:room;ttl=20;info={"role":"mod"}"#;
        let reply = subscribe_with(&mut sim, client, "private:room", token).unwrap();
        let result = reply.subscribe.unwrap();
        assert!(result.expires);
        assert_eq!(result.ttl, 20);
        assert!(sim.clients[client].session.is_subscribed("private:room"));
        let presence = sim.node.presence("private:room").unwrap();
        assert_eq!(
            presence[0].chan_info.as_deref(),
            Some(&br#"{"role":"mod"}"#[..])
        );

        let reply = subscribe_with(&mut sim, client, "private:other", "expired").unwrap();
        assert_eq!(error_code(&reply), 109);
        assert!(sim.clients[client].open);
    }
}

#[test]
fn a_subscription_token_for_another_user_or_channel_is_invalid() {
    let mut sim = sim();
    for token in [
        "user=mallory;channel=private:room",
        "user=alice;channel=private:elsewhere",
        "bad",
    ] {
        let (client, _) = connect(&mut sim, Format::Json, "user=alice");
        assert!(subscribe_with(&mut sim, client, "private:room", token).is_none());
        assert_eq!(
            sim.clients[client].closed_with,
            Some(DisconnectCode::INVALID_TOKEN),
            "{token}"
        );
    }
}

#[test]
fn subscriptions_expire_unless_refreshed() {
    let mut sim = sim();
    let (client, _) = connect(&mut sim, Format::Json, "user=alice");
    let token = "user=alice;channel=private:room;ttl=20";
    subscribe_with(&mut sim, client, "private:room", token).unwrap();
    sim.advance(Duration::from_secs(15));
    let reply = sub_refresh(&mut sim, client, "private:room", token).unwrap();
    let result = reply.sub_refresh.unwrap();
    assert!(result.expires);
    assert_eq!(result.ttl, 20);
    // First deadline 30 s passes; the refreshed one is 15 + 20 + 10 = 45 s.
    sim.advance(Duration::from_secs(29));
    assert!(sim.clients[client].open);
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.clients[client].closed_with,
        Some(DisconnectCode::SUBSCRIPTION_EXPIRED)
    );

    // Unsubscribing drops the deadline.
    let (client, _) = connect(&mut sim, Format::Json, "user=alice");
    subscribe_with(&mut sim, client, "private:room", token).unwrap();
    sim.unsubscribe(client, "private:room");
    sim.advance(Duration::from_secs(120));
    assert!(sim.clients[client].open);

    // An expired token at sub_refresh ends the connection.
    let (client, _) = connect(&mut sim, Format::Json, "user=alice");
    subscribe_with(&mut sim, client, "private:room", token).unwrap();
    assert!(sub_refresh(&mut sim, client, "private:room", "expired").is_none());
    assert_eq!(
        sim.clients[client].closed_with,
        Some(DisconnectCode::SUBSCRIPTION_EXPIRED)
    );
}

#[test]
fn channels_claim_subscribes_server_side_in_the_connect_reply() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = sim();
        let (client, reply) = connect(
            &mut sim,
            format,
            "user=alice;channels=news,private:alerts,unknown:x",
        );
        let result = reply.unwrap().connect.unwrap();
        let channels: Vec<&String> = result.subs.keys().collect();
        // Server-side subscriptions skip the namespace's client rule;
        // channels of unknown namespaces are left out.
        assert_eq!(channels, ["news", "private:alerts"]);
        assert!(result.subs["news"].positioned);
        assert!(sim.clients[client].session.is_subscribed("news"));
        sim.server_publish("news", r#"{"n":1}"#);
        sim.pump();
        let pushes = sim.clients[client]
            .replies
            .iter()
            .filter_map(|reply| reply.push.as_ref())
            .filter(|push| push.channel == "news" && push.publication.is_some())
            .count();
        assert_eq!(pushes, 1);
    }
}

#[test]
fn server_side_subscriptions_recover_from_the_positions_in_connect_subs() {
    for format in [Format::Json, Format::Protobuf] {
        let mut sim = sim();
        let token = "user=alice;channels=news";
        let (client, reply) = connect(&mut sim, format, token);
        let first = reply.unwrap().connect.unwrap().subs["news"].clone();
        sim.drop_connection(client);
        for n in 1..=3 {
            sim.server_publish("news", &format!(r#"{{"n":{n}}}"#));
        }
        // The SDK reconnects with the position it had.
        let again = sim.open(format);
        let mut command = connect_command(token);
        command.id = sim.next_id(again);
        command.connect.as_mut().unwrap().subs.insert(
            "news".into(),
            wire::SubscribeRequest {
                recover: true,
                epoch: first.epoch.clone(),
                offset: first.offset,
                ..wire::SubscribeRequest::default()
            },
        );
        sim.send(again, vec![command]);
        let result = sim.clients[again].replies[0].connect.clone().unwrap();
        let news = &result.subs["news"];
        assert!(news.recovered && news.was_recovering, "{news:?}");
        let offsets: Vec<u64> = news.publications.iter().map(|p| p.offset).collect();
        assert_eq!(
            offsets,
            [first.offset + 1, first.offset + 2, first.offset + 3]
        );
    }
}
