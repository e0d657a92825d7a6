//! Error and disconnect codes of the client protocol.
