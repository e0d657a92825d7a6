//! Decoding a frame and serving each command, directly or through an
//! action.

use std::sync::Arc;
use std::time::Instant;

use super::action::Action;
use super::subscriptions::Pending;
use super::{Phase, Session};
use crate::codes::DisconnectCode;
use crate::config::ChannelOptions;
use crate::counters::Method;
use crate::error::HubError;
use crate::history::HistoryQuery;
use crate::position::{Epoch, StreamPosition};
use crate::rate::CommandVerdict;
use crate::wire::{
    self, Command, HistoryRequest, PingResult, Reply, SubscribeRequest, UnsubscribeResult,
    DEFAULT_MAX_COMMANDS_PER_FRAME,
};

/// The method a command carries (the first request field set).
fn method_of(command: &Command) -> Method {
    if command.connect.is_some() {
        Method::Connect
    } else if command.subscribe.is_some() {
        Method::Subscribe
    } else if command.unsubscribe.is_some() {
        Method::Unsubscribe
    } else if command.publish.is_some() {
        Method::Publish
    } else if command.presence.is_some() {
        Method::Presence
    } else if command.presence_stats.is_some() {
        Method::PresenceStats
    } else if command.history.is_some() {
        Method::History
    } else if command.send.is_some() {
        Method::Send
    } else if command.rpc.is_some() {
        Method::Rpc
    } else if command.refresh.is_some() {
        Method::Refresh
    } else if command.sub_refresh.is_some() {
        Method::SubRefresh
    } else if command.ping.is_some() || command.id == 0 {
        Method::Ping
    } else {
        Method::Unknown
    }
}

/// A wire position from a client: an epoch too long to be one of ours
/// becomes the empty epoch, which no stream has.
pub(super) fn position_from_wire(offset: u64, epoch: &str) -> StreamPosition {
    StreamPosition::new(offset, Epoch::parse(epoch).unwrap_or_default())
}

