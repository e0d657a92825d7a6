//! `/chat`: a raw WebSocket view of the hub channel [`CHAT_CHANNEL`].
//!
//! Raw members, the page at `/` and Centrifugo clients subscribed to
//! `chat` all see one another's messages:
//! * A raw member's text message `T` is published to `chat` as the JSON
//!   object `{"text":"T"}`, with the member as publisher: it gets an
//!   offset, stays in the channel's history and reaches every subscriber.
//! * Publications in `chat` reach raw members as text: the `text` string
//!   of an object like the above, the string itself for a JSON string, and
//!   the data as it is otherwise.
//! * Each raw member joins the channel like a client (presence, join and
//!   leave pushes); its client id is its member number.
//!
//! Subprotocols (RFC 6455 §1.9), the server picks the first the client
//! offers:
//! * `chat`: messages are relayed as plain text.
//! * `superchat`: every event is a JSON object: `{"type":"welcome",
//!   "member":N}` (to the new member only), `{"type":"join","member":N}`,
//!   `{"type":"leave","member":N}` and `{"type":"message","from":N,
//!   "text":"..."}`. `N` is a member number, or the client id (a string)
//!   for Centrifugo clients.
//!
//! A client offering neither is refused with 400.
//!
//! Slow members: events wait in the member's mailbox, at most [`BACKLOG`]
//! of them, so publishing never waits for anyone. A member that falls
//! further behind is disconnected with 1008 and a reason saying so, and
//! one whose socket accepts nothing for [`SEND_TIMEOUT`] is dropped;
//! dropping messages silently instead would leave gaps nobody sees. With
//! messages capped at [`MAX_CHAT_MESSAGE`], a member holds at most a few
//! MiB whatever the others do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use switchboard::{CloseCode, Message, WebSocket};
use switchboard_hub_core::outbound::OutboundLimits;
use switchboard_hub_core::presence::ClientInfo;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use crate::app::Hub;
use crate::close::{close_with, linger};
use crate::mailbox::{ChatEvent, Delivery, Mailbox, Recipient};
use crate::shutdown::Shutdown;

/// The hub channel `/chat` is a view of.
pub const CHAT_CHANNEL: &str = "chat";
/// Events a member may have waiting before it is disconnected as too slow.
pub const BACKLOG: usize = 128;
/// Largest chat message accepted (larger ones close with 1009).
pub const MAX_CHAT_MESSAGE: usize = 16 * 1024;
/// How long one send to a member may wait for its socket.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The subprotocols the room speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatProtocol {
    /// Plain text relay.
    Chat,
    /// JSON events with member ids.
    Superchat,
}

impl ChatProtocol {
    /// The first offer the room supports, in the client's order.
    pub fn choose(offered: &[String]) -> Option<Self> {
        offered.iter().find_map(|name| match name.as_str() {
            "chat" => Some(ChatProtocol::Chat),
            "superchat" => Some(ChatProtocol::Superchat),
            _ => None,
        })
    }

    /// The token on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ChatProtocol::Chat => "chat",
            ChatProtocol::Superchat => "superchat",
        }
    }

    /// How a member speaking this subprotocol sees `event`; `None` when
    /// it does not see it (plain `chat` shows messages only).
    fn render(self, event: &ChatEvent) -> Option<String> {
        match (self, event) {
            (ChatProtocol::Chat, ChatEvent::Message(data, _)) => Some(message_text(data)),
            (ChatProtocol::Chat, _) => None,
            (ChatProtocol::Superchat, ChatEvent::Message(data, from)) => Some(
                json!({"type": "message", "from": member_of(from.as_deref()), "text": message_text(data)})
                    .to_string(),
            ),
            (ChatProtocol::Superchat, ChatEvent::Join(info)) => {
                Some(json!({"type": "join", "member": member_of(Some(info))}).to_string())
            }
            (ChatProtocol::Superchat, ChatEvent::Leave(info)) => {
                Some(json!({"type": "leave", "member": member_of(Some(info))}).to_string())
            }
        }
    }
}

/// The publication data of a raw member's message.
fn message_data(text: &str) -> Bytes {
    Bytes::from(json!({ "text": text }).to_string())
}

