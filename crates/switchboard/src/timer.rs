//! One lazily armed `tokio::time::Sleep` for all of a connection's deadlines.
//!
//! The protocol core moves its keepalive deadline forward on every read. Resetting a
//! `Sleep` touches the runtime's timer wheel, so the timer is only moved *earlier*
//! eagerly; a later deadline is picked up when the armed sleep fires early, which
//! costs one spurious wakeup per ping interval instead of one reset per read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant as StdInstant;

use tokio::time::{Instant, Sleep};

/// The current time on tokio's clock (honours paused time in tests), as the
/// `std` instant the protocol core works with.
pub(crate) fn now() -> StdInstant {
    Instant::now().into_std()
}

#[derive(Debug, Default)]
pub(crate) struct Timer {
    /// Boxed so that `WebSocket` stays `Unpin`; allocated on first use only,
    /// so connections without deadlines never pay for it. Its own deadline
    /// is the one it is armed for until it has fired (`is_elapsed`), so the
    /// timer keeps no copy of it: every byte here is paid by every idle
    /// connection.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timer {
    /// `Ready` once `deadline` has passed; otherwise registers `cx` to be
    /// woken no later than `deadline`.
    pub(crate) fn poll_until(&mut self, cx: &mut Context<'_>, deadline: StdInstant) -> Poll<()> {
        let deadline = Instant::from_std(deadline);
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.is_elapsed() || deadline < sleep.deadline() {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self
                .sleep
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        loop {
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    if Instant::now() >= deadline {
                        return Poll::Ready(());
                    }
                    // Fired for an earlier deadline that has since moved.
                    sleep.as_mut().reset(deadline);
                }
            }
        }
    }
}
