//! [`MaybeTlsStream`]: one stream type for `ws://` and `wss://`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{ClientTlsStream, ServerTlsStream};

/// A transport that is either plain or TLS, in either role, so a
/// `WebSocket<MaybeTlsStream<TcpStream>>` covers `ws://` and `wss://`.
///
/// The TLS variants are boxed: a rustls connection holds several kilobytes
/// of state, and boxing keeps plain connections from paying for it.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// No TLS (`ws://`).
    Plain(S),
    /// TLS, client role (`wss://` from [`wrap_client`](super::wrap_client)).
    ClientTls(Box<ClientTlsStream<S>>),
    /// TLS, server role (from [`TlsAcceptor::accept`](super::TlsAcceptor::accept)).
    ServerTls(Box<ServerTlsStream<S>>),
}

impl<S> MaybeTlsStream<S> {
    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }

    /// The underlying transport (for peer addresses, socket options).
    pub fn get_ref(&self) -> &S {
        match self {
            Self::Plain(stream) => stream,
            Self::ClientTls(stream) => stream.get_ref().0,
            Self::ServerTls(stream) => stream.get_ref().0,
        }
    }

    /// The ALPN protocol the TLS handshake agreed on, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            Self::Plain(_) => None,
            Self::ClientTls(stream) => stream.get_ref().1.alpn_protocol(),
            Self::ServerTls(stream) => stream.get_ref().1.alpn_protocol(),
        }
    }
}

impl<S> From<ClientTlsStream<S>> for MaybeTlsStream<S> {
    fn from(stream: ClientTlsStream<S>) -> Self {
        Self::ClientTls(Box::new(stream))
    }
}

impl<S> From<ServerTlsStream<S>> for MaybeTlsStream<S> {
    fn from(stream: ServerTlsStream<S>) -> Self {
        Self::ServerTls(Box::new(stream))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::ClientTls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
            Self::ServerTls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::ClientTls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
            Self::ServerTls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::ClientTls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
            Self::ServerTls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::ClientTls(stream) => stream.is_write_vectored(),
            Self::ServerTls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::ClientTls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
            Self::ServerTls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::ClientTls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
            Self::ServerTls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
