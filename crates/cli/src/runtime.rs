//! Starting the tokio runtime a subcommand runs on, the same way for each.

use tokio::runtime::{Builder, Runtime};

/// Which tokio scheduler a subcommand runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Every task on the calling thread (clients and load generators).
    CurrentThread,
    /// A worker thread per core (the server).
    MultiThread,
}

/// Builds a runtime on `scheduler` with I/O and timers enabled; when the
/// operating system refuses (threads, file descriptors), prints why on
/// standard error and returns `None`, for the caller to exit with its own
/// failure code.
pub fn start(scheduler: Scheduler) -> Option<Runtime> {
    let mut builder = match scheduler {
        Scheduler::CurrentThread => Builder::new_current_thread(),
        Scheduler::MultiThread => Builder::new_multi_thread(),
    };
    match builder.enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            None
        }
    }
}
