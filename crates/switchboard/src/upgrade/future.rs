//! [`UpgradeFuture`]: waits for hyper to hand over the connection.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};

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

impl UpgradeFuture {
    /// Like awaiting the future, but the WebSocket runs straight over the
    /// connection's own type `T` when hyper was serving it as
    /// `TokioIo<T>` (with `serve_connection(..).with_upgrades()` or
    /// hyper-util's auto builder; `T` is usually `tokio::net::TcpStream`).
    ///
    /// hyper hands an upgraded connection over boxed, behind a read
    /// buffer and (with the auto builder) a second one: every read and
    /// write of [`UpgradedWebSocket`] goes through two wrappers and a
    /// virtual call, and the box is one more allocation per connection.
    /// A server with many connections saves both. Bytes hyper had read
    /// past the request head are decoded first, as with the boxed
    /// connection. Any other connection (TLS with `T` a TCP stream, an
    /// HTTP/2 stream) comes as [`Downcast::Boxed`].
    pub fn downcast<T>(self) -> DowncastFuture<T>
    where
        T: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        DowncastFuture {
            upgrade: self,
            io: PhantomData,
        }
    }

    /// Waits for hyper to hand the connection over.
    fn poll_handover(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Upgraded, Agreed), Error>> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Waiting {
                mut on_upgrade,
                agreed,
            } => match Pin::new(&mut on_upgrade).poll(cx) {
                Poll::Pending => {
                    self.state = State::Waiting { on_upgrade, agreed };
                    Poll::Pending
                }
                Poll::Ready(Ok(upgraded)) => Poll::Ready(Ok((upgraded, *agreed))),
                Poll::Ready(Err(error)) => {
                    Poll::Ready(Err(Error::Io(std::io::Error::other(UpgradeFailed(error)))))
                }
            },
            State::Failed(error) => Poll::Ready(Err(error)),
            State::Done => Poll::Ready(Err(Error::Misuse(Misuse::UpgradeFuturePolledAgain))),
        }
    }
}

impl Future for UpgradeFuture {
    type Output = Result<UpgradedWebSocket, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (upgraded, agreed) = ready!(self.get_mut().poll_handover(cx))?;
        // Bytes hyper read past the request head (a pipelined first frame)
        // stay in `Upgraded`'s own read buffer and come out of its first
        // reads, so none are handed over here.
        Poll::Ready(Ok(agreed.websocket(TokioIo::new(upgraded), &[])))
    }
}

/// The WebSocket of an upgrade, over the connection's own type when it
/// could be taken out of hyper's box (from [`UpgradeFuture::downcast`]).
#[derive(Debug)]
pub enum Downcast<T> {
    /// hyper served the connection as `TokioIo<T>`: the WebSocket runs
    /// over `T` itself.
    Direct(WebSocket<T>),
    /// Some other connection type: the WebSocket runs over hyper's boxed
    /// connection.
    Boxed(UpgradedWebSocket),
}

/// Resolves to a [`Downcast`] once hyper has handed the connection over
/// (from [`UpgradeFuture::downcast`]).
///
/// **Cancel safety:** dropping it gives up the connection.
#[derive(Debug)]
#[must_use = "the WebSocket only exists once this future is awaited"]
pub struct DowncastFuture<T> {
    upgrade: UpgradeFuture,
    /// `fn() -> T`: the future holds no `T` until it resolves.
    io: PhantomData<fn() -> T>,
}

impl<T> Future for DowncastFuture<T>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    type Output = Result<Downcast<T>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (upgraded, agreed) = ready!(self.get_mut().upgrade.poll_handover(cx))?;
        // hyper-util's auto builder wraps the connection in a type of its
        // own; hyper's own builders hand it over as it was given.
        let parts = match auto::upgrade::downcast::<TokioIo<T>>(upgraded) {
            Ok(parts) => Ok((parts.io, parts.read_buf)),
            Err(upgraded) => upgraded
                .downcast::<TokioIo<T>>()
                .map(|parts| (parts.io, parts.read_buf)),
        };
        Poll::Ready(Ok(match parts {
            Ok((io, read_past_head)) => {
                Downcast::Direct(agreed.websocket(io.into_inner(), &read_past_head))
            }
            Err(upgraded) => Downcast::Boxed(agreed.websocket(TokioIo::new(upgraded), &[])),
        }))
    }
}

/// hyper's reason for not handing the connection over, with what to check.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP connection was not handed over for the WebSocket ({0}); serve it with hyper's `.with_upgrades()` (axum::serve does) and return the 101 response unchanged")]
struct UpgradeFailed(#[source] hyper::Error);
