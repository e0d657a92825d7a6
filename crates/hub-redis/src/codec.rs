//! How publications, client infos and pub/sub messages are stored in
//! Redis: the Centrifugo protocol's own Protobuf messages (hub-core's wire
//! types), compact and already what a Protobuf client receives.
//!
//! A pub/sub message starts with one byte naming its kind:
//! - `p<offset>:<epoch>:<Publication>`: a publication (offset 0 and an
//!   empty epoch in a channel without history);
//! - `j<ClientInfo>` / `l<ClientInfo>`: a join / leave.

use std::sync::Arc;

use bytes::Bytes;
use prost::Message as _;
use switchboard_hub_core::history::Publication;
use switchboard_hub_core::position::{Epoch, StreamPosition};
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::wire;

/// Encodes a client info as client.proto's `ClientInfo`.
pub fn encode_info(info: &ClientInfo) -> Vec<u8> {
    wire_info(info).encode_to_vec()
}

fn wire_info(info: &ClientInfo) -> wire::ClientInfo {
    wire::ClientInfo {
        user: info.user.clone(),
        client: info.client.clone(),
        conn_info: info.conn_info.clone().unwrap_or_default(),
        chan_info: info.chan_info.clone().unwrap_or_default(),
    }
}

fn core_info(info: wire::ClientInfo) -> ClientInfo {
    let optional = |bytes: Bytes| (!bytes.is_empty()).then_some(bytes);
    ClientInfo {
        user: info.user,
        client: info.client,
        conn_info: optional(info.conn_info),
        chan_info: optional(info.chan_info),
    }
}

/// Decodes what [`encode_info`] wrote.
pub fn decode_info(bytes: &[u8]) -> Option<ClientInfo> {
    wire::ClientInfo::decode(bytes).ok().map(core_info)
}

/// Encodes a publication's data and publisher (its offset is the stream
/// entry's id, and the pub/sub message's prefix).
pub fn encode_publication(data: &Bytes, info: Option<&ClientInfo>) -> Vec<u8> {
    wire::Publication {
        data: data.clone(),
        info: info.map(wire_info),
        ..wire::Publication::default()
    }
    .encode_to_vec()
}

/// Decodes what [`encode_publication`] wrote, with its offset.
pub fn decode_publication(offset: u64, bytes: &[u8]) -> Option<Publication> {
    let publication = wire::Publication::decode(bytes).ok()?;
    Some(Publication {
        offset,
        data: publication.data,
        info: publication.info.map(|info| Arc::new(core_info(info))),
    })
}

/// A decoded message of a channel's pub/sub channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelMessage {
    /// A publication and the channel's position after it (offset 0 and an
    /// empty epoch without history).
    Publication(Publication, StreamPosition),
    /// A client joined.
    Join(ClientInfo),
    /// A client left.
    Leave(ClientInfo),
}

/// Encodes a join (`join == true`) or leave for the pub/sub channel.
pub fn encode_presence_event(join: bool, info: &ClientInfo) -> Vec<u8> {
    let mut message = vec![if join { b'j' } else { b'l' }];
    message.extend_from_slice(&encode_info(info));
    message
}

/// Decodes a message of a channel's pub/sub channel.
pub fn decode_channel_message(message: &[u8]) -> Option<ChannelMessage> {
    let (&kind, rest) = message.split_first()?;
    match kind {
        b'p' => {
            let (offset, rest) = split_at_colon(rest)?;
            let (epoch, body) = split_at_colon(rest)?;
            let offset: u64 = std::str::from_utf8(offset).ok()?.parse().ok()?;
            let epoch = Epoch::parse(std::str::from_utf8(epoch).ok()?)?;
            let publication = decode_publication(offset, body)?;
            Some(ChannelMessage::Publication(
                publication,
                StreamPosition::new(offset, epoch),
            ))
        }
        b'j' => decode_info(rest).map(ChannelMessage::Join),
        b'l' => decode_info(rest).map(ChannelMessage::Leave),
        _ => None,
    }
}

fn split_at_colon(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = bytes.iter().position(|&byte| byte == b':')?;
    Some((&bytes[..colon], &bytes[colon + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publication_messages_round_trip() {
        let info = ClientInfo {
            user: "alice".into(),
            client: "c1".into(),
            conn_info: Some(Bytes::from_static(b"{\"a\":1}")),
            chan_info: None,
        };
        let body = encode_publication(&Bytes::from_static(b"{\"x\":1}"), Some(&info));
        let mut message = b"p42:abcd:".to_vec();
        message.extend_from_slice(&body);
        let Some(ChannelMessage::Publication(publication, position)) =
            decode_channel_message(&message)
        else {
            panic!("a publication message");
        };
        assert_eq!(position.offset, 42);
        assert_eq!(position.epoch.as_str(), "abcd");
        assert_eq!(publication.offset, 42);
        assert_eq!(&publication.data[..], b"{\"x\":1}");
        assert_eq!(publication.info.as_deref(), Some(&info));
        let join = encode_presence_event(true, &info);
        assert_eq!(
            decode_channel_message(&join),
            Some(ChannelMessage::Join(info))
        );
        assert_eq!(decode_channel_message(b"x"), None);
        assert_eq!(decode_channel_message(b"p12"), None);
    }
}
