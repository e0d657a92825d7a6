//! Moving bytes between the transport and the protocol core: reads into the
//! room the core lends (or through a stack buffer when it lends none), and
//! vectored writes of the transmit buffer. How the receive buffer is sized,
//! grown, charged and released is the core's decision
//! (`switchboard_proto::connection`).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use switchboard_proto::connection::RECEIVE_CHUNK;
use switchboard_proto::Connection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Upper bound on slices gathered for one vectored write (Linux `IOV_MAX`
/// is 1024; 64 covers 32 header+payload pairs).
const MAX_SLICES: usize = 64;

/// Without vectored writes, slices smaller than this are copied together so
/// that a batch of small frames still goes out in one `write`.
const COALESCE: usize = 8 * 1024;

/// Reads once from `io` into the connection: straight into the room it
/// lends (a frame in progress, or large frames flowing), or else into a
/// stack buffer whose bytes it copies into an allocation of their size, so
/// that an idle connection holds no read buffer.
pub(crate) fn poll_read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if let Some(mut space) = conn.receive_space() {
        return tokio_util::io::poll_read_buf(Pin::new(io), cx, &mut space);
    }
    let mut stack = [MaybeUninit::<u8>::uninit(); RECEIVE_CHUNK];
    let mut read_buf = ReadBuf::uninit(&mut stack);
    ready!(Pin::new(io).poll_read(cx, &mut read_buf))?;
    let filled = read_buf.filled();
    conn.receive(filled);
    Poll::Ready(Ok(filled.len()))
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

    async fn read_once<S: AsyncRead + Unpin>(io: &mut S, conn: &mut Connection) -> usize {
        poll_fn(|cx| poll_read_into(io, conn, cx)).await.unwrap()
    }

    /// Reads until the connection yields the next message; the capacity
    /// of the receive buffer after each read.
    async fn next_message<S: AsyncRead + Unpin>(
        io: &mut S,
        conn: &mut Connection,
        capacities: &mut Vec<usize>,
    ) -> Message {
        loop {
            if let Some(Event::Message(message)) = conn.poll_event().unwrap() {
                return message;
            }
            let n = read_once(io, conn).await;
            assert!(n > 0, "unexpected end of stream");
            capacities.push(conn.read_buf().capacity());
        }
    }

    #[tokio::test]
    async fn a_burst_of_small_frames_keeps_reading_through_the_stack() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::new(Role::Server, Config::default());
        let burst: Vec<u8> = (0..100u8).flat_map(|i| client_frame(&[i; 1024])).collect();
        client.write_all(&burst).await.unwrap();
        let mut capacities = Vec::new();
        for i in 0..100u8 {
            let message = next_message(&mut server, &mut conn, &mut capacities).await;
            assert_eq!(message, Message::Binary(vec![i; 1024].into()));
        }
        assert!(
            capacities.iter().all(|&c| c <= RECEIVE_CHUNK),
            "copied in, never a larger buffer: {capacities:?}"
        );
    }

    #[tokio::test]
    async fn large_frames_switch_to_direct_reads_and_small_ones_back() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::new(Role::Server, Config::default());
        let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let frame_len = 200_000 + 14;

        // The first large frame is copied in through the stack buffer; the
        // core sizes its buffer for it and learns that size.
        client.write_all(&client_frame(&large)).await.unwrap();
        let mut capacities = Vec::new();
        let message = next_message(&mut server, &mut conn, &mut capacities).await;
        assert_eq!(message, Message::Binary(large.clone().into()));
        assert!(capacities[0] <= RECEIVE_CHUNK, "{capacities:?}");

        // The next one is read straight into a buffer of that size.
        client.write_all(&client_frame(&large)).await.unwrap();
        let mut capacities = Vec::new();
        let message = next_message(&mut server, &mut conn, &mut capacities).await;
        assert_eq!(message, Message::Binary(large.into()));
        assert_eq!(capacities[0], frame_len, "{capacities:?}");

        // A small message ends direct reads, and is not left holding the
        // large allocation (it would pin 200 KB for as long as it lives).
        client.write_all(&client_frame(b"tiny")).await.unwrap();
        let n = read_once(&mut server, &mut conn).await;
        assert_eq!(n, 4 + 6);
        let message = conn.poll_event().unwrap();
        assert_eq!(
            message,
            Some(Event::Message(Message::Binary(bytes::Bytes::from_static(
                b"tiny"
            ))))
        );
        client.write_all(&client_frame(b"next")).await.unwrap();
        read_once(&mut server, &mut conn).await;
        assert_eq!(conn.read_buf().capacity(), 4 + 6, "copied in again");
    }

    #[tokio::test]
    async fn a_smaller_message_after_large_ones_pins_no_large_buffer() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::new(Role::Server, Config::default());
        let large = vec![0x5a; 200_000];
        let mut capacities = Vec::new();
        for _ in 0..2 {
            client.write_all(&client_frame(&large)).await.unwrap();
            next_message(&mut server, &mut conn, &mut capacities).await;
        }

        // A large frame that arrives in pieces keeps its buffer: the
        // incomplete frame will fill it.
        let frame = client_frame(&large);
        client.write_all(&frame[..1_000]).await.unwrap();
        let n = read_once(&mut server, &mut conn).await;
        assert_eq!(n, 1_000);
        assert!(conn.poll_event().unwrap().is_none());
        assert_eq!(conn.read_buf().capacity(), 200_000 + 14);
        client.write_all(&frame[1_000..]).await.unwrap();
        let message = next_message(&mut server, &mut conn, &mut capacities).await;
        assert_eq!(message, Message::Binary(large.into()));

        // 20 KB: above the stack read, far below the learned size.
        let medium = vec![0xa5; 20_000];
        client.write_all(&client_frame(&medium)).await.unwrap();
        let n = read_once(&mut server, &mut conn).await;
        assert_eq!(n, 20_000 + 8);
        assert!(conn.poll_event().unwrap().is_some());
        client.write_all(&client_frame(&medium)).await.unwrap();
        let n = read_once(&mut server, &mut conn).await;
        assert!(n <= RECEIVE_CHUNK, "copied in again: {n}");
    }
}
