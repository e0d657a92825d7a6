//! The receive side: header checks, payload unmasking, reassembly or
//! streaming, UTF-8, control frames and the peer's close.

use bytes::{Buf, Bytes, BytesMut};

use super::{Connection, PeerClose, State};
use crate::frame::{FrameHeader, OpCode};
use crate::mask::apply_mask_at;
use crate::utf8::Utf8Validator;
use crate::{
    Chunk, CloseCode, CloseFrame, DataKind, Delivery, Error, Event, LimitError, Message,
    ProtocolError, Role, Utf8Bytes,
};

/// Receive-side state between calls.
#[derive(Debug, Default)]
pub(super) struct Incoming {
    /// A data frame whose payload is being streamed or skipped piecewise.
    partial: Option<PartialFrame>,
    /// The data message in progress (between its first and last frame).
    message: Option<IncomingMessage>,
    /// What was done to the arrived part of an incomplete data frame at
    /// the front of the read buffer (whole-message mode).
    front: FrontFrame,
}

/// The arrived part of the incomplete data frame at the front of the read
/// buffer, in whole-message mode: unmasked in place as it arrives (while
/// the kernel's copy of it is still in the cache: unmasking a 1 MiB frame
/// only once it had all arrived read it back from memory), and for a text
/// frame checked as UTF-8 so that invalid text fails before the frame
/// ends. Not an `Option`: this way it costs no tag in every connection.
#[derive(Debug, Default)]
struct FrontFrame {
    /// Payload bytes already unmasked in place (and checked, for text).
    unmasked: usize,
    /// A copy of the message's validator fed those bytes, for a text
    /// frame; the complete frame is validated as usual.
    text: Option<Utf8Validator>,
}

/// A data frame whose header was consumed but whose payload has not all
/// arrived.
#[derive(Debug)]
struct PartialFrame {
    mask: Option<[u8; 4]>,
    /// Payload bytes already consumed (the offset into the mask cycle).
    offset: usize,
    remaining: usize,
    fin: bool,
}

#[derive(Debug)]
struct IncomingMessage {
    kind: DataKind,
    /// RSV bits of the first frame: non-zero means the extension decodes it.
    rsv: u8,
    /// Raw payload seen so far (limit accounting for plain messages).
    wire_len: u64,
    /// The message so far: the reassembled payload of a plain message
    /// (grown exactly, never past `max_message_size`), or the extension's
    /// output for a decoded one (`rsv` non-zero). One buffer for both: a
    /// message is one or the other, and every connection holds this.
    buffer: BytesMut,
    /// Bytes already handed out as fragments (streaming mode).
    delivered_len: usize,
    delivered_first: bool,
    utf8: Utf8Validator,
}

impl IncomingMessage {
    fn new(kind: DataKind, rsv: u8) -> Self {
        IncomingMessage {
            kind,
            rsv,
            wire_len: 0,
            buffer: BytesMut::new(),
            delivered_len: 0,
            delivered_first: false,
            utf8: Utf8Validator::new(),
        }
    }

