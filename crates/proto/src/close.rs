//! Close codes (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry")
//! and the close frame payload.

use std::fmt;

use crate::Utf8Bytes;

/// A WebSocket close status code.
///
/// Any `u16` can be held, so that codes received from the wire can be
/// reported; [`CloseCode::is_valid_on_wire`] tells whether a code may appear in
/// a close frame.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary-only endpoint got text).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Never sent on the wire.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a close frame. Never sent on the wire.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was not consistent with its type (invalid UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response from upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Never sent on the wire.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may be sent or received in a close frame.
    ///
    /// RFC 6455 §7.4.1 and §7.4.2 with the IANA registry: 1000–1003 and
    /// 1007–1014 are defined, 3000–4999 belong to libraries and applications.
    /// 1004 (reserved), 1005, 1006 and 1015 (local only), everything below
    /// 1000, 1016–2999 (unassigned) and anything above 4999 are invalid.
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

/// The payload of a close frame that carried a status code.
///
/// A close frame with an empty payload is represented as `None` wherever an
/// `Option<CloseFrame>` appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8 so that the frame fits the
    /// 125-byte control frame limit (RFC 6455 §5.5).
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// Longest reason that fits in a control frame next to the 2-byte code.
    pub const MAX_REASON_LEN: usize = 123;

    /// A close frame with a code and a reason.
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        CloseFrame {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// The close frame the peer sent, as
/// [`Connection::peer_close`](crate::Connection::peer_close) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedClose<'a> {
    /// The frame carried a status code (and possibly a reason).
    WithStatus(&'a CloseFrame),
    /// The frame was empty: no status code, which RFC 6455 §7.1.5 reports
    /// as 1005 ([`CloseCode::NO_STATUS`]).
    NoStatus,
}

impl<'a> ReceivedClose<'a> {
    /// The status code; [`CloseCode::NO_STATUS`] (1005) for an empty frame.
    pub fn code(self) -> CloseCode {
        match self {
            ReceivedClose::WithStatus(frame) => frame.code,
            ReceivedClose::NoStatus => CloseCode::NO_STATUS,
        }
    }

    /// The reason; empty for an empty frame.
    pub fn reason(self) -> &'a str {
        match self {
            ReceivedClose::WithStatus(frame) => frame.reason.as_str(),
            ReceivedClose::NoStatus => "",
        }
    }

    /// The code and reason, `None` for an empty frame (the shape of
    /// [`Message::Close`](crate::Message::Close)).
    pub fn frame(self) -> Option<&'a CloseFrame> {
        match self {
            ReceivedClose::WithStatus(frame) => Some(frame),
            ReceivedClose::NoStatus => None,
        }
    }
}

impl<'a> From<&'a Option<CloseFrame>> for ReceivedClose<'a> {
    fn from(frame: &'a Option<CloseFrame>) -> Self {
        frame
            .as_ref()
            .map_or(ReceivedClose::NoStatus, ReceivedClose::WithStatus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_validity_matches_rfc_and_iana() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_valid_on_wire(), expected, "code {code}");
        }
        for invalid in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode(invalid).is_valid_on_wire(), "{invalid}");
        }
        for valid in [
            1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(CloseCode(valid).is_valid_on_wire(), "{valid}");
        }
    }
}
