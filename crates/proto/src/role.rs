//! Which end of the connection this endpoint is.

/// The role of an endpoint decides masking (RFC 6455 §5.1) and who closes
/// the TCP connection first (RFC 6455 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening handshake. It masks every frame it
    /// sends and rejects masked frames from the server.
    Client,
    /// The endpoint that answered the opening handshake. It never masks and
    /// rejects unmasked frames from the client.
    Server,
}

impl Role {
    /// Whether frames sent by this role must be masked (RFC 6455 §5.3).
    pub fn masks_outgoing(self) -> bool {
        matches!(self, Role::Client)
    }
}
