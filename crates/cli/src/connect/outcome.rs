//! How a `connect` session ended, and the process exit code for it.

use switchboard::{proto, CloseCode, Error};

/// The exit codes, as documented in `switchboard connect --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  the connection closed cleanly (a close handshake with 1000 or no code,
     or one this side started after standard input ended)
  1  a local error (reading standard input, writing output)
  2  bad usage: invalid arguments, URL, -H header, --proxy or --ca file
  3  the opening handshake failed (refused, unreachable, TLS or proxy
     failure, non-101 answer, invalid response)
  4  the connection ended abnormally: no close frame (1006), an I/O error,
     or a keepalive/close timeout
  5  a protocol error: the peer broke RFC 6455 (this side closed with 1002,
     1007 or 1009) or the peer closed with 1002 or 1007
  6  the peer closed with another code (1001 going away, 1003, 1008, 1011,
     1013, 3000-4999, ...)";

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Clean close.
    Clean,
    /// A local failure.
    LocalError,
    /// Invalid arguments.
    Usage,
    /// The opening handshake failed.
    HandshakeFailed,
    /// No close handshake: 1006, I/O error, timeout.
    Abnormal,
    /// The protocol was broken (by either side, as far as we can tell).
    ProtocolError,
    /// The peer closed with a code other than 1000/1005 that is not a
    /// protocol error.
    ClosedWithError,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::LocalError => 1,
            Outcome::Usage => 2,
            Outcome::HandshakeFailed => 3,
            Outcome::Abnormal => 4,
            Outcome::ProtocolError => 5,
            Outcome::ClosedWithError => 6,
        }
    }

    /// The outcome of a close frame the peer started the closing with
    /// (`None`: a close frame without a code, 1005).
    pub fn for_peer_close(code: Option<CloseCode>) -> Self {
        match code {
            None | Some(CloseCode::NORMAL) | Some(CloseCode::NO_STATUS) => Outcome::Clean,
            Some(CloseCode::PROTOCOL_ERROR) | Some(CloseCode::INVALID_PAYLOAD) => {
                Outcome::ProtocolError
            }
            Some(_) => Outcome::ClosedWithError,
        }
    }

    /// The outcome of an error that ended an open connection.
    pub fn for_error(error: &Error) -> Self {
        match error {
            Error::Connection(proto::Error::Protocol(_) | proto::Error::Limit(_))
            | Error::Extension(_) => Outcome::ProtocolError,
            Error::Connection(_) | Error::Io(_) | Error::Timeout(_) | Error::ConnectionClosed => {
                Outcome::Abnormal
            }
            _ => Outcome::LocalError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        let all = [
            Outcome::Clean,
            Outcome::LocalError,
            Outcome::Usage,
            Outcome::HandshakeFailed,
            Outcome::Abnormal,
            Outcome::ProtocolError,
            Outcome::ClosedWithError,
        ];
        let mut codes: Vec<u8> = all.iter().map(|o| o.exit_code()).collect();
        codes.dedup();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
        for code in codes {
            assert!(EXIT_CODES_HELP.contains(&format!("  {code}  ")));
        }
    }

    #[test]
    fn peer_close_codes_map_to_outcomes() {
        assert_eq!(Outcome::for_peer_close(None), Outcome::Clean);
        assert_eq!(
            Outcome::for_peer_close(Some(CloseCode(1000))),
            Outcome::Clean
        );
        assert_eq!(
            Outcome::for_peer_close(Some(CloseCode(1002))),
            Outcome::ProtocolError
        );
        assert_eq!(
            Outcome::for_peer_close(Some(CloseCode(1007))),
            Outcome::ProtocolError
        );
        assert_eq!(
            Outcome::for_peer_close(Some(CloseCode(1001))),
            Outcome::ClosedWithError
        );
        assert_eq!(
            Outcome::for_peer_close(Some(CloseCode(4000))),
            Outcome::ClosedWithError
        );
        assert_eq!(
            Outcome::for_error(&Error::Connection(proto::Error::AbnormalClosure)),
            Outcome::Abnormal
        );
    }
}
