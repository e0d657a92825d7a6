//! Traffic counters of one connection.
//!
//! The counters are plain integers bumped once per message, on paths that
//! already do far more work (header decoding, masking, copying), so they
//! cost nothing measurable and need no atomics: a
//! [`Connection`](crate::Connection) is owned by one task at a time. They
//! are kept to 16 bytes because idle memory per connection is a product
//! figure (the driver's `tests/idle_memory.rs`).

/// What one connection has received and sent so far, from
/// [`Connection::stats`](crate::Connection::stats).
///
/// A snapshot: copy it out, compare two snapshots to see what happened in
/// between. Counters start at zero when the connection is created (the
/// opening handshake is not counted) and never decrease.
///
/// *Messages* are data messages (text and binary), counted once each when
/// the whole message has been received (its last frame decoded and
/// checked: a message cut short by the peer's close or a failure is not
/// counted) or queued to be sent (a whole message, or the last piece of a
/// streamed one). Control frames (ping, pong, close) are not messages. The
/// message counters stop at `u32::MAX` (about 4.3 billion) rather than
/// wrap, which keeps the per-connection state small.
///
/// *Compressed* means the message went through the negotiated extension
/// (permessage-deflate, RFC 7692): received messages whose first frame
/// carried RSV bits (RSV1 for deflate), sent messages the extension
/// transformed ([`Encoded::Transformed`](crate::Encoded::Transformed)).
/// With permessage-deflate, messages below the sender's threshold go out
/// uncompressed, so `compressed_messages_sent` can be lower than
/// `messages_sent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Data messages received whole.
    pub messages_received: u64,
    /// Of [`Stats::messages_received`], those the extension decoded (the
    /// first frame carried RSV bits, e.g. RSV1 for a compressed message).
    pub compressed_messages_received: u64,
    /// Data messages queued to be sent.
    pub messages_sent: u64,
    /// Of [`Stats::messages_sent`], those the extension transformed (sent
    /// with RSV bits, e.g. compressed with RSV1).
    pub compressed_messages_sent: u64,
    /// Wire bytes of every frame queued to be sent (headers and payloads as
    /// they travel: masked, compressed), control frames included. Counted
    /// when queued, which may be before the transport has written them
    /// ([`Connection::transmit_len`](crate::Connection::transmit_len) is
    /// what still waits).
    pub bytes_sent: u64,
}

/// The counters a connection keeps: 16 bytes. Bytes sent are not kept
/// here: the transmit queue already counts every byte it was given.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    messages_received: u32,
    compressed_messages_received: u32,
    messages_sent: u32,
    compressed_messages_sent: u32,
}

impl Counters {
    /// A data message was received whole; `compressed`: the extension
    /// decoded it.
    #[inline]
    pub(crate) fn message_received(&mut self, compressed: bool) {
        self.messages_received = self.messages_received.saturating_add(1);
        self.compressed_messages_received = self
            .compressed_messages_received
            .saturating_add(u32::from(compressed));
    }

    /// The last frame of a data message was queued; `compressed`: the
    /// extension transformed the message.
    #[inline]
    pub(crate) fn message_sent(&mut self, compressed: bool) {
        self.messages_sent = self.messages_sent.saturating_add(1);
        self.compressed_messages_sent = self
            .compressed_messages_sent
            .saturating_add(u32::from(compressed));
    }

