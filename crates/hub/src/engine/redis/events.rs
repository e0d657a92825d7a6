//! The node's event task: what the broker's subscriber reports, applied
//! to the local sessions. Publications and join/leave events fan out to
//! the local subscribers through the memory engine's own fan-out (encoded
//! once per format, same mailboxes); a gap makes every local subscriber
//! of the channel recover; control commands reach the local connections
//! of their user.

use std::sync::Arc;

use bytes::Bytes;
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::session::{encode_publication_push, LiveDelivery};
use switchboard_hub_core::SessionId;
use switchboard_hub_redis::{BrokerEvent, ControlCommand};
use tokio::sync::mpsc::UnboundedReceiver;

use super::local::Features;
use super::{history_options, Inner, WeakInner};
use crate::engine::{fan_out, presence_push, push_or_shed, Encoded, Presence, Target};
use crate::mailbox::{ChatEvent, Control, Delivery, Recipient};

/// Applies the broker's events until the engine or the broker is gone.
pub(super) async fn route(engine: WeakInner, mut events: UnboundedReceiver<BrokerEvent>) {
    while let Some(event) = events.recv().await {
        let Some(inner) = engine.upgrade() else {
            return;
        };
        inner.on_event(event);
    }
}

impl Inner {
    fn on_event(self: &Arc<Self>, event: BrokerEvent) {
        match event {
            BrokerEvent::Publication {
                channel,
                publication,
                ..
            } => {
                let state = self.lock();
                let Some((name, recipients)) = state.channels.subscribers_named(&channel) else {
                    return;
                };
                if recipients.is_empty() {
                    return;
                }
                let encode = |format| encode_publication_push(format, &channel, &publication);
                let chat = ChatEvent::Message(publication.data.clone(), publication.info.clone());
                let encoded = Encoded::new(name.clone(), publication.offset, &encode, chat);
                fan_out(&state.mailboxes, recipients, &encoded);
            }
            BrokerEvent::Join { channel, info } => {
                self.push_presence(&channel, info, Presence::Join)
            }
            BrokerEvent::Leave { channel, info } => {
                self.push_presence(&channel, info, Presence::Leave)
            }
            BrokerEvent::Gap { channel, position } => {
                tracing::info!(%channel, offset = position.offset, "publications missed in Redis: the channel's subscribers recover");
                self.gap(&channel);
            }
            BrokerEvent::Control(message) => self.control(message.command),
            BrokerEvent::Health(healthy) => {
                if healthy {
                    tracing::info!("Redis pub/sub is up");
                } else {
                    tracing::warn!("Redis pub/sub is down: /ready answers 503 until it is back");
                }
            }
        }
    }

    fn push_presence(&self, channel: &str, info: ClientInfo, presence: Presence) {
        let state = self.lock();
        let recipients = state.channels.join_leave_recipients(channel);
        presence_push(
            &state.mailboxes,
            recipients,
            channel,
            &Arc::new(info),
            presence,
        );
    }

    /// Publications of `channel` were lost: each local subscriber gets an
    /// offset beyond any it can expect, which its session turns into the
    /// documented `unsubscribe` push 2500 "insufficient state" (the SDK
    /// resubscribes with recovery and learns `recovered: false` if the
    /// window is gone): never a silent gap.
    fn gap(&self, channel: &Arc<str>) {
        let state = self.lock();
        if !state
            .channels
            .features(channel)
            .is_some_and(|features| features.history)
        {
            // Unpositioned subscriptions have no offsets to miss.
            return;
        }
        for id in state.channels.subscribers(channel) {
            let Some(mailbox) = state.mailboxes.get(id) else {
                continue;
            };
            if mailbox.recipient() == Recipient::Chat {
                continue;
            }
            let marker = Delivery::Hub(LiveDelivery {
                channel: channel.clone(),
                offset: u64::MAX,
                frame: Bytes::new(),
            });
            push_or_shed(&state.mailboxes, mailbox, marker);
        }
    }

