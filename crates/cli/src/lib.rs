//! The library half of the `switchboard` binary: its subcommands as
//! reusable modules, so they can be tested and embedded.
#![warn(missing_docs)]

pub mod bench;
