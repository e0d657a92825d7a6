//! The transmit side: frame encoding, masking, fragmentation and the queue
//! the driver drains with vectored writes.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::{Connection, State};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::extend_masked;
use crate::{CloseFrame, DataKind, Encoded, FragmentOrder, Message, Role, SendError};

/// Payloads at least this long are queued as their own chunk (no copy)
/// when they need no masking; shorter ones are copied next to their header
/// so that many small frames leave in one contiguous write.
const ZERO_COPY_MIN: usize = 4 * 1024;
/// A drained coalescing buffer above this capacity is released.
const IDLE_TRANSMIT_CAPACITY: usize = 64 * 1024;
/// Random bytes fetched per `getrandom` call: 64 mask keys.
const MASK_POOL: usize = 256;
/// Most automatic pongs waiting in the transmit buffer. Beyond this the
/// peer is not reading, and newer pings share one held-back pong (see
/// [`PongBacklog`]). Above Autobahn 2.10's burst of 10 pings, so a burst
/// read in one go is still answered ping for ping.
pub(super) const MAX_QUEUED_PONGS: usize = 16;

/// Bytes waiting to be written: frozen chunks first, then the coalescing
/// buffer that small frames are appended to.
#[derive(Debug, Default)]
pub(super) struct TransmitQueue {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
    /// Total bytes ever queued / written: positions in the output stream.
    queued: u64,
    written: u64,
}

impl TransmitQueue {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn queued(&self) -> u64 {
        self.queued
    }

    pub(super) fn written(&self) -> u64 {
        self.written
    }

    /// Appends one frame; the payload is copied (and masked) into the
    /// coalescing buffer.
    fn push_frame(&mut self, header: &FrameHeader, payload: &[u8]) {
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.tail.reserve(head_len + payload.len());
        self.tail.extend_from_slice(&head[..head_len]);
        match header.mask {
            // RFC 6455 §5.3: a client masks every frame with a fresh key.
            Some(key) => extend_masked(&mut self.tail, payload, key),
            None => self.tail.extend_from_slice(payload),
        }
        self.account(head_len + payload.len());
    }

    /// Appends one frame, keeping a large unmasked payload as its own chunk
    /// so it is written straight from the caller's buffer.
    fn push_frame_bytes(&mut self, header: &FrameHeader, payload: Bytes) {
        if header.mask.is_some() || payload.len() < ZERO_COPY_MIN {
            self.push_frame(header, &payload);
            return;
        }
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.tail.extend_from_slice(&head[..head_len]);
        let before = self.tail.split().freeze();
        self.chunks.push_back(before);
        let payload_len = payload.len();
        self.chunks.push_back(payload);
        self.account(head_len + payload_len);
    }

    fn account(&mut self, n: usize) {
        self.len += n;
        self.queued += n as u64;
    }

    pub(super) fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let sources = self
            .chunks
            .iter()
            .map(|chunk| &chunk[..])
            .chain(std::iter::once(&self.tail[..]))
            .filter(|slice| !slice.is_empty());
        let mut filled = 0;
        for (slot, slice) in dst.iter_mut().zip(sources) {
            *slot = IoSlice::new(slice);
            filled += 1;
        }
        filled
    }

    pub(super) fn advance(&mut self, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        self.written += n as u64;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(chunk) if chunk.len() <= n => {
                    n -= chunk.len();
                    self.chunks.pop_front();
                }
                Some(chunk) => {
                    chunk.advance(n);
                    n = 0;
                }
                None => {
                    self.tail.advance(n);
                    n = 0;
                }
            }
        }
        if self.len == 0 && self.tail.capacity() > IDLE_TRANSMIT_CAPACITY {
            self.tail = BytesMut::new();
        }
    }

    /// Drops the coalescing buffer once everything has been written (the
    /// connection is idle); at capacity 0 too, since a buffer written to
    /// its end still holds its allocation.
    #[cfg(test)]
    pub(super) fn tail_capacity(&self) -> usize {
        self.tail.capacity()
    }

    pub(super) fn release_if_drained(&mut self) {
        if self.len == 0 {
            self.tail = BytesMut::new();
        }
    }
}

