//! Why a permessage-deflate negotiation failed.

/// A `Sec-WebSocket-Extensions` response that a client must not accept
/// (RFC 7692 §7: the client _Fails the WebSocket Connection_).
///
/// Returned by [`DeflateConfig::client_accept`](super::DeflateConfig::client_accept).
/// Every variant means the server (or a proxy rewriting headers) broke the
/// negotiation rules; close the connection with 1010 or simply drop it, and
/// check the server's permessage-deflate configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateNegotiationError {
    /// The response holds more than one `permessage-deflate` element
    /// (a server accepts at most one of the offers, RFC 7692 §5).
    #[error("the server answered permessage-deflate more than once; a server accepts at most one offer, fix the server's extension handling")]
    MultipleResponses,
    /// A parameter RFC 7692 §7.1 does not define.
    #[error("unknown permessage-deflate parameter `{0}` in the server's response; the server speaks a different draft or a proxy rewrote the header")]
    UnknownParameter(String),
    /// The same parameter appears twice (RFC 7692 §7: a response with a
    /// duplicated parameter is invalid).
    #[error("permessage-deflate parameter `{0}` appears twice in the server's response; fix the server's response header")]
    DuplicateParameter(String),
    /// A parameter value that is missing, present where none is allowed, or
    /// not an integer 8–15 without leading zeros (RFC 7692 §7.1.2).
    #[error("invalid value {value:?} for permessage-deflate parameter `{name}`; window bits must be an integer from 8 to 15 and *_no_context_takeover takes no value")]
    InvalidValue {
        /// The parameter name.
        name: String,
        /// The value as received (`None`: the value was missing).
        value: Option<String>,
    },
    /// `client_max_window_bits` in a response to offers that did not
    /// include it (RFC 7692 §7.1.2.2: the response MUST NOT include it then).
    #[error("the server sent client_max_window_bits although no offer included it; RFC 7692 §7.1.2.2 forbids that, fix the server")]
    NotOffered(&'static str),
    /// The response does not answer a request of the offer it accepts
    /// (RFC 7692 §7.1.1.1, §7.1.2.1: the server accepts a request by
    /// including the parameter).
    #[error("the server's response omits `{0}` that the offer required; the server cannot honour it, offer fallbacks (DeflateConfig::fallback_offers) or fix the server")]
    RequestIgnored(&'static str),
    /// A window-bits value larger than the one offered (RFC 7692 §7.1.2:
    /// the server answers with the same or a smaller value).
    #[error("the server answered `{name}={answered}` but the offer allowed at most {offered}; the server must answer the same or a smaller value")]
    WindowTooLarge {
        /// The parameter name.
        name: &'static str,
        /// The value the offer carried.
        offered: u8,
        /// The value the server answered.
        answered: u8,
    },
}
