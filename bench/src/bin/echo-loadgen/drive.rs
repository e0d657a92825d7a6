//! The load: one thread, one epoll loop (mio) over every connection. Each
//! connection keeps W frames in flight; the echoes found in a read are
//! counted, timed and (a sample) compared, and their replacements leave in
//! one write of pre-encoded bytes. Nothing is built, masked or allocated
//! per message.

use std::io::{ErrorKind, Read as _, Write as _};
use std::time::{Duration, Instant};

use std::mem::MaybeUninit;

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::SockRef;

use crate::cpu;
use crate::frames::{Batch, Expected};
use crate::options::Options;
use crate::parser::EchoParser;

/// One read's worth: several 64 KiB messages, a quarter of a 1 MiB one,
/// and still within a typical L2 cache. Shared by every connection.
const READ_BUFFER: usize = 256 * 1024;

/// Payloads from this size on are large: their headers are read alone and
/// the payloads of echoes not compared are discarded in the kernel
/// (`MSG_TRUNC`), so the load generator does not copy what it does not
/// look at. Smaller payloads are read in bulk: there syscalls, not copies,
/// are the cost.
const LARGE_PAYLOAD: usize = 16 * 1024;

/// What one run measured over its window.
#[derive(Debug)]
pub struct Outcome {
    /// Length of the measurement window.
    pub window: Duration,
    /// Echoes received and checked in the window.
    pub messages: u64,
    /// Echoes whose content was compared (whole run).
    pub content_checked: u64,
    /// Round-trip times of the window's echoes, in nanoseconds.
    pub latency: Histogram<u64>,
    /// This thread's CPU time in the window.
    pub own_cpu: Option<Duration>,
    /// Of it, polls that found nothing to do (with `spin`).
    pub idle_spin: Duration,
    /// The server's CPU time in the window (with `server_pid`).
    pub server_cpu: Option<Duration>,
    /// Echoes that were wrong (the connection is dropped at the first).
    pub mismatches: u64,
    /// Connections that failed while running.
    pub connection_errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

/// One connection's state.
struct Connection {
    stream: TcpStream,
    parser: EchoParser,
    /// Replacement frames not yet completely written.
    unsent: usize,
    /// Bytes of the first unsent frame already written.
    written: usize,
    /// When each frame in flight was queued, by sequence number modulo W.
    queued_at: Vec<Instant>,
    /// Frames queued so far.
    queued: u64,
    /// Echoes received so far.
    received: u64,
}

/// Everything the event loop shares across connections.
struct Load<'a> {
    batch: &'a Batch,
    expected: &'a Expected,
    in_flight: usize,
    read_buffer: Vec<u8>,
    /// How much a bulk read asks for: the whole buffer, or for large
    /// payloads just an echo's header.
    read_len: usize,
    /// Never read: the kernel discards into it (`MSG_TRUNC` writes nothing).
    discard: Vec<MaybeUninit<u8>>,
    messages: u64,
    measuring: bool,
    latency: Histogram<u64>,
    mismatches: u64,
    connection_errors: u64,
    first_error: Option<String>,
}

/// Applies the load to `streams` (open and handshaken) for the options'
/// warm-up, then measures for their duration.
pub fn run(
    streams: Vec<std::net::TcpStream>,
    batch: &Batch,
    expected: &Expected,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let Options {
        in_flight,
        warmup,
        duration,
        server_pid,
        read_all,
        spin,
        ..
    } = *options;
    // Time spent polling without finding work (with `spin`): idle, not load.
    let mut idle_spin = Duration::ZERO;
    let large = expected.payload.len() >= LARGE_PAYLOAD && !read_all;
    let mut poll = Poll::new()?;
    let mut connections = Vec::with_capacity(streams.len());
    for (index, stream) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        connections.push(Some(Connection {
            stream,
            parser: EchoParser::default(),
            unsent: 0,
            written: 0,
            queued_at: vec![Instant::now(); in_flight],
            queued: 0,
            received: 0,
        }));
    }
    let mut load = Load {
        batch,
        expected,
        in_flight,
        read_buffer: vec![0; READ_BUFFER],
        read_len: if large {
            // The sent frame's header: at least an echo's (a server's
            // frames carry no masking key; raw TCP echoes keep it).
            batch.frame_len() - expected.payload.len()
        } else {
            READ_BUFFER
        },
        discard: if large {
            vec![MaybeUninit::uninit(); READ_BUFFER.max(expected.payload.len())]
        } else {
            Vec::new()
        },
        messages: 0,
        measuring: false,
        latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)?,
        mismatches: 0,
        connection_errors: 0,
        first_error: None,
    };
    let now = Instant::now();
    for slot in &mut connections {
        let connection = slot.as_mut().expect("all open at the start");
        load.queue(connection, in_flight, now);
        load.write(slot);
    }

    let window_start = Instant::now() + warmup;
    let window_end = window_start + duration;
    let mut events = Events::with_capacity(1024);
    let mut start: Option<(Instant, u64, Option<Duration>, Option<Duration>)> = None;
    loop {
        let now = Instant::now();
        if start.is_none() && now >= window_start {
            load.measuring = true;
            start = Some((
                now,
                load.messages,
                cpu::own(),
                server_pid.and_then(cpu::process),
            ));
        }
        if now >= window_end {
            break;
        }
        let next = if start.is_none() {
            window_start
        } else {
            window_end
        };
        let timeout = if spin { Duration::ZERO } else { next - now };
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        }
        if spin && events.is_empty() {
            if load.measuring {
                idle_spin += now.elapsed();
            }
            continue;
        }
        for event in events.iter() {
            let slot = &mut connections[event.token().0];
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                load.read(slot);
            }
            load.write(slot);
        }
        if connections.iter().all(Option::is_none) {
            break;
        }
    }
    let (started, messages_before, own_before, server_before) =
        start.unwrap_or((Instant::now(), load.messages, None, None));
    let window = started.elapsed();
    let own_cpu = cpu::own()
        .zip(own_before)
        .map(|(after, before)| after - before);
    let server_cpu = server_pid
        .and_then(cpu::process)
        .zip(server_before)
        .map(|(after, before)| after.saturating_sub(before));
    let content_checked = connections
        .iter()
        .flatten()
        .map(|connection| connection.parser.checked())
        .sum();
    Ok(Outcome {
        window,
        messages: load.messages - messages_before,
        content_checked,
        latency: load.latency,
        own_cpu,
        idle_spin,
        server_cpu,
        mismatches: load.mismatches,
        connection_errors: load.connection_errors,
        first_error: load.first_error,
    })
}

