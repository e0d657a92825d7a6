//! permessage-deflate (RFC 7692).
//!
//! TODO-DOCS
mod codec;
mod config;
mod error;
mod negotiate;

pub use codec::PerMessageDeflate;
pub use config::{DeflateConfig, DEFAULT_THRESHOLD, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
pub use error::DeflateNegotiationError;
pub use negotiate::{DeflateParams, DirectionParams, EXTENSION_NAME};
