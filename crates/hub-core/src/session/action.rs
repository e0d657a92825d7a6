//! What a session asks the runtime to do against the node, and the live
//! messages the runtime hands back to it.

use std::sync::Arc;

use bytes::Bytes;

use crate::history::HistoryQuery;
use crate::position::StreamPosition;
use crate::presence::ClientInfo;

/// An operation on the shared node that a command needs. The runtime runs
/// it and reports the outcome to the matching `Session` entry point, in
/// the order the actions were polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Call `Node::subscribe(now, session_id, &channel, info, recover)` and
    /// report with `Session::subscribed(id, &channel, result)`.
    Subscribe {
        /// The command id to answer.
        id: u32,
        /// The channel.
        channel: Arc<str>,
        /// The position to recover from, when the client asked to recover.
        recover: Option<StreamPosition>,
        /// The subscriber's info for presence and join pushes.
        info: Arc<ClientInfo>,
        /// The client asked for join and leave pushes: call
        /// `Node::push_join_leave_to` once subscribed.
        join_leave: bool,
    },
    /// Call `Node::unsubscribe(now, session_id, &channel)` and push the
    /// leave event it returns; nothing to report (the session already
    /// answered the client).
    Unsubscribe {
        /// The channel.
        channel: Arc<str>,
    },
    /// Call `Node::publish(now, &channel, data, Some(info))`, fan out, and
    /// report with `Session::published(id, result)`.
    Publish {
        /// The command id to answer.
        id: u32,
        /// The channel.
        channel: String,
        /// The payload.
        data: Bytes,
        /// The publisher.
        info: Arc<ClientInfo>,
    },
    /// Call `Node::history(now, &channel, &query)` and report with
    /// `Session::history_loaded(id, result)`.
    History {
        /// The command id to answer.
        id: u32,
        /// The channel.
        channel: String,
        /// What to read.
        query: HistoryQuery,
    },
    /// Call `Node::presence(&channel)` and report with
    /// `Session::presence_loaded(id, result)`.
    Presence {
        /// The command id to answer.
        id: u32,
        /// The channel.
        channel: String,
    },
    /// Call `Node::presence_stats(&channel)` and report with
    /// `Session::presence_stats_loaded(id, result)`.
    PresenceStats {
        /// The command id to answer.
        id: u32,
        /// The channel.
        channel: String,
    },
}

/// A push on its way to one subscriber: encoded once per format and
/// shared by every recipient using that format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveDelivery {
    /// The channel (shared name, e.g. `PublishOutcome::channel`).
    pub channel: Arc<str>,
    /// The publication's offset; 0 for join and leave pushes and for
    /// publications of channels without history (no order check).
    pub offset: u64,
    /// The encoded push for the recipient's format.
    pub frame: Bytes,
}

/// What [`Session::deliver`](crate::session::Session::deliver) did with a
/// live push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for transmission (see `Session::poll_transmit`).
    Queued,
    /// Held until the subscription's reply is out; released after it in
    /// arrival order, minus the offsets the reply already covered.
    Buffered,
    /// Dropped: not subscribed, or an offset already delivered.
    Dropped,
    /// The offset skipped ahead of the last delivered one: the session
    /// sent an `unsubscribe` push with code 2500 (the client resubscribes
    /// and recovers) and queued [`Action::Unsubscribe`].
    Gap,
}