impl Load<'_> {
    /// Queues `frames` more frames on `connection`, stamped `now`.
    fn queue(&self, connection: &mut Connection, frames: usize, now: Instant) {
        for _ in 0..frames {
            connection.queued_at[(connection.queued % self.in_flight as u64) as usize] = now;
            connection.queued += 1;
        }
        connection.unsent += frames;
    }

    /// Reads until the socket is drained, checks and counts the echoes, and
    /// queues their replacements.
    fn read(&mut self, slot: &mut Option<Connection>) {
        let Some(connection) = slot.as_mut() else {
            return;
        };
        let now = Instant::now();
        loop {
            let skippable = connection.parser.skippable();
            if skippable > 0 && !self.discard.is_empty() {
                let want = self.discard.len().min(skippable as usize);
                let n = match SockRef::from(&connection.stream)
                    .recv_with_flags(&mut self.discard[..want], libc::MSG_TRUNC)
                {
                    Ok(0) => {
                        return self.fail(slot, "the server closed the connection".into(), false)
                    }
                    Ok(n) => n,
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                    Err(error) => return self.fail(slot, format!("reading: {error}"), false),
                };
                let echoes = connection.parser.skip(n as u64);
                self.echoes_arrived(connection, echoes, now);
                if n < want {
                    break;
                }
                continue;
            }
            // A compared payload is read in bulk, up to its end.
            let compared = connection.parser.compared_left() as usize;
            let read_len = if compared > 0 {
                compared.min(READ_BUFFER)
            } else {
                self.read_len
            };
            let n = match connection.stream.read(&mut self.read_buffer[..read_len]) {
                Ok(0) => return self.fail(slot, "the server closed the connection".into(), false),
                Ok(n) => n,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return self.fail(slot, format!("reading: {error}"), false),
            };
            let echoes = match connection
                .parser
                .feed(&self.read_buffer[..n], self.expected)
            {
                Ok(echoes) => echoes,
                Err(fault) => return self.fail(slot, fault.to_string(), true),
            };
            self.echoes_arrived(connection, echoes, now);
            // A short read drained the socket: the next arrival is a new
            // readiness edge, so no read is spent on EAGAIN.
            if n < read_len {
                break;
            }
        }
    }

    /// Counts and times `echoes` complete echoes and queues their replacements.
    fn echoes_arrived(&mut self, connection: &mut Connection, echoes: u64, now: Instant) {
        for _ in 0..echoes {
            if self.measuring {
                let sent =
                    connection.queued_at[(connection.received % self.in_flight as u64) as usize];
                self.latency
                    .saturating_record(now.duration_since(sent).as_nanos() as u64);
            }
            connection.received += 1;
        }
        self.messages += echoes;
        self.queue(connection, echoes as usize, now);
    }

    /// Writes as much of the unsent frames as the socket takes, in one
    /// write when it takes them all.
    fn write(&mut self, slot: &mut Option<Connection>) {
        let Some(connection) = slot.as_mut() else {
            return;
        };
        let frame_len = self.batch.frame_len();
        while connection.unsent > 0 {
            let pending = self.batch.pending(connection.unsent, connection.written);
            match connection.stream.write(pending) {
                Ok(n) => {
                    let done = connection.written + n;
                    connection.unsent -= done / frame_len;
                    connection.written = done % frame_len;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return self.fail(slot, format!("writing: {error}"), false),
            }
        }
    }

    /// Drops a connection after a failure; a wrong echo also counts as a mismatch.
    fn fail(&mut self, slot: &mut Option<Connection>, error: String, mismatch: bool) {
        if mismatch {
            self.mismatches += 1;
        } else {
            self.connection_errors += 1;
        }
        self.first_error.get_or_insert(error);
        *slot = None;
    }
}
