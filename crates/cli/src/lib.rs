//! The `switchboard` command line tool as a library: `serve` (an echo and
//! chat server with health checks), `connect` (an interactive client) and
//! `bench` (an echo load generator), `sub`/`pub` (hub protocol clients). The binary in `main.rs` only parses
//! arguments and calls in here, so the pieces are testable and reusable.
#![warn(missing_docs)]

mod allocator;
pub mod bench;
pub mod config;
pub mod connect;
pub mod hubcli;
pub mod runtime;
pub mod serve;
pub mod token;
