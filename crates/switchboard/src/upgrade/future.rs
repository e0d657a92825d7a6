//! [`UpgradeFuture`]: waits for hyper to hand over the connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use crate::connection_setup::Agreed;
use crate::error::{Error, Misuse};
use crate::websocket::WebSocket;

/// The WebSocket a hyper or axum upgrade yields: switchboard's
/// [`WebSocket`] over hyper's upgraded connection.
pub type UpgradedWebSocket = WebSocket<TokioIo<Upgraded>>;

/// Resolves to the server side [`WebSocket`] once hyper has sent the 101
/// response and handed the connection over (from
/// [`Upgrade::accept`](super::Upgrade::accept)).
///
/// Errors with [`Error::Io`] if the upgrade does not happen: the client
/// went away before the 101 was written, the response returned to hyper
/// was not the 101, or the connection is served without hyper's
/// `.with_upgrades()`.
///
/// **Cancel safety:** dropping it gives up the connection.
#[derive(Debug)]
#[must_use = "the WebSocket only exists once this future is awaited"]
pub struct UpgradeFuture {
    state: State,
}

#[derive(Debug)]
enum State {
    Waiting {
        on_upgrade: OnUpgrade,
        /// What the connection is set up with once the upgrade completes.
        agreed: Box<Agreed>,
    },
    Failed(Error),
    Done,
}

impl UpgradeFuture {
    pub(super) fn pending(on_upgrade: OnUpgrade, agreed: Agreed) -> Self {
        UpgradeFuture {
            state: State::Waiting {
                on_upgrade,
                agreed: Box::new(agreed),
            },
        }
    }

    pub(super) fn failed(error: Error) -> Self {
        UpgradeFuture {
            state: State::Failed(error),
        }
    }
}

impl Future for UpgradeFuture {
    type Output = Result<UpgradedWebSocket, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, State::Done) {
            State::Waiting {
                mut on_upgrade,
                agreed,
            } => match Pin::new(&mut on_upgrade).poll(cx) {
                Poll::Pending => {
                    this.state = State::Waiting { on_upgrade, agreed };
                    Poll::Pending
                }
                // Bytes hyper read past the request head (a pipelined first
                // frame) stay in `Upgraded`'s own read buffer and come out
                // of its first reads, so none are handed over here.
                Poll::Ready(Ok(upgraded)) => {
                    Poll::Ready(Ok(agreed.websocket(TokioIo::new(upgraded), &[])))
                }
                Poll::Ready(Err(error)) => {
                    Poll::Ready(Err(Error::Io(std::io::Error::other(UpgradeFailed(error)))))
                }
            },
            State::Failed(error) => Poll::Ready(Err(error)),
            State::Done => Poll::Ready(Err(Error::Misuse(Misuse::UpgradeFuturePolledAgain))),
        }
    }
}

/// hyper's reason for not handing the connection over, with what to check.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP connection was not handed over for the WebSocket ({0}); serve it with hyper's `.with_upgrades()` (axum::serve does) and return the 101 response unchanged")]
struct UpgradeFailed(#[source] hyper::Error);
