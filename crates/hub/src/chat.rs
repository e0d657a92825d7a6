//! `/chat`: a broadcast room. Every text message from a member goes to all
//! members, the sender included.
//!
//! Subprotocols (RFC 6455 §1.9), the server picks the first the client
//! offers:
//! * `chat`: messages are relayed verbatim as text.
//! * `superchat`: every event is a JSON object: `{"type":"welcome",
//!   "member":N}` (to the new member only), `{"type":"join","member":N}`,
//!   `{"type":"leave","member":N}` and `{"type":"message","from":N,
//!   "text":"..."}`.
//!
//! A client offering neither is refused with 400.
//!
//! Slow members: posts go through a `tokio::sync::broadcast` ring of
//! [`BACKLOG`] posts, so a post is stored once however many members there
//! are and sending never waits for anyone. A member that falls more than
//! [`BACKLOG`] posts behind is disconnected with 1008 and a reason saying
//! so, and one whose socket accepts nothing for [`SEND_TIMEOUT`] is
//! dropped; dropping messages silently instead would leave gaps nobody
//! sees. With messages capped at [`MAX_CHAT_MESSAGE`], the room holds at
//! most a few MiB whatever the members do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchboard::{CloseCode, Message, Utf8Bytes, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tracing::Instrument;

use crate::close::{close_with, linger};
use crate::shutdown::Shutdown;

/// Posts kept for members that have not sent them yet.
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
}

/// One event in the room, rendered once for each subprotocol.
#[derive(Debug, Clone)]
struct Post {
    /// What `chat` members get; `None` for presence events.
    plain: Option<Utf8Bytes>,
    /// What `superchat` members get.
    rich: Utf8Bytes,
}

impl Post {
    fn for_protocol(&self, protocol: ChatProtocol) -> Option<Utf8Bytes> {
        match protocol {
            ChatProtocol::Chat => self.plain.clone(),
            ChatProtocol::Superchat => Some(self.rich.clone()),
        }
    }
}

/// The room: a broadcast channel and member ids.
#[derive(Debug)]
pub(crate) struct Room {
    posts: broadcast::Sender<Post>,
    next_member: AtomicU64,
}

impl Room {
    pub(crate) fn new() -> Self {
        Room {
            posts: broadcast::Sender::new(BACKLOG),
            next_member: AtomicU64::new(1),
        }
    }

    /// Adds a member: its id and its feed, which starts with its own join.
    fn join(&self) -> (u64, broadcast::Receiver<Post>) {
        let member = self.next_member.fetch_add(1, Ordering::Relaxed);
        let feed = self.posts.subscribe();
        self.publish(None, serde_json::json!({"type": "join", "member": member}));
        (member, feed)
    }

    fn say(&self, from: u64, text: Utf8Bytes) {
        let rich = serde_json::json!({"type": "message", "from": from, "text": text.as_str()});
        self.publish(Some(text), rich);
    }

    fn leave(&self, member: u64) {
        self.publish(None, serde_json::json!({"type": "leave", "member": member}));
    }

    fn publish(&self, plain: Option<Utf8Bytes>, rich: serde_json::Value) {
        // An error only means nobody is listening.
        let _ = self.posts.send(Post {
            plain,
            rich: rich.to_string().into(),
        });
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
    room: &Room,
    mut shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (member, feed) = room.join();
    let span = tracing::info_span!("member", id = member, protocol = protocol.name());
    relay(&mut ws, protocol, room, member, feed, &mut shutdown)
        .instrument(span)
        .await;
}

/// The member's loop: its messages into the room, the room's posts out.
async fn relay<S>(
    ws: &mut WebSocket<S>,
    protocol: ChatProtocol,
    room: &Room,
    member: u64,
    mut feed: broadcast::Receiver<Post>,
    shutdown: &mut Shutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if protocol == ChatProtocol::Superchat {
        let welcome = serde_json::json!({"type": "welcome", "member": member}).to_string();
        if !matches!(
            tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(welcome))).await,
            Ok(Ok(()))
        ) {
            room.leave(member);
            return;
        }
    }
    let leave = loop {
        tokio::select! {
            _ = shutdown.wait() => break Leave::Close(CloseCode::GOING_AWAY, "server shutting down"),
            post = feed.recv() => {
                if let Some(leave) = forward(ws, protocol, post).await {
                    break leave;
                }
            }
            message = ws.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    room.say(member, text);
                    // The member's own message (and whatever came before
                    // it) goes back before anything it sends later is
                    // answered, pongs included.
                    if let Some(leave) = forward_pending(ws, protocol, &mut feed).await {
                        break leave;
                    }
                }
                // RFC 6455 §7.4.1: 1003 is for data of a type the endpoint
                // cannot accept, such as binary for a text-only endpoint.
                Some(Ok(Message::Binary(_))) => {
                    break Leave::Close(CloseCode::UNSUPPORTED_DATA, "the chat room accepts text messages only")
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::info!(%error, "chat: connection failed");
                    break Leave::Failed;
                }
                None => break Leave::Gone,
            },
        }
    };
    drop(feed);
    room.leave(member);
    match leave {
        Leave::Close(code, reason) => close_with(ws, code, reason).await,
        Leave::Failed => linger(ws).await,
        Leave::Gone => {}
    }
}

