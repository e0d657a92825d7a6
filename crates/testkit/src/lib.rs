//! Fixtures shared by the tests of several workspace crates. Anything that
//! needs Switchboard's own types stays in the crates' `tests/` trees: this
//! crate is a dev-dependency of them and must not depend on them in turn.

pub mod alloc;
pub mod daemon;
pub mod interop;
pub mod io;
pub mod pki;

pub use daemon::free_port;
