//! The per-connection load loop: keep `in_flight` messages outstanding,
//! check each echo, and send the next message for each one received.
//!
//! The loop is written for throughput on one core. It reads with one
//! `try_read` per readiness event into a reused buffer, decodes every echo
//! in that buffer, queues the replacements, and sends them all with one
//! vectored write. Reads and writes are driven by readiness for both
//! directions at once, so a large message that fills the socket buffers in
//! one direction never deadlocks against the other.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Instant;

use anyhow::bail;
use bytes::{BufMut, BytesMut};
use switchboard_proto::Connection;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::bench::payload::Pattern;
use crate::bench::stats::Stats;
use crate::bench::wire::Wire;

/// Bounds on the receive-buffer headroom reserved before each read, which
/// is sized to the echoes a connection can have outstanding. Enough room
/// means few syscalls per message; more than that is only memory to walk
/// through: with 1,000 connections, 64 KiB each made the load generator
/// spend a fifth of its time faulting in and missing cache on 64 MB of
/// buffers for 16-byte messages. The buffer is reused once its echoes are
/// dropped.
const MIN_READ_CHUNK: usize = 4 * 1024;
const MAX_READ_CHUNK: usize = 64 * 1024;

/// Bytes a frame header adds to a payload, at most (RFC 6455 §5.2).
const MAX_FRAME_HEADER: usize = 14;

/// Slices handed to one vectored write.
const MAX_WRITE_SLICES: usize = 64;

/// Runs the load on one connection until the socket fails or the task is
/// aborted at the end of the run.
pub(crate) async fn drive(
    stream: TcpStream,
    mut wire: impl Wire,
    stats: &Stats,
    pattern: &Pattern,
    in_flight: usize,
) -> anyhow::Result<()> {
    // Sequence numbers and send times of the messages awaiting their echo;
    // echoes come back in order, so the front is always the next one due.
    let mut outstanding: VecDeque<(u64, Instant)> = VecDeque::with_capacity(in_flight);
    let mut next_seq = 0u64;
    let frame_len = pattern.size() + MAX_FRAME_HEADER;
    let read_chunk = ReadChunk {
        usual: frame_len
            .saturating_mul(in_flight)
            .clamp(MIN_READ_CHUNK, MAX_READ_CHUNK),
        frame: frame_len,
    };
    let now = Instant::now();
    for _ in 0..in_flight {
        wire.queue(pattern, next_seq)?;
        outstanding.push_back((next_seq, now));
        next_seq += 1;
    }
    loop {
        write_without_waiting(&stream, &mut wire)?;
        let interest = if wire.transmit_len() > 0 {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let ready = stream.ready(interest).await?;
        if !ready.is_readable() {
            continue;
        }
        match read_once(&stream, wire.read_room(), read_chunk) {
            Ok(0) => bail!("the server closed the TCP connection"),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error.into()),
        }
        let now = Instant::now();
        while let Some(echo) = wire.next_echo()? {
            let Some((seq, sent_at)) = outstanding.pop_front() else {
                // More echoes than messages sent.
                stats.record_echo(false, echo.payload.len(), std::time::Duration::ZERO);
                continue;
            };
            let verified = echo.matches(pattern, seq);
            stats.record_echo(verified, echo.payload.len(), now - sent_at);
            drop(echo);
            wire.queue(pattern, next_seq)?;
            outstanding.push_back((next_seq, now));
            next_seq += 1;
        }
    }
}

/// How much room a read needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadChunk {
    /// Headroom for one read: about the bytes of all outstanding echoes.
    pub usual: usize,
    /// One echo frame on the wire.
    pub frame: usize,
}

/// One read into `buffer` (after making room as `chunk` says). A short read proves the
/// socket's receive queue was empty at that moment, so readiness is
/// cleared right away, as tokio's own `poll_read` does on epoll/kqueue:
/// that saves the extra `read` that would only return `WouldBlock` before
/// the task sleeps, a third of the syscalls per message at one in flight.
/// tokio clears only the readiness event the read observed, so data that
/// arrives meanwhile still wakes the task.
pub(crate) fn read_once(
    stream: &TcpStream,
    buffer: &mut impl ReadRoom,
    chunk: ReadChunk,
) -> io::Result<usize> {
    // Frames larger than the usual read get room for a whole echo, so the
    // buffer never grows (and copies) while one arrives.
    let (len, capacity) = buffer.len_and_capacity();
    let whole_frame_short = chunk.frame > chunk.usual && capacity < chunk.frame;
    let additional = if whole_frame_short || capacity - len < chunk.usual / 2 {
        chunk.frame.saturating_sub(len).max(chunk.usual)
    } else {
        0
    };
    let mut room = buffer.room(additional);
    let spare = room.chunk_mut().len();
    let mut outcome = None;
    let _ = stream.try_io(Interest::READABLE, || {
        let result = stream.try_read_buf(&mut room);
        let drained = matches!(result, Ok(n) if n > 0 && n < spare);
        let would_block =
            matches!(&result, Err(error) if error.kind() == io::ErrorKind::WouldBlock);
        outcome = Some(result);
        if drained || would_block {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    });
    outcome.unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
}

/// A receive buffer that a read appends to: a plain `BytesMut`, or the room
/// a WebSocket connection lends for it.
pub(crate) trait ReadRoom {
    /// Bytes held and the capacity they sit in.
    fn len_and_capacity(&self) -> (usize, usize);

    /// Room to append at least `additional` more bytes to.
    fn room(&mut self, additional: usize) -> impl BufMut + '_;
}

impl ReadRoom for BytesMut {
    fn len_and_capacity(&self) -> (usize, usize) {
        (self.len(), self.capacity())
    }

    fn room(&mut self, additional: usize) -> impl BufMut + '_ {
        self.reserve(additional);
        self
    }
}

impl ReadRoom for Connection {
    fn len_and_capacity(&self) -> (usize, usize) {
        (self.read_buf().len(), self.read_buf().capacity())
    }

    fn room(&mut self, additional: usize) -> impl BufMut + '_ {
        self.receive_space_with(additional)
    }
}

/// Writes as much of the transmit buffer as the socket takes right now,
/// each time with one vectored write of everything pending.
fn write_without_waiting(stream: &TcpStream, wire: &mut impl Wire) -> io::Result<()> {
    while wire.transmit_len() > 0 {
        let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
        let filled = wire.transmit_slices(&mut slices);
        let written = match stream.try_write_vectored(&slices[..filled]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) => return Err(error),
        };
        wire.advance_transmit(written);
    }
    Ok(())
}