    /// The local connections of a control command's user.
    fn targets(&self, user: &str, client: Option<&str>) -> Vec<(SessionId, Arc<ClientInfo>)> {
        let target = Target { user, client };
        self.lock()
            .clients
            .iter()
            .filter(|(_, info)| target.matches(info))
            .map(|(id, info)| (*id, info.clone()))
            .collect()
    }

    fn control(self: &Arc<Self>, command: ControlCommand) {
        match command {
            ControlCommand::Disconnect {
                user,
                client,
                whitelist,
                code,
                reason,
            } => {
                let code = u16::try_from(code).unwrap_or(DisconnectCode::FORCE_NO_RECONNECT.code);
                let targets = self.targets(&user, client.as_deref());
                let state = self.lock();
                for (id, info) in targets {
                    if whitelist.contains(&info.client) {
                        continue;
                    }
                    if let Some(mailbox) = state.mailboxes.get(&id) {
                        mailbox.push_control(Control::Disconnect {
                            code,
                            reason: reason.clone(),
                        });
                    }
                }
            }
            ControlCommand::Unsubscribe {
                user,
                client,
                channel,
            } => {
                let targets = self.targets(&user, client.as_deref());
                let mut ended = Vec::new();
                {
                    let mut state = self.lock();
                    for (id, _) in targets {
                        let Some(subscription) = state.channels.remove(id, &channel) else {
                            continue;
                        };
                        if let Some(mailbox) = state.mailboxes.get(&id) {
                            mailbox
                                .push_control(Control::Unsubscribe(subscription.channel.clone()));
                        }
                        ended.push(subscription);
                    }
                }
                self.forget_all(ended);
            }
            ControlCommand::Subscribe {
                user,
                client,
                channel,
                chan_info,
                data,
            } => {
                let targets = self.targets(&user, client.as_deref());
                if targets.is_empty() {
                    return;
                }
                let inner = self.clone();
                tokio::spawn(async move {
                    let chan_info = chan_info.map(Bytes::from);
                    let data = Bytes::from(data);
                    for (id, info) in targets {
                        inner
                            .server_subscribe(id, &channel, info, chan_info.clone(), data.clone())
                            .await;
                    }
                });
            }
        }
    }

    /// The server API's `subscribe` for one local connection: the same
    /// order as a client's subscribe (local interest, then the position),
    /// then the `subscribe` push through the mailbox. A publication that
    /// reaches the mailbox between the position read and the push is a
    /// gap for the session (2500, it resubscribes and recovers), never a
    /// silent loss.
    async fn server_subscribe(
        self: &Arc<Self>,
        id: SessionId,
        channel: &str,
        info: Arc<ClientInfo>,
        chan_info: Option<Bytes>,
        data: Bytes,
    ) {
        let Ok(options) = self.settings.channel_options(channel) else {
            return;
        };
        let features = Features::of(options);
        let history = history_options(options);
        let info = match chan_info {
            Some(chan_info) => Arc::new(ClientInfo {
                chan_info: Some(chan_info),
                ..(*info).clone()
            }),
            None => info,
        };
        {
            let mut state = self.lock();
            if state.channels.is_subscribed(id, channel) || !state.clients.contains_key(&id) {
                return;
            }
            if state
                .channels
                .add(id, channel, info.clone(), features, false)
                .is_err()
            {
                return;
            }
        }
        if let Err(error) = self.enter(channel, &info, features).await {
            tracing::warn!(%error, channel, "a server-side subscribe failed in Redis");
            self.lock().channels.remove(id, channel);
            return;
        }
        let position = match history {
            Some(history) => match self.broker.position(channel, history).await {
                Ok(position) => Some(position),
                Err(error) => {
                    tracing::warn!(%error, channel, "a server-side subscribe failed in Redis");
                    let ended = self.lock().channels.remove(id, channel);
                    self.forget_all(ended.into_iter().collect());
                    return;
                }
            },
            None => None,
        };
        let mut state = self.lock();
        state.counters.subscriptions += 1;
        if let Some(mailbox) = state.mailboxes.get(&id) {
            mailbox.push_control(Control::Subscribe {
                channel: channel.into(),
                position,
                data,
            });
        }
    }
}
