//! End to end: permessage-deflate negotiated through the real handshake
//! header parser and plugged into two `Connection`s.

use std::io::IoSlice;

use switchboard_proto::deflate::DeflateConfig;
use switchboard_proto::frame::FrameHeader;
use switchboard_proto::handshake::parse_extensions;
use switchboard_proto::{
    Config, Connection, DataKind, Delivery, Error, Event, Limits, Message, Role,
};

/// Negotiates through header text, as the handshake would, and returns
/// (client, server) connections with the extension plugged in.
fn connected(
    client_config: &DeflateConfig,
    server_config: &DeflateConfig,
    limits: Limits,
    delivery: Delivery,
) -> (Connection, Connection) {
    let offer_header = client_config
        .client_offers()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let offers = parse_extensions(&offer_header).unwrap();
    let (response, server_ext) = server_config.server_negotiate(&offers).unwrap();
    let response = parse_extensions(&response.to_string()).unwrap();
    let client_ext = client_config.client_accept(&response).unwrap().unwrap();

    let config = Config::default().ping_interval(None).delivery(delivery);
    let mut client = Connection::with_limits(Role::Client, config.clone(), limits.clone());
    let mut server = Connection::with_limits(Role::Server, config, limits);
    client.set_extension(Box::new(client_ext));
    server.set_extension(Box::new(server_ext));
    (client, server)
}

/// Drains `from`'s transmit buffer and returns the bytes.
fn take_wire(from: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    while from.transmit_len() > 0 {
        let mut slices = [IoSlice::new(&[]); 16];
        let count = from.transmit_slices(&mut slices);
        let mut written = 0;
        for slice in &slices[..count] {
            wire.extend_from_slice(slice);
            written += slice.len();
        }
        from.advance_transmit(written);
    }
    wire
}

fn events(conn: &mut Connection) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    while let Some(event) = conn.poll_event()? {
        events.push(event);
    }
    Ok(events)
}

fn json(len: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!("{{\"id\":{i},\"topic\":\"t{}\"}},", i % 7));
        i += 1;
    }
    text.truncate(len);
    text
}

#[test]
fn client_sends_compressed_server_receives() {
    let config = DeflateConfig::default();
    let (mut client, mut server) =
        connected(&config, &config, Limits::default(), Delivery::Messages);
    for round in 0..3 {
        let text = json(10_000 + round);
        client.send(Message::text(text.clone())).unwrap();
        let wire = take_wire(&mut client);
        // RSV1 is set and the payload is far smaller than the text.
        assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on a compressed message");
        assert!(
            wire.len() < text.len() / 4,
            "{} bytes on the wire",
            wire.len()
        );
        server.receive(&wire);
        assert_eq!(
            events(&mut server).unwrap(),
            [Event::Message(Message::text(text.clone()))]
        );

        // And back, server to client.
        server.send(Message::text(text.clone())).unwrap();
        let wire = take_wire(&mut server);
        assert_eq!(wire[0] & 0x40, 0x40);
        client.receive(&wire);
        assert_eq!(
            events(&mut client).unwrap(),
            [Event::Message(Message::text(text))]
        );
    }
}

#[test]
fn small_messages_go_uncompressed_and_mix_with_compressed_ones() {
    let config = DeflateConfig::low_memory();
    let (mut client, mut server) =
        connected(&config, &config, Limits::default(), Delivery::Messages);
    let messages = [json(10), json(5_000), json(63), json(64), json(2)];
    for text in &messages {
        client.send(Message::text(text.clone())).unwrap();
        let wire = take_wire(&mut client);
        let rsv1 = wire[0] & 0x40 != 0;
        assert_eq!(rsv1, text.len() >= 64, "len {}", text.len());
        server.receive(&wire);
    }
    let expected: Vec<Event> = messages
        .iter()
        .map(|text| Event::Message(Message::text(text.clone())))
        .collect();
    assert_eq!(events(&mut server).unwrap(), expected);
}

