//! Incremental, fail-fast UTF-8 validation across fragments (RFC 6455 §8.1).