/// Automatic pongs not yet written, so that a peer that sends pings but never
/// reads cannot grow the transmit buffer without bound.
///
/// RFC 6455 §5.5.3: an endpoint that has not yet sent the pongs for earlier
/// pings MAY answer only the most recently processed ping. Up to
/// [`MAX_QUEUED_PONGS`] pongs are queued as usual; a ping that arrives
/// while that many are unwritten is answered by a single held pong, which
/// each newer ping replaces and which is queued as soon as one of the
/// queued pongs has been written (or right before a close frame).
#[derive(Debug, Default)]
pub(super) struct PongBacklog {
    /// Transmit-stream positions just past each queued automatic pong that
    /// is not fully written yet, oldest first.
    queued_ends: VecDeque<u64>,
    /// Payload of the newest ping while the queue is full. A copy, so that
    /// it does not keep a large read buffer alive.
    pub(super) held: Option<Bytes>,
}

/// Mask keys from the OS CSPRNG (RFC 6455 §5.3 asks for unpredictable
/// keys), fetched in batches so that sending is not one syscall per frame.
#[derive(Debug)]
pub(super) struct MaskKeys {
    /// Allocated on first use: servers never mask.
    pool: Option<Box<MaskPool>>,
}

/// A batch of random bytes and how far it has been used. The position lives
/// in the allocation too, so a server's connection (which never masks)
/// carries one pointer for all of this.
#[derive(Debug)]
struct MaskPool {
    bytes: [u8; MASK_POOL],
    next: usize,
}

impl MaskKeys {
    pub(super) fn new() -> Self {
        MaskKeys { pool: None }
    }

    fn next_key(&mut self) -> [u8; 4] {
        let pool = self.pool.get_or_insert_with(|| {
            Box::new(MaskPool {
                bytes: [0; MASK_POOL],
                next: MASK_POOL,
            })
        });
        if pool.next + 4 > MASK_POOL {
            // Failure means the OS has no entropy source at all; sending
            // predictable masks would defeat their purpose (proxy cache
            // poisoning, RFC 6455 §10.3), so stop instead.
            getrandom::fill(&mut pool.bytes[..])
                .expect("the OS random number generator failed; mask keys cannot be made");
            pool.next = 0;
        }
        let at = pool.next;
        pool.next += 4;
        [
            pool.bytes[at],
            pool.bytes[at + 1],
            pool.bytes[at + 2],
            pool.bytes[at + 3],
        ]
    }
}

/// Send-side message state.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    /// The streamed message in progress, if any.
    open: Option<OpenMessage>,
}

#[derive(Debug)]
struct OpenMessage {
    kind: DataKind,
    /// The extension transforms this message (its first piece was not
    /// passed through).
    transformed: bool,
    /// The extension transformed the first piece: the message counts as
    /// compressed in [`crate::Stats`].
    compressed: bool,
}

fn data_opcode(kind: DataKind) -> OpCode {
    match kind {
        DataKind::Text => OpCode::Text,
        DataKind::Binary => OpCode::Binary,
    }
}

impl Connection {
    pub(super) fn send_message(&mut self, message: Message) -> Result<(), SendError> {
        match message {
            Message::Text(text) => self.send_whole(DataKind::Text, text.into_bytes()),
            Message::Binary(data) => self.send_whole(DataKind::Binary, data),
            Message::Ping(data) => self.send_control(OpCode::Ping, data),
            Message::Pong(data) => self.send_control(OpCode::Pong, data),
            // The close timer starts at the latest time the driver gave.
            Message::Close(frame) => self.start_close(self.timers.now(), frame),
        }
    }