#[test]
fn fragmented_compressed_message_with_rsv1_on_the_first_frame_only() {
    let config = DeflateConfig::balanced();
    let (mut client, mut server) =
        connected(&config, &config, Limits::default(), Delivery::Messages);
    let pieces = [json(3_000), json(20), json(4_000)];
    for (i, piece) in pieces.iter().enumerate() {
        client
            .send_fragment(
                DataKind::Binary,
                piece.clone().into_bytes().into(),
                i == 0,
                i + 1 == pieces.len(),
            )
            .unwrap();
    }
    let wire = take_wire(&mut client);
    // Walk the frames: RSV1 on the first only.
    let mut offset = 0;
    let mut frames = 0;
    while offset < wire.len() {
        let (header, len) = FrameHeader::decode(&wire[offset..]).unwrap().unwrap();
        assert_eq!(header.rsv != 0, frames == 0, "frame {frames}");
        offset += len + header.payload_len as usize;
        frames += 1;
    }
    assert_eq!(frames, 3);
    server.receive(&wire);
    let expected = pieces.concat().into_bytes();
    assert_eq!(
        events(&mut server).unwrap(),
        [Event::Message(Message::binary(expected))]
    );
}

#[test]
fn decompression_bomb_fails_the_connection_with_1009() {
    let config = DeflateConfig::default();
    let limits = Limits::default().max_message_size(1 << 20);
    let (mut client, mut server) = connected(&config, &config, limits, Delivery::Messages);
    let zeros = "\0".repeat(10 << 20);
    client.send(Message::text(zeros)).unwrap();
    let wire = take_wire(&mut client);
    assert!(wire.len() < 64 * 1024, "{} bytes on the wire", wire.len());
    server.receive(&wire);
    let err = events(&mut server).unwrap_err();
    assert_eq!(err.close_code().0, 1009, "{err}");
}

#[test]
fn corrupt_compressed_data_fails_the_connection_with_1007() {
    let config = DeflateConfig::default().threshold(0);
    let (mut client, mut server) =
        connected(&config, &config, Limits::default(), Delivery::Messages);
    client.send(Message::binary(vec![7u8; 1000])).unwrap();
    let mut wire = take_wire(&mut client);
    // Unmask the payload, corrupt its first byte (reserved block type),
    // and re-mask.
    let (header, len) = FrameHeader::decode(&wire).unwrap().unwrap();
    let key = header.mask.unwrap();
    wire[len] = 0x06 ^ key[0];
    server.receive(&wire);
    let err = events(&mut server).unwrap_err();
    assert_eq!(err.close_code().0, 1007, "{err}");
}

#[test]
fn streaming_delivery_inflates_frame_by_frame() {
    let config = DeflateConfig::default();
    let (mut client, mut server) = connected(&config, &config, Limits::default(), Delivery::Chunks);
    let pieces = [json(2_000), json(3_000)];
    for (i, piece) in pieces.iter().enumerate() {
        client
            .send_fragment(
                DataKind::Text,
                piece.clone().into_bytes().into(),
                i == 0,
                i + 1 == pieces.len(),
            )
            .unwrap();
    }
    server.receive(&take_wire(&mut client));
    let mut received = Vec::new();
    for event in events(&mut server).unwrap() {
        match event {
            Event::Chunk(fragment) => received.extend_from_slice(&fragment.payload),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, pieces.concat().into_bytes());
}

mod chunking {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Compressed traffic gives the same messages however the byte
        /// stream is cut into reads.
        #[test]
        fn compressed_messages_survive_any_chunking(
            lens in proptest::collection::vec(0usize..6_000, 1..5),
            cuts in proptest::collection::vec(1usize..700, 1..40),
            low_memory in any::<bool>(),
        ) {
            let config = if low_memory { DeflateConfig::low_memory() } else { DeflateConfig::default() };
            let (mut client, mut server) =
                connected(&config, &config, Limits::default(), Delivery::Messages);
            let texts: Vec<String> = lens.iter().map(|&len| json(len)).collect();
            for text in &texts {
                client.send(Message::text(text.clone())).unwrap();
            }
            let wire = take_wire(&mut client);
            let mut received = Vec::new();
            let mut offset = 0;
            let mut cut = cuts.iter().cycle();
            while offset < wire.len() {
                let end = (offset + cut.next().unwrap()).min(wire.len());
                server.receive(&wire[offset..end]);
                offset = end;
                received.extend(events(&mut server).unwrap());
            }
            let expected: Vec<Event> = texts
                .iter()
                .map(|text| Event::Message(Message::text(text.clone())))
                .collect();
            prop_assert_eq!(received, expected);
        }
    }
}