    fn validate(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        if self.kind == DataKind::Text {
            // RFC 6455 §8.1: fail as soon as invalid UTF-8 is seen.
            self.utf8
                .feed(bytes)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    fn validate_end(&mut self) -> Result<(), ProtocolError> {
        if self.kind == DataKind::Text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    fn fragment(&mut self, payload: Bytes, fin: bool) -> Event {
        let first = !self.delivered_first;
        self.delivered_first = true;
        self.delivered_len += payload.len();
        Event::Chunk(Chunk {
            kind: self.kind,
            payload,
            first,
            fin,
        })
    }
}

/// What one step of the decoder produced.
enum Step {
    Event(Event),
    /// Progress without an event (a fragment buffered).
    Continue,
    NeedMore,
}

impl Connection {
    pub(super) fn poll_event_inner(&mut self) -> Result<Option<Event>, Error> {
        self.settle_direct_read();
        if self.failed || self.eof || self.peer_close.is_some() {
            // Nothing more is received after a failure or the peer's close
            // (RFC 6455 §5.5.1: the close frame is the last frame).
            self.drop_read_buf();
            return Ok(None);
        }
        loop {
            match self.step() {
                Ok(Step::Event(event)) => return Ok(Some(event)),
                Ok(Step::Continue) => {}
                Ok(Step::NeedMore) => {
                    self.release_idle_read_buf();
                    return Ok(None);
                }
                Err(error) => {
                    self.fail(&error);
                    return Err(error);
                }
            }
        }
    }

    fn step(&mut self) -> Result<Step, Error> {
        if self.incoming.partial.is_some() {
            return self.step_partial();
        }
        let Some((header, header_len)) = FrameHeader::decode(&self.read_buf)? else {
            return Ok(Step::NeedMore);
        };
        self.check_header(&header)?;
        // Checked against max_frame_size (a usize) above.
        let len = header.payload_len as usize;
        let complete = self.read_buf.len() - header_len >= len;

        if header.opcode.is_control() {
            if !complete {
                self.reserve_read(header_len.saturating_add(len))?;
                return Ok(Step::NeedMore);
            }
            self.timers.frame_received();
            self.read_buf.advance(header_len);
            let payload = self.take_payload(len, header.mask).freeze();
            return self.on_control(header.opcode, payload).map(Step::Event);
        }

        // Data frames are delivered in every state that reaches here,
        // including after our close (State::CloseSent): the peer may have
        // sent them before it saw our close, and RFC 6455 §5.5.1 forbids
        // only *sending* data after a close frame. They are checked like
        // any other frame.
        let extension_message = match header.opcode {
            OpCode::Continuation => self.incoming.message.as_ref().is_some_and(|m| m.rsv != 0),
            _ => header.rsv != 0,
        };
        if self.settings.config.delivery == Delivery::Chunks && !extension_message {
            self.timers.frame_received();
            self.read_buf.advance(header_len);
            self.begin_frame(&header);
            self.incoming.partial = Some(PartialFrame {
                mask: header.mask,
                offset: 0,
                remaining: len,
                fin: header.fin,
            });
            return self.step_partial();
        }
        if !complete {
            self.settle_front_frame(&header, header_len)?;
            self.reserve_read(header_len.saturating_add(len))?;
            return Ok(Step::NeedMore);
        }
        let unmasked = std::mem::take(&mut self.incoming.front).unmasked;
        self.timers.frame_received();
        self.read_buf.advance(header_len);
        self.begin_frame(&header);
        let payload = self.take_payload_from(len, header.mask, unmasked);
        let step = self.on_data_frame(header.fin, payload);
        // The frame's payload (split off the read buffer, still charged
        // while it was copied or inflated) is gone or the application's.
        self.release_read_charge();
        step
    }

    /// Every rule that the header alone decides, checked before any of the
    /// payload is buffered.
    fn check_header(&self, header: &FrameHeader) -> Result<(), Error> {
        // RFC 6455 §5.1: a server MUST fail on an unmasked frame, a client
        // MUST fail on a masked frame.
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame.into()),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame.into()),
            _ => {}
        }
        // RFC 6455 §5.2: RSV bits MUST be 0 unless a negotiated extension
        // defines them. Extensions (RFC 7692 §6) use them on a message's
        // first frame only, never on control or continuation frames.
        if header.rsv != 0 {
            let allowed = match header.opcode {
                OpCode::Text | OpCode::Binary => self
                    .extension
                    .as_ref()
                    .is_some_and(|ext| header.rsv & !ext.rsv_mask() == 0),
                _ => false,
            };
            if !allowed {
                return Err(ProtocolError::ReservedBits(header.rsv).into());
            }
        }
        // Limits come from the declared length, before any payload is kept.
        if header.payload_len > self.settings.limits.max_frame_size as u64 {
            return Err(LimitError::FrameTooLarge {
                size: header.payload_len,
                max: self.settings.limits.max_frame_size,
            }
            .into());
        }
        if header.opcode.is_control() {
            return Ok(());
        }
        // RFC 6455 §5.4: continuation frames continue an open message; a new
        // message must not start while one is open.
        let open = self.incoming.message.as_ref();
        match (header.opcode, open) {
            (OpCode::Continuation, None) => {
                return Err(ProtocolError::UnexpectedContinuation.into())
            }
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation.into())
            }
            _ => {}
        }
        let (rsv, wire_len) = open.map_or((header.rsv, 0), |m| (m.rsv, m.wire_len));
        // Extension-decoded messages are bounded by the decoder (after
        // decoding); plain ones by their wire size.
        if rsv == 0 {
            let size = wire_len.saturating_add(header.payload_len);
            if size > self.settings.limits.max_message_size as u64 {
                return Err(LimitError::MessageTooLarge {
                    size,
                    max: self.settings.limits.max_message_size,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Unmasks, in place, the payload bytes of the incomplete front frame
    /// that arrived since the last call, and (RFC 6455 §8.1: fail as soon
    /// as invalid UTF-8 arrives, even inside a frame whose end has not
    /// arrived yet; Autobahn 6.4.3, 6.4.4) checks them when the frame
    /// carries text. Each byte is unmasked once, here or when the frame
    /// completes.
    fn settle_front_frame(&mut self, header: &FrameHeader, header_len: usize) -> Result<(), Error> {
        let continues_text = |m: &IncomingMessage| m.kind == DataKind::Text && m.rsv == 0;
        let text = match header.opcode {
            OpCode::Text => header.rsv == 0,
            OpCode::Continuation => self.incoming.message.as_ref().is_some_and(continues_text),
            _ => false,
        };
        let front = &mut self.incoming.front;
        let start = header_len + front.unmasked;
        let arrived = &mut self.read_buf[start..];
        if arrived.is_empty() {
            return Ok(());
        }
        if let Some(key) = header.mask {
            apply_mask_at(arrived, key, front.unmasked);
        }
        if text {
            let message = &self.incoming.message;
            let validator = front
                .text
                .get_or_insert_with(|| match (header.opcode, message) {
                    (OpCode::Continuation, Some(m)) => m.utf8.clone(),
                    _ => Utf8Validator::new(),
                });
            validator
                .feed(arrived)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        front.unmasked += arrived.len();
        Ok(())
    }

    /// Opens the message on its first frame and accounts the frame's size.
    fn begin_frame(&mut self, header: &FrameHeader) {
        let kind = match header.opcode {
            OpCode::Text => Some(DataKind::Text),
            OpCode::Binary => Some(DataKind::Binary),
            _ => None,
        };
        if let Some(kind) = kind {
            self.incoming.message = Some(IncomingMessage::new(kind, header.rsv));
        }
        if let Some(message) = self.incoming.message.as_mut() {
            message.wire_len = message.wire_len.saturating_add(header.payload_len);
        }
    }

    /// Splits `len` payload bytes off the read buffer and unmasks them in
    /// place: the payload stays in the read buffer's allocation.
    fn take_payload(&mut self, len: usize, mask: Option<[u8; 4]>) -> BytesMut {
        self.take_payload_from(len, mask, 0)
    }

    /// [`Connection::take_payload`] for a payload whose first `unmasked`
    /// bytes were unmasked as they arrived.
    fn take_payload_from(
        &mut self,
        len: usize,
        mask: Option<[u8; 4]>,
        unmasked: usize,
    ) -> BytesMut {
        let mut payload = self.read_buf.split_to(len);
        if let Some(key) = mask {
            apply_mask_at(&mut payload[unmasked..], key, unmasked);
        }
        payload
    }

    /// Streams the payload of the current partial frame.
    fn step_partial(&mut self) -> Result<Step, Error> {
        let Some(partial) = self.incoming.partial.as_mut() else {
            return Ok(Step::Continue);
        };
        let take = partial.remaining.min(self.read_buf.len());
        if take == 0 && partial.remaining > 0 {
            return Ok(Step::NeedMore);
        }
        partial.remaining -= take;
        let frame_done = partial.remaining == 0;
        let message_done = frame_done && partial.fin;
        let mut payload = self.read_buf.split_to(take);
        if let Some(key) = partial.mask {
            apply_mask_at(&mut payload, key, partial.offset);
        }
        partial.offset += take;
        if frame_done {
            self.incoming.partial = None;
        }
        let Some(message) = self.incoming.message.as_mut() else {
            return Ok(Step::Continue);
        };
        message.validate(&payload)?;
        if message_done {
            message.validate_end()?;
        }
        let event = message.fragment(payload.freeze(), message_done);
        if message_done {
            self.counters.message_received(message.rsv != 0);
            self.incoming.message = None;
        }
        Ok(Step::Event(event))
    }

    /// A complete data frame in whole-message mode, or an extension-decoded
    /// frame in streaming mode.
    fn on_data_frame(&mut self, fin: bool, payload: BytesMut) -> Result<Step, Error> {
        let max_message = self.settings.limits.max_message_size;
        let streaming = self.settings.config.delivery == Delivery::Chunks;
        let Some(message) = self.incoming.message.as_mut() else {
            return Ok(Step::Continue);
        };
        if message.rsv != 0 {
            let Some(extension) = self.extension.as_mut() else {
                return Ok(Step::Continue);
            };
            let (out, budget) = if streaming {
                (
                    BytesMut::new(),
                    max_message.saturating_sub(message.delivered_len),
                )
            } else {
                (std::mem::take(&mut message.buffer), max_message)
            };
            let mut out = out;
            let before = out.len();
            match self.settings.limits.memory_budget.as_ref() {
                Some(memory) => super::budget::decode_within_budget(
                    extension.as_mut(),
                    message.rsv,
                    &payload,
                    fin,
                    &mut out,
                    budget,
                    &mut self.charges.message,
                    memory,
                )?,
                None => extension.decode(message.rsv, &payload, fin, &mut out, budget)?,
            }
            message.validate(&out[before..])?;
            if fin {
                message.validate_end()?;
            }
            if streaming {
                let event = message.fragment(out.freeze(), fin);
                if fin {
                    self.counters.message_received(true);
                    self.incoming.message = None;
                }
                // The fragment is the application's now.
                self.release_message_charge();
                return Ok(Step::Event(event));
            }
            message.buffer = out;
            if !fin {
                return Ok(Step::Continue);
            }
            let message = self.incoming.message.take();
            let Some(mut message) = message else {
                return Ok(Step::Continue);
            };
            let bytes = std::mem::take(&mut message.buffer).freeze();
            self.release_message_charge();
            self.counters.message_received(true);
            return Ok(Step::Event(Event::Message(data_message(
                message.kind,
                bytes,
            ))));
        }

        if fin && message.buffer.is_empty() && message.wire_len == payload.len() as u64 {
            // A single-frame message: zero-copy, one validation pass.
            let kind = message.kind;
            self.incoming.message = None;
            let payload = payload.freeze();
            if kind == DataKind::Text && simdutf8::basic::from_utf8(&payload).is_err() {
                // RFC 6455 §8.1: invalid UTF-8 in text MUST fail (1007).
                return Err(ProtocolError::InvalidUtf8.into());
            }
            self.counters.message_received(false);
            return Ok(Step::Event(Event::Message(data_message(kind, payload))));
        }
        message.validate(&payload)?;
        let capacity = bounded_capacity(
            message.buffer.len(),
            message.buffer.capacity(),
            payload.len(),
            max_message,
        );
        super::budget::charge_to(
            &mut self.charges.message,
            self.settings.limits.memory_budget.as_ref(),
            capacity,
        )?;
        append_bounded(&mut message.buffer, &payload, capacity);
        if !fin {
            return Ok(Step::Continue);
        }
        message.validate_end()?;
        let Some(message) = self.incoming.message.take() else {
            return Ok(Step::Continue);
        };
        self.release_message_charge();
        let bytes = message.buffer.freeze();
        self.counters.message_received(false);
        Ok(Step::Event(Event::Message(data_message(
            message.kind,
            bytes,
        ))))
    }

    fn on_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<Event, Error> {
        match opcode {
            OpCode::Ping => {
                // RFC 6455 §5.5.2: answer a ping with a pong carrying the same
                // application data, unless we already received a close frame
                // (we never get here after the peer's close). After *our*
                // close the answer is still due: §5.5.1 forbids only data
                // frames after a close frame.
                if self.answers_pings() {
                    self.queue_pong(&payload);
                }
                Ok(Event::Message(Message::Ping(payload)))
            }
            OpCode::Pong => Ok(Event::Message(Message::Pong(payload))),
            _ => {
                let frame = parse_close_payload(&payload)?;
                self.on_peer_close(frame.clone());
                Ok(Event::Message(Message::Close(frame)))
            }
        }
    }

    fn on_peer_close(&mut self, frame: Option<CloseFrame>) {
        self.incoming = Incoming::default();
        self.release_message_charge();
        let mut echo_end = None;
        if self.state == State::Open {
            // RFC 6455 §5.5.1: answer with a close frame, echoing the status
            // code (an empty close is answered with an empty close).
            let echo = frame
                .as_ref()
                .map(|f| CloseFrame::new(f.code, Utf8Bytes::new()));
            self.queue_close_frame(echo.as_ref());
            echo_end = Some(self.transmit.queued());
            self.close_sent = true;
            self.state = State::CloseReceived;
            // The close frame came with the bytes just recorded.
            self.timers.close_started(self.timers.now());
        } else {
            // Our close went out first. A pong held back during a ping flood
            // answers a ping that came before this close, so RFC 6455
            // §5.5.2 still asks for it; nothing later is answered.
            self.queue_held_pong();
            self.state = State::Closed;
        }
        self.peer_close = Some(Box::new(PeerClose { frame, echo_end }));
    }
}

fn data_message(kind: DataKind, bytes: Bytes) -> Message {
    match kind {
        DataKind::Text => Message::Text(Utf8Bytes::from_validated(bytes)),
        DataKind::Binary => Message::Binary(bytes),
    }
}

/// The capacity a reassembly buffer of `len` bytes in `capacity` grows to
/// for `more` bytes: geometrically, but never past `max` (the caller
/// checked that `len + more <= max`).
fn bounded_capacity(len: usize, capacity: usize, more: usize, max: usize) -> usize {
    let needed = len + more;
    if needed <= capacity {
        return capacity;
    }
    needed.max(capacity.saturating_mul(2)).min(max).max(needed)
}

/// Appends to a reassembly buffer, growing it to exactly `capacity` (from
/// [`bounded_capacity`]) when it is full.
fn append_bounded(buf: &mut BytesMut, data: &[u8], capacity: usize) {
    if buf.len() + data.len() > buf.capacity() {
        // `BytesMut::reserve` may round up; the memory budget was charged
        // `capacity` exactly.
        let mut grown = BytesMut::with_capacity(capacity);
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(data);
}

/// Parses a close frame's payload (RFC 6455 §5.5.1).
fn parse_close_payload(payload: &Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    match &payload[..] {
        [] => Ok(None),
        // RFC 6455 §5.5.1: a body, if present, MUST start with a 2-byte code.
        [_] => Err(ProtocolError::InvalidClosePayload),
        [high, low, rest @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*high, *low]));
            // RFC 6455 §7.4: codes reserved or not registered MUST fail.
            if !code.is_valid_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            // RFC 6455 §5.5.1: the reason is UTF-8 (1007 when it is not).
            if simdutf8::basic::from_utf8(rest).is_err() {
                return Err(ProtocolError::InvalidCloseReason);
            }
            let reason = Utf8Bytes::from_validated(payload.slice(2..));
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}