/// The text a raw member sees for publication `data`.
fn message_text(data: &[u8]) -> String {
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(object)) => match object.get("text") {
            Some(Value::String(text)) => text.clone(),
            _ => Value::Object(object).to_string(),
        },
        Ok(Value::String(text)) => text,
        _ => String::from_utf8_lossy(data).into_owned(),
    }
}

/// A member number for a raw member, the client id for anyone else, and
/// `null` for a publication without a publisher.
fn member_of(info: Option<&ClientInfo>) -> Value {
    match info {
        Some(info) => match info.client.parse::<u64>() {
            Ok(number) => json!(number),
            Err(_) => json!(info.client),
        },
        None => Value::Null,
    }
}

/// Member numbers.
#[derive(Debug)]
pub(crate) struct Members {
    next: AtomicU64,
}

impl Members {
    pub(crate) fn new() -> Self {
        Members {
            next: AtomicU64::new(1),
        }
    }
}

/// How a member's session ends.
enum Leave {
    /// The client went away or the connection failed: nothing to send.
    Gone,
    /// The driver reported an error and sent its close frame: let it
    /// finish (see `crate::close::linger`).
    Failed,
    /// Close with this code and reason.
    Close(CloseCode, &'static str),
}

/// Runs one member until it leaves, is disconnected, or the server shuts
/// down.
pub(crate) async fn run_member<S>(
    mut ws: WebSocket<S>,
    protocol: ChatProtocol,
    hub: &Hub,
    members: &Members,
    mut shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let member = members.next.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("member", id = member, protocol = protocol.name());
    let info = Arc::new(ClientInfo {
        client: member.to_string(),
        ..ClientInfo::default()
    });
    let limits = OutboundLimits {
        max_bytes: BACKLOG * MAX_CHAT_MESSAGE,
        max_messages: BACKLOG,
        write_timeout: SEND_TIMEOUT,
    };
    let mailbox = Arc::new(Mailbox::new(Recipient::Chat, limits));
    let id = hub.engine.register(mailbox.clone());
    let leave = async {
        if protocol == ChatProtocol::Superchat {
            let welcome = json!({"type": "welcome", "member": member}).to_string();
            if !matches!(
                tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(welcome))).await,
                Ok(Ok(()))
            ) {
                return Leave::Gone;
            }
        }
        if let Err(error) =
            hub.engine
                .subscribe_member(Instant::now(), id, CHAT_CHANNEL, info.clone())
        {
            tracing::warn!(%error, "cannot join the hub channel {CHAT_CHANNEL}");
            return Leave::Close(
                CloseCode::INTERNAL_ERROR,
                "the chat channel is not available",
            );
        }
        relay(&mut ws, protocol, hub, &info, &mailbox, &mut shutdown).await
    }
    .instrument(span)
    .await;
    hub.engine.disconnect(Instant::now(), id);
    match leave {
        Leave::Close(code, reason) => close_with(&mut ws, code, reason).await,
        Leave::Failed => linger(&mut ws).await,
        Leave::Gone => {}
    }
}

/// The member's loop: its messages into the channel, the channel's events
/// out.
async fn relay<S>(
    ws: &mut WebSocket<S>,
    protocol: ChatProtocol,
    hub: &Hub,
    info: &Arc<ClientInfo>,
    mailbox: &Mailbox,
    shutdown: &mut Shutdown,
) -> Leave
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            _ = shutdown.wait() => return Leave::Close(CloseCode::GOING_AWAY, "server shutting down"),
            () = mailbox.wait() => {
                if let Some(leave) = forward_pending(ws, protocol, mailbox).await {
                    return leave;
                }
            }
            message = ws.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    let published = hub.engine.publish(
                        Instant::now(),
                        CHAT_CHANNEL,
                        message_data(text.as_str()),
                        Some(info.clone()),
                    );
                    if let Err(error) = published {
                        tracing::warn!(%error, "cannot publish to {CHAT_CHANNEL}");
                    }
                    // The member's own message (and whatever came before
                    // it) goes back before anything it sends later is
                    // answered, pongs included.
                    if let Some(leave) = forward_pending(ws, protocol, mailbox).await {
                        return leave;
                    }
                }
                // RFC 6455 §7.4.1: 1003 is for data of a type the endpoint
                // cannot accept, such as binary for a text-only endpoint.
                Some(Ok(Message::Binary(_))) => {
                    return Leave::Close(CloseCode::UNSUPPORTED_DATA, "the chat room accepts text messages only")
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::info!(%error, "chat: connection failed");
                    return Leave::Failed;
                }
                None => return Leave::Gone,
            },
        }
    }
}