    /// The public snapshot, with the byte count the transmit queue keeps.
    pub(crate) fn snapshot(&self, bytes_sent: u64) -> Stats {
        Stats {
            messages_received: self.messages_received.into(),
            compressed_messages_received: self.compressed_messages_received.into(),
            messages_sent: self.messages_sent.into(),
            compressed_messages_sent: self.compressed_messages_sent.into(),
            bytes_sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    use bytes::Bytes;

    use super::Stats;
    use crate::deflate::DeflateConfig;
    use crate::frame::FrameHeader;
    use crate::{
        CloseCode, CloseFrame, Config, Connection, DataKind, Delivery, Event, Message, Role,
        Utf8Bytes,
    };

    fn config(delivery: Delivery) -> Config {
        Config::default().ping_interval(None).delivery(delivery)
    }

    fn plain_pair(delivery: Delivery) -> (Connection, Connection) {
        (
            Connection::new(Role::Client, config(delivery)),
            Connection::new(Role::Server, config(delivery)),
        )
    }

    /// A client and a server with permessage-deflate negotiated by the real
    /// negotiation code (default threshold: 64 bytes).
    fn deflate_pair(delivery: Delivery) -> (Connection, Connection) {
        let deflate = DeflateConfig::default();
        let (response, server_ext) = deflate.server_negotiate(&deflate.client_offers()).unwrap();
        let client_ext = deflate.client_accept(&[response]).unwrap().unwrap();
        let (mut client, mut server) = plain_pair(delivery);
        client.set_extension(Box::new(client_ext));
        server.set_extension(Box::new(server_ext));
        (client, server)
    }

    /// Everything `from` has queued, drained as a driver would.
    fn drain(from: &mut Connection) -> Vec<u8> {
        let mut wire = Vec::new();
        while from.transmit_len() > 0 {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = from.transmit_slices(&mut slices);
            let written: usize = slices[..n].iter().map(|s| s.len()).sum();
            for slice in &slices[..n] {
                wire.extend_from_slice(slice);
            }
            from.advance_transmit(written);
        }
        wire
    }

    /// Feeds `wire` to `to` in `chunk`-byte reads and collects the events.
    fn deliver(to: &mut Connection, wire: &[u8], chunk: usize) -> Vec<Event> {
        let mut events = Vec::new();
        for piece in wire.chunks(chunk) {
            to.receive(piece);
            while let Some(event) = to.poll_event().unwrap() {
                events.push(event);
            }
        }
        events
    }

    fn text(len: usize) -> Message {
        Message::text("stats ".repeat(len / 6 + 1)[..len].to_string())
    }

    #[test]
    fn a_new_connection_has_counted_nothing() {
        let (client, server) = plain_pair(Delivery::Messages);
        assert_eq!(client.stats(), Stats::default());
        assert_eq!(server.stats(), Stats::default());
    }

    #[test]
    fn plain_messages_and_wire_bytes_are_counted_both_ways() {
        let (mut client, mut server) = plain_pair(Delivery::Messages);
        client.send(Message::text("hello")).unwrap();
        for (piece, first, fin) in [
            ("ab", true, false),
            ("cd", false, false),
            ("e", false, true),
        ] {
            client
                .send_fragment(DataKind::Binary, Bytes::from(piece), first, fin)
                .unwrap();
        }
        client
            .send(Message::Ping(Bytes::from_static(b"p")))
            .unwrap();
        let sent = client.stats();
        assert_eq!(sent.messages_sent, 2);
        // Counted when queued, before anything is written.
        assert_eq!(sent.bytes_sent, client.transmit_len() as u64);
        assert_eq!(sent.compressed_messages_sent, 0);

        let wire = drain(&mut client);
        let events = deliver(&mut server, &wire, wire.len());
        assert_eq!(events.len(), 3, "two messages and the ping: {events:?}");
        let received = server.stats();
        assert_eq!(received.messages_received, 2);
        assert_eq!(received.compressed_messages_received, 0);
        // The automatic pong is bytes sent, not a message.
        assert_eq!(received.messages_sent, 0);
        assert_eq!(received.bytes_sent, 2 + 1);

        let pong = drain(&mut server);
        assert_eq!(deliver(&mut client, &pong, 1).len(), 1);
        assert_eq!(client.stats().messages_received, 0);
    }

    #[test]
    fn compressed_messages_are_counted_both_ways_and_small_ones_are_not() {
        let (mut client, mut server) = deflate_pair(Delivery::Messages);
        // Below the 64-byte threshold: sent plain (RSV1 clear).
        client.send(Message::text("hi")).unwrap();
        client.send(text(1000)).unwrap();
        client
            .send_fragment(
                DataKind::Text,
                Bytes::from("streamed ".repeat(20)),
                true,
                false,
            )
            .unwrap();
        client
            .send_fragment(DataKind::Text, Bytes::from("end"), false, true)
            .unwrap();
        let sent = client.stats();
        assert_eq!((sent.messages_sent, sent.compressed_messages_sent), (3, 2));

        let wire = drain(&mut client);
        // Byte by byte: counts must not depend on how reads are split.
        let events = deliver(&mut server, &wire, 1);
        assert_eq!(events.len(), 3);
        let received = server.stats();
        assert_eq!(
            (
                received.messages_received,
                received.compressed_messages_received
            ),
            (3, 2)
        );

        // The server echoes; its compressed frames reach the client.
        for event in events {
            let Event::Message(message) = event else {
                panic!("expected whole messages, got {event:?}");
            };
            server.send(message).unwrap();
        }
        let echo = drain(&mut server);
        let server_stats = server.stats();
        assert_eq!(
            (
                server_stats.messages_sent,
                server_stats.compressed_messages_sent
            ),
            (3, 2)
        );
        assert_eq!(server_stats.bytes_sent, echo.len() as u64);
        deliver(&mut client, &echo, 7);
        let client_stats = client.stats();
        assert_eq!(
            (
                client_stats.messages_received,
                client_stats.compressed_messages_received
            ),
            (3, 2)
        );
    }

    #[test]
    fn streamed_delivery_counts_a_message_once_at_its_last_piece() {
        for (make_pair, compressed) in [
            (plain_pair as fn(Delivery) -> (Connection, Connection), 0),
            (deflate_pair, 1),
        ] {
            let (mut client, mut server) = make_pair(Delivery::Chunks);
            client.send(text(3000)).unwrap();
            let wire = drain(&mut client);
            // Small reads: a plain frame is streamed in many pieces.
            let events = deliver(&mut server, &wire, 100);
            if compressed == 0 {
                assert!(events.len() > 1, "the plain frame was streamed: {events:?}");
            }
            let stats = server.stats();
            assert_eq!(stats.messages_received, 1);
            assert_eq!(stats.compressed_messages_received, compressed);
        }
    }

    #[test]
    fn an_unfinished_message_is_not_counted() {
        let (mut client, mut server) = deflate_pair(Delivery::Messages);
        client
            .send_fragment(DataKind::Binary, Bytes::from(vec![7u8; 500]), true, false)
            .unwrap();
        assert_eq!(client.stats().messages_sent, 0);
        let wire = drain(&mut client);
        deliver(&mut server, &wire, wire.len());
        let received = server.stats();
        assert_eq!(received.messages_received, 0);
        assert_eq!(received.compressed_messages_received, 0);
    }

    #[test]
    fn a_rejected_message_is_not_counted_and_the_close_frame_bytes_are() {
        let (_, mut server) = plain_pair(Delivery::Messages);
        // RFC 6455 §5.1: an unmasked frame from a client fails the
        // connection; the header is refused before anything is counted.
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: crate::frame::OpCode::Text,
            mask: None,
            payload_len: 1,
        };
        let mut head = [0u8; crate::frame::MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        server.receive(&head[..n]);
        server.receive(b"x");
        assert!(server.poll_event().is_err());
        let stats = server.stats();
        assert_eq!(stats.messages_received, 0);
        // The close frame with 1002 was queued.
        assert_eq!(stats.bytes_sent, server.transmit_len() as u64);
    }

    #[test]
    fn close_frames_count_as_bytes_not_messages() {
        let (mut client, mut server) = plain_pair(Delivery::Messages);
        client
            .close(
                std::time::Instant::now(),
                Some(CloseFrame::new(
                    CloseCode::NORMAL,
                    Utf8Bytes::from_static("bye"),
                )),
            )
            .unwrap();
        let wire = drain(&mut client);
        deliver(&mut server, &wire, wire.len());
        let echo = drain(&mut server);
        deliver(&mut client, &echo, echo.len());
        for stats in [client.stats(), server.stats()] {
            assert_eq!((stats.messages_sent, stats.messages_received), (0, 0));
        }
        assert_eq!(client.stats().bytes_sent, wire.len() as u64);
        assert_eq!(server.stats().bytes_sent, echo.len() as u64);
    }

    #[test]
    fn message_counters_stop_at_their_maximum_instead_of_wrapping() {
        let mut counters = super::Counters {
            messages_received: u32::MAX - 1,
            compressed_messages_received: u32::MAX - 1,
            messages_sent: u32::MAX,
            compressed_messages_sent: 0,
        };
        for _ in 0..3 {
            counters.message_received(true);
            counters.message_sent(true);
        }
        let stats = counters.snapshot(7);
        let max = u64::from(u32::MAX);
        assert_eq!(stats.messages_received, max);
        assert_eq!(stats.compressed_messages_received, max);
        assert_eq!(stats.messages_sent, max);
        assert_eq!(stats.compressed_messages_sent, 3);
        assert_eq!(stats.bytes_sent, 7);
    }
}
