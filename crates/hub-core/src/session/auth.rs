//! Serving `connect`, `refresh` and `sub_refresh`, and checking the token
//! of a `subscribe`: the token rules of the [`token`](super::token) module.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::action::{Action, LiveDelivery};
use super::commands::position_from_wire;
use super::subscriptions::Pending;
use super::token::{ttl_seconds, ConnectionToken, SubscriptionToken, TokenError};
use super::{Phase, Session, SERVER_VERSION};
use crate::codes::DisconnectCode;
use crate::counters::Method;
use crate::error::HubError;
use crate::presence::ClientInfo;
use crate::wire::{
    ConnectRequest, ConnectResult, RefreshResult, Reply, SubRefreshResult, SubscribeRequest,
    SubscribeResult,
};

/// A connect reply held until the server-side subscriptions of the
/// connection token are answered.
#[derive(Debug)]
pub(super) struct PendingConnect {
    id: u32,
    result: ConnectResult,
    /// Server-side subscriptions still running.
    waiting: usize,
    /// Live pushes of server-side subscriptions that arrived before the
    /// connect reply, released after it.
    buffers: Vec<Vec<LiveDelivery>>,
}

/// What a subscription token allowed, for the subscribe action and reply.
#[derive(Debug)]
pub(super) struct SubscriptionGrant {
    /// The subscriber's info, with the token's `chan_info`.
    pub(super) info: Arc<ClientInfo>,
    /// `ttl` for the reply and the deadline of the subscription, when the
    /// token expires.
    pub(super) expiry: Option<(u32, Instant)>,
}

impl Session {
    pub(super) fn handle_connect(&mut self, now: Instant, id: u32, request: ConnectRequest) {
        if self.phase == Phase::Connected {
            // A second connect on one connection is a client bug.
            self.counters.command(Method::Connect, false);
            return self.close(DisconnectCode::BAD_REQUEST);
        }
        let verified = match self.settings.token_verifier() {
            Some(verifier) if !request.token.is_empty() => {
                match verifier.verify_connection(&request.token) {
                    Ok(token) => Some(token),
                    Err(error) => return self.refuse_connect(id, &error),
                }
            }
            // Without a verifier a token is ignored; without a token the
            // connection is anonymous.
            _ => None,
        };
        if verified.is_none() && !self.settings.config().allow_anonymous_connect {
            return self.reply_error(id, Method::Connect, HubError::Unauthorized);
        }
        self.phase = Phase::Connected;
        self.start_pings(now);
        self.counters.connected();
        self.counters.command(Method::Connect, true);
        let ping =
            u32::try_from(self.settings.config().ping_interval.as_secs()).unwrap_or(u32::MAX);
        let mut result = ConnectResult {
            client: self.info.client.clone(),
            version: SERVER_VERSION.to_owned(),
            ping,
            pong: true,
            ..ConnectResult::default()
        };
        let channels = match verified {
            Some(token) => self.apply_connection_token(now, token, &mut result),
            None => Vec::new(),
        };
        let waiting = self.subscribe_server_side(channels, &request.subs);
        if waiting == 0 {
            self.send_reply(&Reply {
                id,
                connect: Some(result),
                ..Reply::default()
            });
        } else {
            self.pending_connect = Some(Box::new(PendingConnect {
                id,
                result,
                waiting,
                buffers: Vec::new(),
            }));
        }
    }

    /// A connect token that failed: 109 lets the SDK fetch a new token and
    /// reconnect; anything else is 3500 "invalid token".
    fn refuse_connect(&mut self, id: u32, error: &TokenError) {
        match error {
            TokenError::Expired => self.reply_error(id, Method::Connect, HubError::TokenExpired),
            TokenError::Invalid(_) => {
                self.counters.command(Method::Connect, false);
                self.close(DisconnectCode::INVALID_TOKEN);
            }
        }
    }

    /// Takes the user, info and expiry of a verified connection token;
    /// returns its server-side channels.
    fn apply_connection_token(
        &mut self,
        now: Instant,
        token: ConnectionToken,
        result: &mut ConnectResult,
    ) -> Vec<String> {
        self.info = Arc::new(ClientInfo {
            user: token.user,
            client: self.info.client.clone(),
            conn_info: token.info,
            chan_info: None,
        });
        if let Some(expires_in) = token.expires_in {
            result.expires = true;
            result.ttl = ttl_seconds(expires_in);
            self.keepalive.set_expire_deadline(Some(
                now + expires_in + self.settings.config().expired_close_delay,
            ));
        }
        token.channels
    }

