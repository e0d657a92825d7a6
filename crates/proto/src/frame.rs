//! Frame header codec (RFC 6455 §5.2).
