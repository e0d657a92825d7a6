//! `switchboard sub` and `switchboard pub`: small debugging clients of the
//! hub protocol (Centrifugo client protocol v2, JSON form), as websocat is
//! for raw sockets.
//!
//! - `sub URL CHANNEL` prints every publication as a JSON line
//!   `{"channel":..,"offset":..,"data":..}` and, after a dropped
//!   connection, reconnects and resubscribes from its last position, so a
//!   gap shows either as the missed publications (in order, once each) or
//!   as a `could not recover` line on standard error.
//! - `pub URL CHANNEL DATA` publishes one JSON value and prints the reply.

mod args;
mod client;
mod error;
mod follower;
mod publisher;
mod subscriber;

pub use args::{ClientArgs, PubArgs, SubArgs};
pub use error::HubCliError;
pub use follower::{Follower, Resubscribed};
pub use publisher::publish;
pub use subscriber::subscribe;
