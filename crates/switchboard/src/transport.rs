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
///
/// 16 KiB, not 8: eight 1 KiB frames in flight are 8,240 bytes on the wire,
/// and an 8 KiB read split the eighth, costing two more reads and a copy of
/// its first part for every batch (the benchmark's 1 KiB echo ran 26%
/// faster at 16 KiB, same run, with 16 B and 64 KiB unchanged). Messages
/// split off one read share its allocation, so a retained small message
/// keeps at most this much alive.
pub(crate) const STACK_READ: usize = 16 * 1024;

/// An emptied read buffer larger than this is released rather than kept
/// for the next message.
const MAX_RETAINED_READ: usize = 64 * 1024;

/// Upper bound on slices gathered for one vectored write (Linux `IOV_MAX`
/// is 1024; 64 covers 32 header+payload pairs).
const MAX_SLICES: usize = 64;

/// Without vectored writes, slices smaller than this are copied together so
/// that a batch of small frames still goes out in one `write`.
const COALESCE: usize = 8 * 1024;

/// Largest allocation a read starts a message with when large frames are
/// flowing (4 MiB of payload and its header); bigger frames grow the buffer
/// as they arrive. Only a frame that passed the limits sets the size.
const MAX_DIRECT_READ: usize = (4 << 20) + 16;

/// What the reads have learned about the traffic: whether frames are large
/// enough that a new message is better read straight into a heap buffer of
/// about its size (one read per message, no staging copy) than into the
/// stack buffer first.
#[derive(Debug, Default)]
pub(crate) struct ReadSizing {
    /// Capacity to start a message's buffer with; 0 while frames are small.
    /// At most `MAX_DIRECT_READ`, so 32 bits hold it, and beside the
    /// driver's flags it adds nothing to an idle connection's size.
    direct: u32,
}

/// Reads once from `io` into the connection's receive buffer.
///
/// When the buffer is empty (no partial frame) and frames have been small,
/// data lands in a stack buffer and is copied into an allocation of exactly
/// the size read, so an idle connection holds no read buffer and a small
/// message holds no slack. While large frames flow, a new message is read
/// straight into an allocation of about the last large frame's size.
/// Otherwise (a partial frame) it is read straight into the buffer's spare
/// capacity, which the protocol core grows to the frame's declared length.
pub(crate) fn poll_read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    sizing: &mut ReadSizing,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let buf = conn.read_buf();
    if buf.is_empty() && buf.capacity() < STACK_READ {
        if sizing.direct as usize > STACK_READ {
            return poll_read_direct(io, conn, sizing, cx);
        }
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
    if let Some(frame_len) = conn.incomplete_frame_len() {
        if frame_len > STACK_READ {
            // A frame larger than the stack buffer is arriving: start the
            // next message at that size.
            sizing.direct = u32::try_from(frame_len.min(MAX_DIRECT_READ)).unwrap_or(u32::MAX);
        }
    }
    let buf = conn.read_buf();
    if buf.capacity() - buf.len() < STACK_READ / 2 {
        buf.reserve(buf.len().clamp(STACK_READ, 1 << 20));
    }
    tokio_util::io::poll_read_buf(Pin::new(io), cx, buf)
}

/// Starts a message by reading straight into a fresh heap buffer of the
/// learned size.
fn poll_read_direct<S: AsyncRead + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    sizing: &mut ReadSizing,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let buf = conn.read_buf();
    if buf.capacity() < sizing.direct as usize {
        *buf = BytesMut::with_capacity(sizing.direct as usize);
    }
    let n = ready!(tokio_util::io::poll_read_buf(Pin::new(io), cx, buf))?;
    if n > 0 {
        shrink_if_oversized(conn, sizing);
    }
    Poll::Ready(Ok(n))
}

