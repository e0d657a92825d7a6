//! The Switchboard hub on tokio: session tasks over
//! [`switchboard::WebSocket`], the engine (in memory), and the HTTP routes
//! of `switchboard serve`.
#![warn(missing_docs)]
