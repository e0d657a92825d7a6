//! The `switchboard` command line tool as a library: `serve` (an echo and
//! chat server with health checks) and `connect` (an interactive client).
//! The binary in `main.rs` only parses arguments and calls in here, so the
//! pieces are testable and reusable.
#![warn(missing_docs)]

pub mod config;
pub mod connect;
pub mod serve;