/// Sends every post already waiting in `feed`.
async fn forward_pending<S>(
    ws: &mut WebSocket<S>,
    protocol: ChatProtocol,
    feed: &mut broadcast::Receiver<Post>,
) -> Option<Leave>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let post = match feed.try_recv() {
            Ok(post) => Ok(post),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
        if let Some(leave) = forward(ws, protocol, post).await {
            return Some(leave);
        }
    }
}

/// Sends one post to the member, or says why the member must go.
async fn forward<S>(
    ws: &mut WebSocket<S>,
    protocol: ChatProtocol,
    post: Result<Post, RecvError>,
) -> Option<Leave>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match post {
        Ok(post) => {
            let text = post.for_protocol(protocol)?;
            match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Text(text))).await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => {
                    tracing::debug!(%error, "chat: sending failed");
                    Some(Leave::Gone)
                }
                Err(_) => {
                    tracing::warn!("chat: member's socket accepts nothing, dropping it");
                    Some(Leave::Gone)
                }
            }
        }
        Err(RecvError::Lagged(missed)) => {
            tracing::warn!(
                missed,
                "chat: member fell behind the room, disconnecting it"
            );
            Some(Leave::Close(
                CloseCode::POLICY_VIOLATION,
                "too slow: fell behind the room",
            ))
        }
        Err(RecvError::Closed) => Some(Leave::Gone),
    }
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

    #[tokio::test]
    async fn a_member_that_falls_behind_lags_instead_of_blocking_the_room() {
        let room = Room::new();
        let (_slow, mut slow_feed) = room.join();
        let (fast, mut fast_feed) = room.join();
        for n in 0..BACKLOG * 2 {
            room.say(fast, format!("post {n}").into());
            // The fast member keeps up; the room never waits for the slow one.
            let mut post = fast_feed.recv().await.unwrap();
            while post.plain.is_none() {
                post = fast_feed.recv().await.unwrap();
            }
            assert_eq!(post.plain.unwrap().as_str(), format!("post {n}"));
        }
        assert!(matches!(slow_feed.recv().await, Err(RecvError::Lagged(_))));
    }

    #[test]
    fn superchat_posts_are_json_and_presence_is_superchat_only() {
        let room = Room::new();
        let (member, mut feed) = room.join();
        let join = feed.try_recv().unwrap();
        assert_eq!(join.for_protocol(ChatProtocol::Chat), None);
        let value: serde_json::Value =
            serde_json::from_str(&join.for_protocol(ChatProtocol::Superchat).unwrap()).unwrap();
        assert_eq!(value, serde_json::json!({"type": "join", "member": member}));

        room.say(member, "say \"hi\"".into());
        let post = feed.try_recv().unwrap();
        assert_eq!(
            post.for_protocol(ChatProtocol::Chat).unwrap().as_str(),
            "say \"hi\""
        );
        let value: serde_json::Value =
            serde_json::from_str(&post.for_protocol(ChatProtocol::Superchat).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"type": "message", "from": member, "text": "say \"hi\""})
        );
    }
}