/// After a direct read: unless the buffer is at least half used by what it
/// holds or by the incomplete frame that will fill it, the traffic has
/// turned smaller, so the bytes move to an exact-size allocation and reads
/// go back to the stack buffer. Messages are split off the buffer without
/// copying and live as long as the application keeps them, so this bounds
/// what a message can pin to twice its size: a peer cannot make small
/// messages hold buffers sized for its earlier large ones.
fn shrink_if_oversized(conn: &mut Connection, sizing: &mut ReadSizing) {
    let needed = conn.incomplete_frame_len().unwrap_or(0);
    let buf = conn.read_buf();
    if needed.max(buf.len()) < buf.capacity() / 2 {
        sizing.direct = 0;
        *buf = BytesMut::from(&buf[..]);
    }
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

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use switchboard_proto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    use switchboard_proto::mask::apply_mask;
    use switchboard_proto::{Config, Event, Message, Role};
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    fn client_frame(payload: &[u8]) -> Vec<u8> {
        let key = [7, 1, 9, 3];
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some(key),
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let mut frame = head[..n].to_vec();
        frame.extend_from_slice(payload);
        apply_mask(&mut frame[n..], key);
        frame
    }

    /// Reads until the connection yields the next message.
    async fn next_message<S: AsyncRead + Unpin>(
        io: &mut S,
        conn: &mut Connection,
        sizing: &mut ReadSizing,
    ) -> Message {
        loop {
            if let Some(Event::Message(message)) = conn.poll_event().unwrap() {
                return message;
            }
            let n = poll_fn(|cx| poll_read_into(io, conn, sizing, cx))
                .await
                .unwrap();
            assert!(n > 0, "unexpected end of stream");
        }
    }

    #[tokio::test]
    async fn a_burst_of_small_frames_keeps_reading_through_the_stack() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut sizing = ReadSizing::default();
        let burst: Vec<u8> = (0..100u8).flat_map(|i| client_frame(&[i; 1024])).collect();
        client.write_all(&burst).await.unwrap();
        for i in 0..100u8 {
            let message = next_message(&mut server, &mut conn, &mut sizing).await;
            assert_eq!(message, Message::Binary(vec![i; 1024].into()));
            assert_eq!(sizing.direct, 0, "message {i}");
        }
    }

    #[tokio::test]
    async fn large_frames_switch_to_direct_reads_and_small_ones_back() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut sizing = ReadSizing::default();
        let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

        // The first large frame is staged through the stack buffer; the
        // core sizes the buffer for it, and reads learn that size.
        client.write_all(&client_frame(&large)).await.unwrap();
        let message = next_message(&mut server, &mut conn, &mut sizing).await;
        assert_eq!(message, Message::Binary(large.clone().into()));
        assert_eq!(sizing.direct, 200_000 + 14);

        // The next one is read straight into a buffer of that size.
        client.write_all(&client_frame(&large)).await.unwrap();
        let message = next_message(&mut server, &mut conn, &mut sizing).await;
        assert_eq!(message, Message::Binary(large.into()));
        assert_eq!(sizing.direct, 200_000 + 14);

        // A small message ends direct reads, and is not left holding the
        // large allocation (it would pin 200 KB for as long as it lives).
        client.write_all(&client_frame(b"tiny")).await.unwrap();
        let n = poll_fn(|cx| poll_read_into(&mut server, &mut conn, &mut sizing, cx))
            .await
            .unwrap();
        assert_eq!(n, 4 + 6);
        assert_eq!(sizing.direct, 0);
        assert_eq!(conn.read_buf().capacity(), n);
        let message = next_message(&mut server, &mut conn, &mut sizing).await;
        assert_eq!(message, Message::Binary(bytes::Bytes::from_static(b"tiny")));
    }

    #[tokio::test]
    async fn a_smaller_message_after_large_ones_pins_no_large_buffer() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut sizing = ReadSizing::default();
        let large = vec![0x5a; 200_000];
        for _ in 0..2 {
            client.write_all(&client_frame(&large)).await.unwrap();
            next_message(&mut server, &mut conn, &mut sizing).await;
        }
        assert_eq!(sizing.direct, 200_000 + 14);

        // A large frame that arrives in pieces keeps its buffer: the
        // incomplete frame will fill it.
        let frame = client_frame(&large);
        client.write_all(&frame[..1_000]).await.unwrap();
        let n = poll_fn(|cx| poll_read_into(&mut server, &mut conn, &mut sizing, cx))
            .await
            .unwrap();
        assert_eq!(n, 1_000);
        assert_eq!(sizing.direct, 200_000 + 14);
        assert_eq!(conn.read_buf().capacity(), 200_000 + 14);
        client.write_all(&frame[1_000..]).await.unwrap();
        let message = next_message(&mut server, &mut conn, &mut sizing).await;
        assert_eq!(message, Message::Binary(large.into()));

        // 20 KB: above the stack read, far below the learned size.
        let medium = vec![0xa5; 20_000];
        client.write_all(&client_frame(&medium)).await.unwrap();
        let n = poll_fn(|cx| poll_read_into(&mut server, &mut conn, &mut sizing, cx))
            .await
            .unwrap();
        assert_eq!(n, 20_000 + 8);
        assert_eq!(sizing.direct, 0);
        assert_eq!(conn.read_buf().capacity(), n, "copied to an exact size");
        let message = next_message(&mut server, &mut conn, &mut sizing).await;
        assert_eq!(message, Message::Binary(medium.into()));
    }
}