    /// Starts the server-side subscriptions (id 0); returns how many run.
    /// A reconnecting SDK sends its positions in `connect.subs` (`requested`)
    /// and those channels recover like a client `subscribe` would.
    /// Channels that fail the name and namespace checks are skipped, as
    /// the client did not ask for them and cannot be answered.
    fn subscribe_server_side(
        &mut self,
        channels: Vec<String>,
        requested: &BTreeMap<String, SubscribeRequest>,
    ) -> usize {
        let mut waiting = 0;
        for channel in channels {
            let Ok(options) = self.channel_options(&channel) else {
                continue;
            };
            let asked = requested.get(&channel);
            let recovering = asked.is_some_and(|asked| asked.recover);
            let recover = asked
                .filter(|_| recovering && options.has_history())
                .map(|asked| position_from_wire(asked.offset, &asked.epoch));
            if self.subscriptions.contains(&channel)
                || self.subscriptions.len() >= self.settings.config().max_channels_per_connection
            {
                continue;
            }
            let channel: Arc<str> = channel.into();
            self.subscriptions.insert(
                channel.clone(),
                Pending {
                    id: 0,
                    recoverable: asked.is_some_and(|asked| asked.recoverable),
                    recovering,
                    expiry: None,
                    buffer: Vec::new(),
                },
            );
            self.actions.push_back(Action::Subscribe {
                id: 0,
                channel,
                recover,
                info: self.info.clone(),
                join_leave: false,
            });
            waiting += 1;
        }
        waiting
    }

    /// Whether the connect reply still waits for server-side
    /// subscriptions.
    pub(super) fn connect_pending(&self) -> bool {
        self.pending_connect.is_some()
    }

    /// One server-side subscription was answered (`result` is `None` when
    /// it failed); the connect reply goes out after the last one, then
    /// the live pushes that arrived meanwhile.
    pub(super) fn server_side_subscribed(
        &mut self,
        channel: &str,
        result: Option<SubscribeResult>,
        buffer: Vec<LiveDelivery>,
    ) {
        let Some(pending) = self.pending_connect.as_mut() else {
            return;
        };
        if let Some(result) = result {
            pending.result.subs.insert(channel.to_owned(), result);
            pending.buffers.push(buffer);
        }
        pending.waiting = pending.waiting.saturating_sub(1);
        if pending.waiting > 0 {
            return;
        }
        let Some(pending) = self.pending_connect.take() else {
            return;
        };
        let PendingConnect {
            id,
            result,
            buffers,
            ..
        } = *pending;
        self.send_reply(&Reply {
            id,
            connect: Some(result),
            ..Reply::default()
        });
        for buffer in buffers {
            self.release_buffer(buffer);
        }
    }

    pub(super) fn handle_refresh(&mut self, now: Instant, id: u32, token: &str) {
        let method = Method::Refresh;
        let Some(verifier) = self.settings.token_verifier() else {
            // Without tokens connections never expire: a refresh only
            // confirms it.
            self.counters.command(method, true);
            return self.send_refresh_reply(id, None);
        };
        if token.is_empty() {
            self.counters.command(method, false);
            return self.close(DisconnectCode::BAD_REQUEST);
        }
        match verifier.verify_connection(token) {
            Ok(verified) if verified.user == self.info.user => {
                self.counters.command(method, true);
                self.keepalive
                    .set_expire_deadline(verified.expires_in.map(|expires_in| {
                        now + expires_in + self.settings.config().expired_close_delay
                    }));
                self.send_refresh_reply(id, verified.expires_in.map(ttl_seconds));
            }
            // A token of another user cannot take over this connection.
            Ok(_) | Err(TokenError::Invalid(_)) => {
                self.counters.command(method, false);
                self.close(DisconnectCode::INVALID_TOKEN);
            }
            Err(TokenError::Expired) => {
                self.counters.command(method, false);
                self.close(DisconnectCode::EXPIRED);
            }
        }
    }