impl Session {
    /// Decodes one WebSocket message and serves its commands in order. A
    /// message that does not decode closes the connection with 3501 "bad
    /// request"; commands before `connect` too.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.counters.message_in(frame.len());
        let commands = match self
            .format
            .decode_commands(frame, DEFAULT_MAX_COMMANDS_PER_FRAME)
        {
            Ok(commands) => commands,
            Err(error) => return self.close(error.disconnect_code()),
        };
        for command in commands {
            self.handle_command(now, command);
            if self.is_closed() {
                break;
            }
        }
    }

    fn handle_command(&mut self, now: Instant, command: Command) {
        let method = method_of(&command);
        let id = command.id;
        if self.phase == Phase::AwaitingConnect && method != Method::Connect {
            self.counters.command(method, false);
            return self.close(DisconnectCode::BAD_REQUEST);
        }
        // A command without id expects no reply: only pongs and `send` may
        // omit it.
        if id == 0 && !matches!(method, Method::Ping | Method::Send) {
            self.counters.command(method, false);
            return self.close(DisconnectCode::BAD_REQUEST);
        }
        let is_pong = method == Method::Ping && id == 0;
        if !is_pong && !self.take_command_token(now, id, method) {
            return;
        }
        match method {
            Method::Connect => self.handle_connect(now, id, command.connect.unwrap_or_default()),
            Method::Subscribe => {
                self.handle_subscribe(now, id, command.subscribe.unwrap_or_default());
            }
            Method::Unsubscribe => {
                let channel = command.unsubscribe.unwrap_or_default().channel;
                self.handle_unsubscribe(id, &channel);
            }
            Method::Publish => {
                let request = command.publish.unwrap_or_default();
                let channel = request.channel;
                let allowed = self.check_then(id, method, &channel, |options, subscribed| {
                    options.may_publish(subscribed)
                });
                if let Some(info) = allowed {
                    self.actions.push_back(Action::Publish {
                        id,
                        data: request.data,
                        info,
                        channel,
                    });
                }
            }
            Method::History => self.handle_history(id, command.history.unwrap_or_default()),
            Method::Presence => {
                let channel = command.presence.unwrap_or_default().channel;
                if self.may_read_presence(id, method, &channel) {
                    self.actions.push_back(Action::Presence { id, channel });
                }
            }
            Method::PresenceStats => {
                let channel = command.presence_stats.unwrap_or_default().channel;
                if self.may_read_presence(id, method, &channel) {
                    self.actions
                        .push_back(Action::PresenceStats { id, channel });
                }
            }
            Method::Ping => {
                self.counters.command(method, true);
                if id == 0 {
                    self.pong_received();
                } else {
                    self.send_reply(&Reply {
                        id,
                        ping: Some(PingResult {}),
                        ..Reply::default()
                    });
                }
            }
            // No handler for asynchronous messages: they are accepted and
            // discarded, as Centrifugo does without an `OnMessage` handler.
            Method::Send => self.counters.command(method, true),
            Method::Rpc => self.reply_error(id, method, HubError::NotAvailable),
            Method::Refresh => {
                let token = command.refresh.unwrap_or_default().token;
                self.handle_refresh(now, id, &token);
            }
            Method::SubRefresh => {
                let request = command.sub_refresh.unwrap_or_default();
                self.handle_sub_refresh(now, id, &request.channel, &request.token);
            }
            Method::Unknown => self.reply_error(id, method, HubError::MethodNotFound),
        }
    }

    /// Charges one command to `client_command_rate`; `false` when it was
    /// refused (answered with 111, or the connection closes with 3013).
    fn take_command_token(&mut self, now: Instant, id: u32, method: Method) -> bool {
        let Some(limit) = self.settings.config().command_rate() else {
            return true;
        };
        let Some(limiter) = self.command_limiter.as_mut() else {
            return true;
        };
        match limiter.check(limit, now) {
            CommandVerdict::Serve => true,
            CommandVerdict::Refuse if id == 0 => {
                // A `send` has no reply to carry the error: dropped.
                self.counters.command(method, false);
                false
            }
            CommandVerdict::Refuse => {
                self.reply_error(id, method, HubError::TooManyRequests);
                false
            }
            CommandVerdict::Disconnect => {
                self.counters.command(method, false);
                self.close(DisconnectCode::TOO_MANY_REQUESTS);
                false
            }
        }
    }

    /// Sends an error reply to command `id` and counts it.
    pub(super) fn reply_error(&mut self, id: u32, method: Method, error: HubError) {
        self.counters.command(method, false);
        self.send_reply(&Reply {
            id,
            error: Some(wire::Error {
                code: error.code(),
                message: error.protocol_message().to_owned(),
                temporary: error.is_temporary(),
            }),
            ..Reply::default()
        });
    }

    /// Checks a channel name against the limits and its namespace.
    pub(super) fn channel_options(&self, channel: &str) -> Result<&ChannelOptions, HubError> {
        if channel.is_empty() {
            return Err(HubError::BadRequest);
        }
        if channel.len() > self.settings.config().max_channel_name_length {
            return Err(HubError::LimitExceeded);
        }
        self.settings.channel_options(channel)
    }

    /// Checks the channel and the permission `allowed(options, subscribed)`;
    /// on refusal answers with the error and returns `None`, otherwise
    /// returns the client info for the action.
    fn check_then(
        &mut self,
        id: u32,
        method: Method,
        channel: &str,
        allowed: impl FnOnce(&ChannelOptions, bool) -> bool,
    ) -> Option<Arc<crate::presence::ClientInfo>> {
        let subscribed = self.subscriptions.is_established(channel);
        let verdict = self.channel_options(channel).and_then(|options| {
            if allowed(options, subscribed) {
                Ok(())
            } else {
                Err(HubError::PermissionDenied)
            }
        });
        match verdict {
            Ok(()) => Some(self.info.clone()),
            Err(error) => {
                self.reply_error(id, method, error);
                None
            }
        }
    }

    fn may_read_presence(&mut self, id: u32, method: Method, channel: &str) -> bool {
        self.check_then(id, method, channel, |options, subscribed| {
            options.may_read_presence(subscribed)
        })
        .is_some()
    }

    fn handle_subscribe(&mut self, now: Instant, id: u32, request: SubscribeRequest) {
        let method = Method::Subscribe;
        let options = match self.channel_options(&request.channel) {
            Ok(options) => options,
            Err(error) => return self.reply_error(id, method, error),
        };
        let recoverable = request.recoverable || options.force_recovery;
        let recover = (request.recover && recoverable && options.has_history())
            .then(|| position_from_wire(request.offset, &request.epoch));
        let open_to_clients = options.allow_subscribe_for_client;
        if self.subscriptions.contains(&request.channel) {
            return self.reply_error(id, method, HubError::AlreadySubscribed);
        }
        if self.subscriptions.len() >= self.settings.config().max_channels_per_connection {
            return self.reply_error(id, method, HubError::LimitExceeded);
        }
        let Ok(grant) = self.check_subscribe_token(now, id, &request.channel, &request.token)
        else {
            return;
        };
        if grant.is_none() && !open_to_clients {
            return self.reply_error(id, method, HubError::PermissionDenied);
        }
        let (info, expiry) = match grant {
            Some(grant) => (grant.info, grant.expiry),
            None => (self.info.clone(), None),
        };
        let channel: Arc<str> = request.channel.into();
        let pending = Pending {
            id,
            recoverable: request.recoverable,
            recovering: request.recover,
            expiry,
            buffer: Vec::new(),
        };
        self.subscriptions.insert(channel.clone(), pending);
        self.actions.push_back(Action::Subscribe {
            id,
            channel,
            recover,
            info,
            join_leave: request.join_leave,
        });
    }

    fn handle_unsubscribe(&mut self, id: u32, channel: &str) {
        if let Some(subscription) = self.subscriptions.remove(channel) {
            self.actions.push_back(Action::Unsubscribe {
                channel: subscription.channel,
            });
        }
        self.counters.command(Method::Unsubscribe, true);
        self.send_reply(&Reply {
            id,
            unsubscribe: Some(UnsubscribeResult {}),
            ..Reply::default()
        });
    }

    fn handle_history(&mut self, id: u32, request: HistoryRequest) {
        let HistoryRequest {
            channel,
            limit,
            since,
            reverse,
        } = request;
        let allowed = self.check_then(id, Method::History, &channel, |options, subscribed| {
            options.may_read_history(subscribed)
        });
        if allowed.is_none() {
            return;
        }
        let query = HistoryQuery {
            since: since.map(|position| position_from_wire(position.offset, &position.epoch)),
            // 0 asks for the position only; negative for everything up to
            // the configured maximum.
            limit: usize::try_from(limit).ok(),
            reverse,
        };
        self.actions
            .push_back(Action::History { id, channel, query });
    }
}
