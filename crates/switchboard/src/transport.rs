//! Moving bytes between the transport and the protocol core: reads that keep
//! idle memory near zero, vectored writes of the transmit buffer.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use switchboard_proto::Connection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Size of the on-stack buffer used when the connection holds no partial
/// frame. Small messages are copied from here into a right-sized
/// allocation, so an idle connection never holds a read buffer.
pub(crate) const STACK_READ: usize = 8 * 1024;

/// An emptied read buffer larger than this is released rather than kept
/// for the next message.
const MAX_RETAINED_READ: usize = 64 * 1024;

/// Upper bound on slices gathered for one vectored write (Linux `IOV_MAX`
/// is 1024; 64 covers 32 header+payload pairs).
const MAX_SLICES: usize = 64;

/// Without vectored writes, slices smaller than this are copied together so
/// that a batch of small frames still goes out in one `write`.
const COALESCE: usize = 8 * 1024;

/// Reads once from `io` into the connection's receive buffer.
///
/// When the buffer is empty (no partial frame), data lands in a stack buffer
/// and is copied into an allocation of exactly the size read; otherwise it is
/// read straight into the buffer's spare capacity, which grows geometrically
/// while a large frame arrives.
pub(crate) fn poll_read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let buf = conn.read_buf();
    if buf.is_empty() && buf.capacity() < STACK_READ {
        let mut stack = [MaybeUninit::<u8>::uninit(); STACK_READ];
        let mut read_buf = ReadBuf::uninit(&mut stack);
        ready!(Pin::new(io).poll_read(cx, &mut read_buf))?;
        let filled = read_buf.filled();
        if !filled.is_empty() {
            if buf.capacity() == 0 {
                // A fresh allocation of exactly this size: no slack is held
                // by the messages split off it.
                *buf = BytesMut::from(filled);
            } else {
                buf.extend_from_slice(filled);
            }
        }
        return Poll::Ready(Ok(filled.len()));
    }
    if buf.capacity() - buf.len() < STACK_READ / 2 {
        buf.reserve(buf.len().clamp(STACK_READ, 1 << 20));
    }
    tokio_util::io::poll_read_buf(Pin::new(io), cx, buf)
}

/// Reads once and throws the bytes away (after the close handshake or a
/// failure, when nothing more is decoded but the peer's EOF is awaited).
pub(crate) fn poll_read_discard<S: AsyncRead + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let mut stack = [MaybeUninit::<u8>::uninit(); 2048];
    let mut read_buf = ReadBuf::uninit(&mut stack);
    ready!(Pin::new(io).poll_read(cx, &mut read_buf))?;
    Poll::Ready(Ok(read_buf.filled().len()))
}

/// Drops the receive buffer's allocation when it holds no bytes: either it
/// grew large for a big frame, or the connection is about to go idle.
pub(crate) fn release_read_buffer(conn: &mut Connection, going_idle: bool) {
    let buf = conn.read_buf();
    if buf.is_empty() && (buf.capacity() > MAX_RETAINED_READ || (going_idle && buf.capacity() > 0))
    {
        *buf = BytesMut::new();
    }
}

/// One write of as much of the transmit buffer as the transport takes.
/// Frame headers and payloads go out together in one vectored write.
pub(crate) fn poll_write_once<S: AsyncWrite + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let written = {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count = conn.transmit_slices(&mut slices);
        let slices = &slices[..count];
        match slices {
            [] => return Poll::Ready(Ok(())),
            [only] => ready!(Pin::new(&mut *io).poll_write(cx, only))?,
            _ if io.is_write_vectored() => {
                ready!(Pin::new(&mut *io).poll_write_vectored(cx, slices))?
            }
            [first, ..] if first.len() >= COALESCE => {
                ready!(Pin::new(&mut *io).poll_write(cx, first))?
            }
            _ => {
                let mut staging = [0u8; COALESCE];
                let mut len = 0;
                for slice in slices {
                    let take = slice.len().min(COALESCE - len);
                    staging[len..len + take].copy_from_slice(&slice[..take]);
                    len += take;
                    if len == COALESCE {
                        break;
                    }
                }
                ready!(Pin::new(&mut *io).poll_write(cx, &staging[..len]))?
            }
        }
    };
    if written == 0 {
        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
    }
    conn.advance_transmit(written);
    Poll::Ready(Ok(()))
}

/// Writes until the transmit buffer is empty.
pub(crate) fn poll_write_all<S: AsyncWrite + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while conn.transmit_len() > 0 {
        ready!(poll_write_once(io, conn, cx))?;
    }
    Poll::Ready(Ok(()))
}
