//! Behaviour settings (as opposed to the safety bounds in [`Limits`](crate::Limits)).

use std::time::Duration;

/// How received data messages are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Reassemble fragments and deliver whole messages
    /// ([`Event::Message`](crate::Event::Message)). Bounded by
    /// `Limits::max_message_size`.
    #[default]
    Messages,
    /// Deliver the payload as it arrives
    /// ([`Event::Chunk`](crate::Event::Chunk)), for applications that
    /// handle huge messages chunk by chunk.
    ///
    /// A frame's payload is handed out in as many pieces as the reads it
    /// came in: whatever part of it is in the receive buffer when
    /// [`Connection::poll_event`](crate::Connection::poll_event) runs
    /// becomes one piece, without waiting for the rest of the frame. Piece
    /// boundaries therefore depend on how the transport cut the byte stream
    /// and carry no meaning (they do not match the peer's frames); only the
    /// pieces joined in order are the same however the stream was cut. A
    /// piece can be empty (an empty frame) and, for text, can end inside a
    /// UTF-8 character. Messages of a negotiated extension (e.g.
    /// permessage-deflate) are decoded frame by frame instead: one piece
    /// per frame, once the whole frame has arrived.
    ///
    /// Plain messages are never buffered whole, so memory does not grow
    /// with their frame or message size. `Limits::max_message_size` still
    /// bounds each message's total, and `Limits::max_frame_size` each frame
    /// (and so what an extension-decoded frame buffers).
    Chunks,
}

/// Behaviour of a [`Connection`](crate::Connection).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Send a ping when nothing has been received, *or* nothing has been
    /// sent, for this long: the ping is due at `min(last received, last
    /// sent) + ping_interval`. `None` disables keepalive.
    ///
    /// Both directions count because some proxies time only one: Caddy's
    /// `read_timeout` counts bytes from the backend alone, so a server that
    /// only receives (a client streaming telemetry) must still send
    /// something, and its pings are that something. A connection busy in
    /// both directions never pings.
    ///
    /// "Received" is the time the driver passes to
    /// [`Connection::record_activity`](crate::Connection::record_activity).
    /// "Sent" means queued in the transmit buffer (messages, automatic
    /// pongs, pings, close): the core has no clock, so a queued frame is
    /// stamped with the latest time the driver passed in, which can make a
    /// ping come early, never late.
    ///
    /// Default 20 s: well under the 60 s idle timeout of nginx
    /// (`proxy_read_timeout`), AWS ALB and HAProxy setups in the wild, and
    /// Cloudflare's 100 s, so an idle connection behind any of them stays
    /// open. python-websockets uses the same value.
    pub ping_interval: Option<Duration>,
    /// How long to wait for any frame after a keepalive ping before failing
    /// with [`Error::KeepaliveTimeout`](crate::Error::KeepaliveTimeout).
    /// Default 20 s.
    pub pong_timeout: Duration,
    /// Fail with [`Error::IdleTimeout`](crate::Error::IdleTimeout) when nothing
    /// at all has been received for this long. Default `None`: keepalive
    /// already detects dead peers.
    pub idle_timeout: Option<Duration>,
    /// How long to wait for the peer's close frame (and, for a client, the end
    /// of TCP) after sending ours. Default 10 s, like python-websockets.
    pub close_timeout: Duration,
    /// Split outgoing data messages into frames of at most this many bytes.
    /// `None` (default) sends each message as one frame.
    pub max_outgoing_frame_size: Option<usize>,
    /// Whole messages or streamed chunks. Default: whole messages.
    pub delivery: Delivery,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval: Some(Duration::from_secs(20)),
            pong_timeout: Duration::from_secs(20),
            idle_timeout: None,
            close_timeout: Duration::from_secs(10),
            max_outgoing_frame_size: None,
            delivery: Delivery::Messages,
        }
    }
}

impl Config {
    /// Sets [`Config::ping_interval`].
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets [`Config::pong_timeout`].
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }

    /// Sets [`Config::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`Config::close_timeout`].
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`Config::max_outgoing_frame_size`].
    pub fn max_outgoing_frame_size(mut self, size: Option<usize>) -> Self {
        self.max_outgoing_frame_size = size;
        self
    }

    /// Sets [`Config::delivery`].
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }
}
