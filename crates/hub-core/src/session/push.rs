//! Conversions from the node's values to wire messages, and pushes
//! encoded once for fan-out.

use bytes::Bytes;

use crate::history::Publication;
use crate::presence::ClientInfo;
use crate::wire::{self, Format, Push, WireError};

/// The wire form of a client info.
pub fn wire_client_info(info: &ClientInfo) -> wire::ClientInfo {
    wire::ClientInfo {
        user: info.user.clone(),
        client: info.client.clone(),
        conn_info: info.conn_info.clone().unwrap_or_default(),
        chan_info: info.chan_info.clone().unwrap_or_default(),
    }
}

/// The wire form of a publication (payload shared, not copied).
pub fn wire_publication(publication: &Publication) -> wire::Publication {
    wire::Publication {
        data: publication.data.clone(),
        info: publication.info.as_deref().map(wire_client_info),
        offset: publication.offset,
        ..wire::Publication::default()
    }
}

/// Encodes the push of a publication in `channel` once, for every
/// subscriber using `format`. Put the bytes in a
/// [`LiveDelivery`](crate::session::LiveDelivery) with the publication's
/// offset.
pub fn encode_publication_push(
    format: Format,
    channel: &str,
    publication: &Publication,
) -> Result<Bytes, WireError> {
    format.encode_push(Push {
        channel: channel.to_owned(),
        publication: Some(wire_publication(publication)),
        ..Push::default()
    })
}

/// Encodes a join push once (deliver it with offset 0).
pub fn encode_join_push(
    format: Format,
    channel: &str,
    info: &ClientInfo,
) -> Result<Bytes, WireError> {
    format.encode_push(Push {
        channel: channel.to_owned(),
        join: Some(wire::Join {
            info: Some(wire_client_info(info)),
        }),
        ..Push::default()
    })
}

/// Encodes a leave push once (deliver it with offset 0).
pub fn encode_leave_push(
    format: Format,
    channel: &str,
    info: &ClientInfo,
) -> Result<Bytes, WireError> {
    format.encode_push(Push {
        channel: channel.to_owned(),
        leave: Some(wire::Leave {
            info: Some(wire_client_info(info)),
        }),
        ..Push::default()
    })
}
