//! # switchboard
//!
//! WebSocket client and server for tokio, driving the sans-I/O
//! [`switchboard_proto`] core.
#![warn(missing_docs)]

pub use switchboard_proto as proto;

pub mod forwarded;
pub mod proxy;
pub mod tls;