    fn send_refresh_reply(&mut self, id: u32, ttl: Option<u32>) {
        self.send_reply(&Reply {
            id,
            refresh: Some(RefreshResult {
                client: self.info.client.clone(),
                version: SERVER_VERSION.to_owned(),
                expires: ttl.is_some(),
                ttl: ttl.unwrap_or(0),
            }),
            ..Reply::default()
        });
    }

    /// Checks the subscription token of a `subscribe` to `channel`.
    /// `Ok(None)`: no token to check (the namespace's
    /// `allow_subscribe_for_client` decides). `Err(())`: the session
    /// already answered (109) or closed (3500).
    pub(super) fn check_subscribe_token(
        &mut self,
        now: Instant,
        id: u32,
        channel: &str,
        token: &str,
    ) -> Result<Option<SubscriptionGrant>, ()> {
        let Some(verifier) = self.settings.token_verifier() else {
            return Ok(None);
        };
        if token.is_empty() {
            return Ok(None);
        }
        match self.verify_subscription_token(verifier.verify_subscription(token), channel) {
            Ok(verified) => {
                let delay = self.settings.config().expired_sub_close_delay;
                let expiry = verified
                    .expires_in
                    .map(|expires_in| (ttl_seconds(expires_in), now + expires_in + delay));
                let info = Arc::new(ClientInfo {
                    chan_info: verified.info,
                    ..ClientInfo::clone(&self.info)
                });
                Ok(Some(SubscriptionGrant { info, expiry }))
            }
            Err(TokenError::Expired) => {
                self.reply_error(id, Method::Subscribe, HubError::TokenExpired);
                Err(())
            }
            Err(TokenError::Invalid(_)) => {
                self.counters.command(Method::Subscribe, false);
                self.close(DisconnectCode::INVALID_TOKEN);
                Err(())
            }
        }
    }

    /// A verified subscription token must name this user and `channel`.
    fn verify_subscription_token(
        &self,
        verified: Result<SubscriptionToken, TokenError>,
        channel: &str,
    ) -> Result<SubscriptionToken, TokenError> {
        let verified = verified?;
        if verified.user != self.info.user {
            return Err(TokenError::Invalid(
                "the token's sub is not the connection's user".to_owned(),
            ));
        }
        if verified.channel != channel {
            return Err(TokenError::Invalid(
                "the token's channel is not the channel subscribed".to_owned(),
            ));
        }
        Ok(verified)
    }

    pub(super) fn handle_sub_refresh(&mut self, now: Instant, id: u32, channel: &str, token: &str) {
        let method = Method::SubRefresh;
        if !self.subscriptions.is_established(channel) {
            return self.reply_error(id, method, HubError::PermissionDenied);
        }
        let Some(verifier) = self.settings.token_verifier() else {
            // Without tokens subscriptions never expire.
            self.counters.command(method, true);
            return self.send_sub_refresh_reply(id, None);
        };
        if token.is_empty() {
            self.counters.command(method, false);
            return self.close(DisconnectCode::BAD_REQUEST);
        }
        match self.verify_subscription_token(verifier.verify_subscription(token), channel) {
            Ok(verified) => {
                self.counters.command(method, true);
                self.set_sub_deadline(
                    channel,
                    verified.expires_in.map(|expires_in| {
                        now + expires_in + self.settings.config().expired_sub_close_delay
                    }),
                );
                self.send_sub_refresh_reply(id, verified.expires_in.map(ttl_seconds));
            }
            Err(TokenError::Expired) => {
                self.counters.command(method, false);
                self.close(DisconnectCode::SUBSCRIPTION_EXPIRED);
            }
            Err(TokenError::Invalid(_)) => {
                self.counters.command(method, false);
                self.close(DisconnectCode::INVALID_TOKEN);
            }
        }
    }

    fn send_sub_refresh_reply(&mut self, id: u32, ttl: Option<u32>) {
        self.send_reply(&Reply {
            id,
            sub_refresh: Some(SubRefreshResult {
                expires: ttl.is_some(),
                ttl: ttl.unwrap_or(0),
            }),
            ..Reply::default()
        });
    }

    /// Sets (or clears) when the subscription to `channel` expires.
    pub(super) fn set_sub_deadline(&mut self, channel: &str, deadline: Option<Instant>) {
        self.keepalive.set_sub_deadline(channel, deadline);
    }
}
