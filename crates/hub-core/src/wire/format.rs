//! The two wire formats and how a connection picks one.

/// The serialization a connection uses for all its commands and replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Newline-delimited JSON objects in text WebSocket messages (the default).
    #[default]
    Json,
    /// Varint-length-prefixed Protobuf messages in binary WebSocket messages.
    Protobuf,
}

/// The WebSocket message type a format travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A text message (opcode 0x1): JSON is always UTF-8.
    Text,
    /// A binary message (opcode 0x2).
    Binary,
}

/// The subprotocol Centrifugo SDKs offer for the JSON format.
pub const JSON_SUBPROTOCOL: &str = "centrifuge-json";
/// The subprotocol Centrifugo SDKs offer for the Protobuf format.
pub const PROTOBUF_SUBPROTOCOL: &str = "centrifuge-protobuf";

impl Format {
    /// The WebSocket message type this format's server messages use.
    pub const fn message_kind(self) -> MessageKind {
        match self {
            Self::Json => MessageKind::Text,
            Self::Protobuf => MessageKind::Binary,
        }
    }

    /// The subprotocol name that stands for this format.
    pub const fn subprotocol(self) -> &'static str {
        match self {
            Self::Json => JSON_SUBPROTOCOL,
            Self::Protobuf => PROTOBUF_SUBPROTOCOL,
        }
    }

    /// Picks the format from the upgrade request, as Centrifugo does: the
    /// `centrifuge-protobuf` subprotocol or the `format=protobuf` query
    /// parameter select Protobuf; anything else (including the
    /// `centrifuge-json` subprotocol or nothing) selects JSON.
    ///
    /// `offered` is the client's `Sec-WebSocket-Protocol` list, `query` the
    /// request URI's query string without the `?`.
    pub fn negotiate<'a>(
        offered: impl IntoIterator<Item = &'a str>,
        query: Option<&str>,
    ) -> Negotiated {
        let mut offered_json = false;
        for protocol in offered {
            match protocol.trim() {
                PROTOBUF_SUBPROTOCOL => {
                    return Negotiated {
                        format: Self::Protobuf,
                        subprotocol: Some(PROTOBUF_SUBPROTOCOL),
                    }
                }
                JSON_SUBPROTOCOL => offered_json = true,
                _ => {}
            }
        }
        let subprotocol = offered_json.then_some(JSON_SUBPROTOCOL);
        let format = if query.is_some_and(query_asks_protobuf) {
            Self::Protobuf
        } else {
            Self::Json
        };
        Negotiated {
            format,
            subprotocol,
        }
    }
}

/// The outcome of [`Format::negotiate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The format of the connection.
    pub format: Format,
    /// The subprotocol to echo in the handshake response: set only when the
    /// client offered one of the Centrifugo subprotocols.
    pub subprotocol: Option<&'static str>,
}

/// Whether a query string holds `format=protobuf`.
fn query_asks_protobuf(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .any(|(key, value)| key == "format" && value == "protobuf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_subprotocol_wins() {
        let negotiated = Format::negotiate(["chat", " centrifuge-protobuf"], None);
        assert_eq!(negotiated.format, Format::Protobuf);
        assert_eq!(negotiated.subprotocol, Some(PROTOBUF_SUBPROTOCOL));
    }

    #[test]
    fn query_parameter_selects_protobuf() {
        let negotiated = Format::negotiate([], Some("cf_ws_frame_ping_pong=true&format=protobuf"));
        assert_eq!(
            negotiated,
            Negotiated {
                format: Format::Protobuf,
                subprotocol: None
            }
        );
        assert_eq!(
            Format::negotiate([], Some("format=json")).format,
            Format::Json
        );
        assert_eq!(
            Format::negotiate([], Some("xformat=protobuf")).format,
            Format::Json
        );
    }

    #[test]
    fn json_is_the_default_and_echoes_its_subprotocol() {
        assert_eq!(
            Format::negotiate([], None),
            Negotiated {
                format: Format::Json,
                subprotocol: None
            }
        );
        assert_eq!(
            Format::negotiate(["centrifuge-json"], None),
            Negotiated {
                format: Format::Json,
                subprotocol: Some(JSON_SUBPROTOCOL)
            }
        );
        assert_eq!(Format::Json.message_kind(), MessageKind::Text);
        assert_eq!(Format::Protobuf.message_kind(), MessageKind::Binary);
    }
}