    fn ensure_open(&self) -> Result<(), SendError> {
        // RFC 6455 §5.5.1: after sending a close frame, no more data frames.
        if self.state == State::Open {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    fn send_whole(&mut self, kind: DataKind, payload: Bytes) -> Result<(), SendError> {
        self.ensure_open()?;
        if self.outgoing.open.is_some() {
            return Err(FragmentOrder::WholeMessageDuringStream.into());
        }
        let (rsv, payload, transformed) = match self.encode_piece(kind, &payload, true, true)? {
            Encoded::PassThrough => (0, payload, false),
            Encoded::Transformed { rsv, payload } => (rsv, payload, true),
        };
        self.queue_data(data_opcode(kind), rsv, payload, true);
        self.counters.message_sent(transformed);
        Ok(())
    }

    pub(super) fn send_piece(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Result<(), SendError> {
        self.ensure_open()?;
        // RFC 6455 §5.4: fragments of one message are not interleaved with
        // another message's.
        let transformed = match (&self.outgoing.open, first) {
            (Some(_), true) => return Err(FragmentOrder::StartDuringStream.into()),
            (None, false) => return Err(FragmentOrder::ContinuationWithoutStart.into()),
            (Some(open), false) if open.kind != kind => {
                return Err(FragmentOrder::KindChanged.into())
            }
            (Some(open), false) => open.transformed,
            (None, true) => true,
        };
        let (rsv, payload, transformed) = if transformed {
            match self.encode_piece(kind, &payload, first, fin)? {
                Encoded::PassThrough => (0, payload, false),
                Encoded::Transformed { rsv, payload } => (rsv, payload, true),
            }
        } else {
            (0, payload, false)
        };
        let (opcode, rsv) = if first {
            (data_opcode(kind), rsv)
        } else {
            (OpCode::Continuation, 0)
        };
        self.queue_data(opcode, rsv, payload, fin);
        // The first piece decides whether the message counts as
        // compressed: it is the one whose frame carries the RSV bits.
        let compressed = match &self.outgoing.open {
            Some(open) if !first => open.compressed,
            _ => transformed,
        };
        if fin {
            self.counters.message_sent(compressed);
        }
        self.outgoing.open = (!fin).then_some(OpenMessage {
            kind,
            transformed,
            compressed,
        });
        Ok(())
    }

    fn encode_piece(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        first: bool,
        fin: bool,
    ) -> Result<Encoded, SendError> {
        match self.extension.as_mut() {
            Some(extension) => extension
                .encode(kind, payload, first, fin)
                .map_err(SendError::Extension),
            None => Ok(Encoded::PassThrough),
        }
    }

    /// Queues a data payload as one or more frames of at most
    /// `Config::max_outgoing_frame_size` bytes. `rsv` goes on the first.
    fn queue_data(&mut self, first_opcode: OpCode, rsv: u8, mut payload: Bytes, fin: bool) {
        let max = self
            .settings
            .config
            .max_outgoing_frame_size
            .unwrap_or(usize::MAX)
            .max(1);
        let mut opcode = first_opcode;
        let mut rsv = rsv;
        loop {
            let piece = if payload.len() > max {
                payload.split_to(max)
            } else {
                std::mem::take(&mut payload)
            };
            let last = payload.is_empty();
            self.queue_frame_bytes(opcode, fin && last, rsv, piece);
            if last {
                return;
            }
            opcode = OpCode::Continuation;
            rsv = 0;
        }
    }

    fn mask_key(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.masks.next_key()),
            Role::Server => None,
        }
    }

    fn header(&mut self, opcode: OpCode, fin: bool, rsv: u8, len: usize) -> FrameHeader {
        FrameHeader {
            fin,
            rsv,
            opcode,
            mask: self.mask_key(),
            payload_len: len as u64,
        }
    }

    // Every frame we send passes through one of these two, so they feed the
    // keepalive's "nothing sent for ping_interval" rule (see `timers`).
    fn queue_frame_bytes(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: Bytes) {
        let header = self.header(opcode, fin, rsv, payload.len());
        self.transmit.push_frame_bytes(&header, payload);
        self.timers.frame_queued();
    }

    fn queue_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        let header = self.header(opcode, true, 0, payload.len());
        self.transmit.push_frame(&header, payload);
        self.timers.frame_queued();
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        self.ensure_open()?;
        // RFC 6455 §5.5: control frame payloads are at most 125 bytes.
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlFrameTooLong(payload.len()));
        }
        self.queue_frame(opcode, &payload);
        Ok(())
    }

    /// Whether a ping received now gets a pong.
    ///
    /// RFC 6455 §5.5.2: an endpoint MUST answer a ping unless it already
    /// received a close frame. Our own close does not stop the answers: a
    /// pong is a control frame, and §5.5.1 forbids only *data* frames after
    /// a close frame, so pongs may follow ours on the wire. After the
    /// peer's close, a failure or the end of the stream the state is
    /// `CloseReceived` or `Closed`.
    pub(super) fn answers_pings(&self) -> bool {
        matches!(self.state, State::Open | State::CloseSent)
    }

    /// Answers a ping (RFC 6455 §5.5.2), or holds the answer back while
    /// [`MAX_QUEUED_PONGS`] earlier answers are still unwritten (§5.5.3).
    pub(super) fn queue_pong(&mut self, payload: &[u8]) {
        let backlog_full = self
            .pongs
            .as_deref_mut()
            .filter(|pongs| pongs.queued_ends.len() >= MAX_QUEUED_PONGS);
        if let Some(pongs) = backlog_full {
            pongs.held = Some(Bytes::copy_from_slice(payload));
            return;
        }
        self.queue_auto_pong(payload);
    }

    fn queue_auto_pong(&mut self, payload: &[u8]) {
        self.queue_frame(OpCode::Pong, payload);
        let end = self.transmit.queued();
        self.pongs
            .get_or_insert_with(Box::default)
            .queued_ends
            .push_back(end);
    }

    /// Forgets the automatic pongs written so far and queues the held pong
    /// once there is room for it. Called after each write.
    pub(super) fn pongs_written(&mut self) {
        let written = self.transmit.written();
        let answers_pings = self.answers_pings();
        let Some(pongs) = self.pongs.as_deref_mut() else {
            return;
        };
        while pongs.queued_ends.front().is_some_and(|&end| end <= written) {
            pongs.queued_ends.pop_front();
        }
        if !answers_pings {
            // After the peer's close nothing is answered any more (a held
            // pong was queued ahead of our echo), and after a failure or the
            // end of the stream nothing can be.
            pongs.held = None;
        }
        let release = if pongs.queued_ends.len() < MAX_QUEUED_PONGS {
            pongs.held.take()
        } else {
            None
        };
        match release {
            Some(payload) => self.queue_auto_pong(&payload),
            None if pongs.queued_ends.is_empty() && pongs.held.is_none() => self.pongs = None,
            None => {}
        }
    }

    /// Queues the held pong now, past the [`MAX_QUEUED_PONGS`] bound: called
    /// once no more pings will be answered (a close frame), so that the
    /// answer to the most recent ping is not lost. The overshoot is one
    /// pong of at most 125 bytes, once.
    pub(super) fn queue_held_pong(&mut self) {
        if let Some(payload) = self
            .pongs
            .as_deref_mut()
            .and_then(|pongs| pongs.held.take())
        {
            self.queue_auto_pong(&payload);
        }
    }

    pub(super) fn queue_ping(&mut self, payload: &[u8]) {
        self.queue_frame(OpCode::Ping, payload);
    }

    pub(super) fn start_close(
        &mut self,
        now: Option<Instant>,
        frame: Option<CloseFrame>,
    ) -> Result<(), SendError> {
        if self.state != State::Open {
            return Ok(());
        }
        if let Some(frame) = &frame {
            // RFC 6455 §7.4: only registered codes may be sent.
            if !frame.code.is_valid_on_wire() {
                return Err(SendError::InvalidCloseCode(frame.code.0));
            }
            if frame.reason.len() > CloseFrame::MAX_REASON_LEN {
                return Err(SendError::ControlFrameTooLong(2 + frame.reason.len()));
            }
        }
        self.queue_close_frame(frame.as_ref());
        self.close_sent = true;
        self.state = State::CloseSent;
        // A message the peer is still sending is kept: it is delivered if
        // it completes before the peer's close (see State::CloseSent).
        self.timers.close_started(now);
        Ok(())
    }

    /// Queues a close frame (no validation: callers pass valid frames).
    pub(super) fn queue_close_frame(&mut self, frame: Option<&CloseFrame>) {
        // A held pong answers a ping that came before this close: it goes
        // out first rather than wait behind the close frame.
        self.queue_held_pong();
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match frame {
            None => 0,
            Some(frame) => {
                let reason = frame.reason.as_bytes();
                let reason_len = reason.len().min(CloseFrame::MAX_REASON_LEN);
                payload[..2].copy_from_slice(&frame.code.0.to_be_bytes());
                payload[2..2 + reason_len].copy_from_slice(&reason[..reason_len]);
                2 + reason_len
            }
        };
        self.queue_frame(OpCode::Close, &payload[..len]);
    }
}
