//! The wire format of the client protocol.