/// Sends every event waiting in the member's mailbox, or says why the
/// member must go.
async fn forward_pending<S>(
    ws: &mut WebSocket<S>,
    protocol: ChatProtocol,
    mailbox: &Mailbox,
) -> Option<Leave>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let taken = mailbox.take();
    if taken.closed.is_some() {
        tracing::warn!("chat: member fell behind the room, disconnecting it");
        return Some(Leave::Close(
            CloseCode::POLICY_VIOLATION,
            "too slow: fell behind the room",
        ));
    }
    for item in taken.items {
        let Delivery::Chat(event) = item else {
            continue;
        };
        let Some(text) = protocol.render(&event) else {
            continue;
        };
        match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(text))).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, "chat: sending failed");
                return Some(Leave::Gone);
            }
            Err(_) => {
                tracing::warn!("chat: member's socket accepts nothing, dropping it");
                return Some(Leave::Gone);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_supported_offer_wins() {
        let offers = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ChatProtocol::choose(&offers(&["superchat", "chat"])),
            Some(ChatProtocol::Superchat)
        );
        assert_eq!(
            ChatProtocol::choose(&offers(&["mqtt", "chat", "superchat"])),
            Some(ChatProtocol::Chat)
        );
        assert_eq!(ChatProtocol::choose(&offers(&["mqtt"])), None);
        assert_eq!(ChatProtocol::choose(&[]), None);
    }

    fn member(client: &str) -> Arc<ClientInfo> {
        Arc::new(ClientInfo {
            client: client.into(),
            ..ClientInfo::default()
        })
    }

    fn parsed(text: Option<String>) -> Value {
        serde_json::from_str(&text.expect("rendered")).unwrap()
    }

    #[test]
    fn raw_text_round_trips_through_the_channel_data() {
        let data = message_data("say \"hi\"");
        assert_eq!(
            serde_json::from_slice::<Value>(&data).unwrap(),
            json!({"text": "say \"hi\""})
        );
        let event = ChatEvent::Message(data, Some(member("7")));
        assert_eq!(ChatProtocol::Chat.render(&event).unwrap(), "say \"hi\"");
        assert_eq!(
            parsed(ChatProtocol::Superchat.render(&event)),
            json!({"type": "message", "from": 7, "text": "say \"hi\""})
        );
    }

    #[test]
    fn other_publications_show_as_their_text_or_their_json() {
        let from_sdk = member("0b6e8a52-4f1e-4c39-9d7e-2f1e3c4d5a6b");
        let string = ChatEvent::Message(Bytes::from_static(b"\"hello\""), Some(from_sdk.clone()));
        assert_eq!(ChatProtocol::Chat.render(&string).unwrap(), "hello");
        assert_eq!(
            parsed(ChatProtocol::Superchat.render(&string)),
            json!({"type": "message", "from": from_sdk.client, "text": "hello"})
        );
        let object = ChatEvent::Message(Bytes::from_static(b"{\"n\":1}"), None);
        assert_eq!(ChatProtocol::Chat.render(&object).unwrap(), "{\"n\":1}");
        assert_eq!(
            parsed(ChatProtocol::Superchat.render(&object))["from"],
            Value::Null
        );
    }

    #[test]
    fn presence_is_superchat_only() {
        let join = ChatEvent::Join(member("3"));
        assert_eq!(ChatProtocol::Chat.render(&join), None);
        assert_eq!(
            parsed(ChatProtocol::Superchat.render(&join)),
            json!({"type": "join", "member": 3})
        );
        let leave = ChatEvent::Leave(member("3"));
        assert_eq!(
            parsed(ChatProtocol::Superchat.render(&leave)),
            json!({"type": "leave", "member": 3})
        );
    }
}
