//! The receive buffer and every rule that sizes it: how bytes get in
//! ([`Connection::receive`] copies them, [`Connection::receive_space`] lends
//! room for a read straight from the transport), how it grows while a frame
//! arrives, what the memory budget is charged before it grows, and when it
//! is given back.
//!
//! The connection owns the buffer; a driver only appends to it. That keeps
//! the bytes already buffered in place, which the fail-fast UTF-8 check of
//! an incomplete text frame relies on (it resumes where it stopped).

use bytes::{BufMut, BytesMut};

use super::Connection;
use crate::frame::FrameHeader;
use crate::{Delivery, Error};

/// Most bytes a driver should read at a time into a buffer of its own (on
/// its stack) and hand over with [`Connection::receive`], when
/// [`Connection::receive_space`] returns `None`.
///
/// 16 KiB, not 8: eight 1 KiB frames in flight are 8,240 bytes on the wire,
/// and an 8 KiB read split the eighth, costing two more reads and a copy of
/// its first part for every batch (the benchmark's 1 KiB echo ran 26%
/// faster at 16 KiB, same run, with 16 B and 64 KiB unchanged). Messages
/// split off one read share its allocation, so a retained small message
/// keeps at most this much alive.
pub const RECEIVE_CHUNK: usize = 16 * 1024;

/// Smallest step the buffer grows by while a frame is incomplete.
pub(super) const READ_RESERVE_STEP: usize = 64 * 1024;
/// While a frame is incomplete, the buffer is grown only once less than
/// this much room is left for the next read (or for the rest of the frame,
/// if that is less). Growing at every call would double a buffer that is
/// fed a few bytes at a time long before it fills.
pub(super) const READ_SPARE_MIN: usize = 8 * 1024;
/// An empty buffer above this capacity is released (memory per idle
/// connection matters more than one reallocation).
const IDLE_READ_CAPACITY: usize = 64 * 1024;
/// Largest buffer a read starts a message with when large frames are
/// flowing (4 MiB of payload and its header); bigger frames grow the buffer
/// as they arrive. Only a frame that passed the limits sets the size.
const MAX_DIRECT_READ: usize = (4 << 20) + 16;
/// Most a lent buffer grows by for one read when the frame it holds the
/// start of is not known yet.
const MAX_READ_GROWTH: usize = 1 << 20;

/// [`BytesMut::try_reclaim`] on an empty buffer kept from an earlier large
/// message, for a frame of `direct` bytes: it succeeds when no message
/// split off it is alive any more. Only an allocation that fits the frame
/// closely is taken (at least `direct`, less than a [`RECEIVE_CHUNK`]
/// more), so that no large room is left after the frame for the next
/// message to start in.
fn reclaim_for(buf: &mut BytesMut, direct: usize) -> Reclaim {
    if buf.try_reclaim(direct) {
        if buf.capacity() < direct + RECEIVE_CHUNK {
            return Reclaim::Reclaimed;
        }
        return Reclaim::Unfit;
    }
    // `try_reclaim` also fails on a free allocation smaller than the
    // frame; reclaiming one byte tells that one (which it then owns) from
    // one still shared with a live message.
    if buf.try_reclaim(1) {
        Reclaim::Unfit
    } else {
        Reclaim::InUse
    }
}

/// What [`reclaim_for`] found.
enum Reclaim {
    /// The allocation is free again and is now the buffer's room.
    Reclaimed,
    /// A message split off the buffer is still alive (or the buffer holds
    /// no allocation at all).
    InUse,
    /// Free, but too small or too large for the frame.
    Unfit,
}

/// What the reads have learned about the traffic: whether frames are large
/// enough that a new message is better read straight into a buffer of
/// about its size (one read per message, no staging copy) than copied in
/// from the driver's small buffer.
#[derive(Debug, Default)]
pub(super) struct ReadSizing {
    /// Capacity to start a message's buffer with; 0 while frames are small.
    /// At most [`MAX_DIRECT_READ`], so 32 bits hold it.
    direct: u32,
    /// A fresh buffer of `direct` bytes was lent for a read; the next call
    /// checks that the traffic still fills it.
    direct_lent: bool,
    /// The handle of an earlier direct-read buffer whose message was still
    /// in use when the next one started, so that two messages in flight
    /// take turns between two allocations instead of allocating one per
    /// message (see [`Connection::reclaim_direct_buf`]). Boxed: only
    /// connections that see large frames carry it. Never kept under a
    /// memory budget (it would hold memory the budget does not see).
    spare: Option<Box<BytesMut>>,
}

impl Connection {
    /// The receive buffer, to look at: bytes received and not yet decoded.
    /// Bytes get in with [`Connection::receive`] or
    /// [`Connection::receive_space`]. The arrived part of an incomplete
    /// data frame's payload may already be unmasked (in whole-message
    /// mode it is unmasked as it arrives); its header is as received.
    pub fn read_buf(&self) -> &BytesMut {
        &self.read_buf
    }

    /// Copies received bytes into the receive buffer; then call
    /// [`Connection::poll_event`]. Payloads are split off the buffer without
    /// further copies. Into an empty buffer the bytes go to an allocation of
    /// exactly their size, so small messages hold no slack.
    ///
    /// A driver reads at most [`RECEIVE_CHUNK`] bytes at a time this way
    /// (whenever [`Connection::receive_space`] says so); tests and simple
    /// drivers may pass any amount.
    pub fn receive(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.read_buf.capacity() == 0 {
            self.read_buf = BytesMut::from(data);
        } else {
            self.read_buf.extend_from_slice(data);
        }
    }

    /// Room for one read straight from the transport into the receive
    /// buffer, or `None` when the next read should instead go to a buffer
    /// of the driver's own of [`RECEIVE_CHUNK`] bytes, handed over with
    /// [`Connection::receive`] (so that an idle connection holds no buffer
    /// and a small message no slack).
    ///
    /// The room is lent on the connection's terms: sized by it (for the
    /// rest of the frame being received, or for the size large frames have
    /// had, so that a large message takes one read and no staging copy),
    /// charged to [`Limits::memory_budget`](crate::Limits::memory_budget)
    /// before it is allocated, and append-only (`BufMut`: what the read
    /// writes is added after the bytes already buffered). Call
    /// [`Connection::poll_event`] after the read.
    pub fn receive_space(&mut self) -> Option<impl BufMut + '_> {
        self.settle_direct_read();
        // An empty buffer takes the next message from its start: when large
        // frames flow, always through `reclaim_direct_buf` (not the room
        // left after the last frame, which would pin its allocation).
        let empty = self.read_buf.is_empty();
        if empty && (self.read_buf.capacity() < RECEIVE_CHUNK || self.receiving_large_frames()) {
            let direct = self.sizing.direct as usize;
            if direct <= RECEIVE_CHUNK {
                return None;
            }
            if !self.reclaim_direct_buf(direct) {
                if !self.charge_read(direct) {
                    return None;
                }
                self.read_buf = BytesMut::with_capacity(direct);
            }
            self.sizing.direct_lent = true;
            return Some(&mut self.read_buf);
        }
        let frame_len = self.front_frame_len();
        if let Some(frame_len) = frame_len.filter(|_| self.whole_frames()) {
            if frame_len > RECEIVE_CHUNK {
                // A frame larger than a copied-in read is arriving: start
                // the next message at that size.
                self.sizing.direct = u32::try_from(frame_len.min(MAX_DIRECT_READ)).unwrap_or(0);
            }
        }
        let len = self.read_buf.len();
        let spare = self.read_buf.capacity() - len;
        // Room for a read past the frame in progress, unless the rest of
        // the frame fits: the buffer of a large frame is reclaimed for a
        // later one once its message is dropped (see `reclaim_direct_buf`),
        // which growing it past the frame (a `realloc`, often a copy) would
        // only delay.
        let frame_fits = frame_len.is_some_and(|frame_len| frame_len <= len + spare);
        if spare < RECEIVE_CHUNK / 2 && !frame_fits {
            let growth = len.clamp(RECEIVE_CHUNK, MAX_READ_GROWTH);
            let grown = len + spare + growth;
            if grown <= IDLE_READ_CAPACITY || self.charge_read(grown.max(self.charges.read.bytes()))
            {
                self.read_buf.reserve(growth);
            }
        }
        Some(&mut self.read_buf)
    }

    /// Room for one read of at least `additional` bytes, for a driver that
    /// sizes its reads itself (a load generator that knows the size of the
    /// replies it waits for). Append-only like
    /// [`Connection::receive_space`], and charged to the memory budget the
    /// same way: growth that the budget cannot cover is not made, and the
    /// read gets the room there is.
    pub fn receive_space_with(&mut self, additional: usize) -> impl BufMut + '_ {
        self.settle_direct_read();
        let len = self.read_buf.len();
        let spare = self.read_buf.capacity() - len;
        if spare < additional {
            let grown = len + additional;
            if grown <= IDLE_READ_CAPACITY || self.charge_read(grown.max(self.charges.read.bytes()))
            {
                self.read_buf.reserve(additional);
            }
        }
        &mut self.read_buf
    }

    /// Tells the connection that the transport has no bytes for now (the
    /// driver's read is pending): an empty receive buffer gives its memory
    /// back, and an empty transmit buffer too (see
    /// [`Connection::transmit_idle`]), so that a connection waiting for
    /// input holds neither.
    ///
    /// An empty buffer is replaced even at capacity 0: a buffer whose last
    /// frame was split off whole has no capacity left but still shares the
    /// allocation the frame's payload came from, which would otherwise stay
    /// alive for as long as the connection waits.
    ///
    /// The exception, without a memory budget, is a connection receiving
    /// large frames (each read straight into a buffer of the frame's
    /// size): it keeps the handle of its last such buffer, and of at most
    /// one more, so that the next message reuses the allocation once the
    /// application has dropped the previous one, instead of every large
    /// message taking fresh memory from the allocator (and paying its page
    /// faults). That holds at most two allocations of the large frames'
    /// size (each at most 4 MiB and a header) until smaller frames arrive,
    /// the connection has been idle for a keepalive interval (they are
    /// dropped when the keepalive ping goes out), or it closes. Under a
    /// budget an idle connection holds no charge: its buffer is reclaimed
    /// only while messages keep arriving.
    pub fn receive_idle(&mut self) {
        let keep = self.receiving_large_frames() && self.settings.limits.memory_budget.is_none();
        if self.read_buf.is_empty() && !keep {
            self.read_buf = BytesMut::new();
            self.sizing.spare = None;
            self.release_read_charge();
        }
        self.transmit_idle();
    }

    /// Whether new messages are read straight into buffers of the large
    /// frames' size.
    fn receiving_large_frames(&self) -> bool {
        self.sizing.direct as usize > RECEIVE_CHUNK
    }

    /// Gives back the large-frame buffers an idle connection keeps for
    /// reuse (see [`Connection::receive_idle`]): called when a keepalive
    /// ping goes out, that is after an interval without traffic.
    pub(super) fn release_spent_read_bufs(&mut self) {
        self.sizing.spare = None;
        if self.read_buf.is_empty() {
            self.read_buf = BytesMut::new();
            self.release_read_charge();
        }
    }

    /// Takes back, for the next direct read, the allocation of an earlier
    /// large message that the application has dropped: the empty handle
    /// the last message was split from, or else the spare one (the two
    /// then swap places). When neither can be taken, a fresh buffer is
    /// needed: the old handle becomes the spare if its message is still in
    /// use (so that its allocation is taken back once it is dropped), and
    /// is dropped otherwise. The spare is kept without a budget only.
    /// `false` when a fresh buffer is needed, or when the budget cannot
    /// cover the reclaimed one.
    fn reclaim_direct_buf(&mut self, direct: usize) -> bool {
        let read_buf_in_use = match reclaim_for(&mut self.read_buf, direct) {
            Reclaim::Reclaimed => return self.charge_reclaimed(),
            Reclaim::InUse => true,
            Reclaim::Unfit => false,
        };
        if let Some(spare) = self.sizing.spare.as_deref_mut() {
            match reclaim_for(spare, direct) {
                Reclaim::Reclaimed => {
                    std::mem::swap(&mut self.read_buf, spare);
                    return self.charge_reclaimed();
                }
                Reclaim::InUse => {}
                Reclaim::Unfit => self.sizing.spare = None,
            }
        }
        let spent = std::mem::take(&mut self.read_buf);
        if read_buf_in_use && self.settings.limits.memory_budget.is_none() {
            match self.sizing.spare.as_deref_mut() {
                Some(spare) => *spare = spent,
                None => self.sizing.spare = Some(Box::new(spent)),
            }
        }
        false
    }

    /// Charges a reclaimed receive buffer at its size; one the budget
    /// cannot cover is dropped (`false`).
    fn charge_reclaimed(&mut self) -> bool {
        if self.charge_read(self.read_buf.capacity()) {
            return true;
        }
        self.read_buf = BytesMut::new();
        false
    }

    /// The wire size (header and payload) of the frame at the front of the
    /// receive buffer while it is incomplete: its header has arrived, its
    /// payload not yet all. `None` when the buffer holds no such frame, and
    /// in [`Delivery::Chunks`] mode, where payloads are handed out as
    /// they arrive instead of being buffered.
    pub fn incomplete_frame_len(&self) -> Option<usize> {
        self.front_frame_len().filter(|_| self.whole_frames())
    }

    /// Whether frames are buffered whole before they are decoded (streaming
    /// delivery consumes each header at once and hands the payload out as
    /// it arrives, so it never waits for a whole frame).
    fn whole_frames(&self) -> bool {
        self.settings.config.delivery != Delivery::Chunks
    }

    /// The wire size of the incomplete frame whose header starts the
    /// buffer, in either delivery mode.
    fn front_frame_len(&self) -> Option<usize> {
        let (header, header_len) = FrameHeader::decode(&self.read_buf).ok()??;
        let frame_len = usize::try_from(header.payload_len)
            .ok()?
            .checked_add(header_len)?;
        (frame_len > self.read_buf.len()).then_some(frame_len)
    }

    /// After a read into a fresh buffer of the learned size: unless the
    /// buffer is at least half used by what it holds or by the incomplete
    /// frame that will fill it, the traffic has turned smaller, so the
    /// bytes move to an exact-size allocation and reads go back to the
    /// driver's small buffer. Messages are split off the buffer without
    /// copying and live as long as the application keeps them, so this
    /// bounds what a message can pin to twice its size: a peer cannot make
    /// small messages hold buffers sized for its earlier large ones.
    pub(super) fn settle_direct_read(&mut self) {
        if !std::mem::take(&mut self.sizing.direct_lent) || self.read_buf.is_empty() {
            return;
        }
        let needed = self.incomplete_frame_len().unwrap_or(0);
        if needed.max(self.read_buf.len()) < self.read_buf.capacity() / 2 {
            self.sizing.direct = 0;
            self.sizing.spare = None;
            self.read_buf = BytesMut::from(&self.read_buf[..]);
            self.release_read_charge();
        }
    }

    /// Makes room for an incomplete frame of `frame_len` bytes (header
    /// included) whose header has been checked against the limits.
    ///
    /// With a memory budget, a frame larger than [`RECEIVE_CHUNK`] is
    /// charged whole before any more of it is buffered, and the buffer
    /// grows to it in one step: a frame that does not fit the budget is the
    /// 1009 error while only its first read is held.
    ///
    /// Without one, the buffer grows once the spare capacity runs low: the
    /// capacity at least doubles and grows by at least
    /// [`READ_RESERVE_STEP`] (so a large frame is copied O(log n) times,
    /// not once per read), but never past the frame, so the declared
    /// length bounds the buffer.
    #[inline]
    pub(super) fn reserve_read(&mut self, frame_len: usize) -> Result<(), Error> {
        let len = self.read_buf.len();
        let capacity = self.read_buf.capacity();
        if self.settings.limits.memory_budget.is_some() && frame_len > RECEIVE_CHUNK {
            if capacity < frame_len || self.charges.read.bytes() < frame_len {
                self.grow_charged(frame_len)?;
            }
            return Ok(());
        }
        let missing = frame_len.saturating_sub(len);
        if capacity - len < missing.min(READ_SPARE_MIN) {
            self.grow_read_buf(frame_len);
        }
        Ok(())
    }

    /// The budget's growth step of [`Connection::reserve_read`]: charges
    /// the frame (and, while the bytes are copied, the old buffer too)
    /// before the allocation.
    #[cold]
    #[inline(never)]
    fn grow_charged(&mut self, frame_len: usize) -> Result<(), Error> {
        let capacity = self.read_buf.capacity();
        if capacity >= frame_len {
            // A buffer lent for a direct read already holds it.
            return super::budget::charge_to(
                &mut self.charges.read,
                self.settings.limits.memory_budget.as_ref(),
                capacity,
            );
        }
        let budget = self.settings.limits.memory_budget.as_ref();
        super::budget::charge_to(&mut self.charges.read, budget, capacity + frame_len)?;
        let mut grown = BytesMut::with_capacity(frame_len);
        grown.extend_from_slice(&self.read_buf);
        self.read_buf = grown;
        if let Some(budget) = budget {
            // Shrinking always fits.
            self.charges.read.set(budget, frame_len);
        }
        Ok(())
    }

    /// The growth step of [`Connection::reserve_read`] without a budget,
    /// kept out of line so that the per-frame path stays small.
    #[cold]
    #[inline(never)]
    fn grow_read_buf(&mut self, frame_len: usize) {
        let len = self.read_buf.len();
        let capacity = self.read_buf.capacity();
        // The frame does not fit the capacity, so `target > capacity`.
        let target = capacity
            .saturating_mul(2)
            .max(len.saturating_add(READ_RESERVE_STEP))
            .min(frame_len);
        if target <= READ_RESERVE_STEP {
            // Small frames: `reserve` may reuse the allocation (moving the
            // bytes to its front) and its rounding stays within one step.
            self.read_buf.reserve(target - len);
        } else {
            // `reserve` may double past `target` (up to twice the frame
            // limit), so large buffers are grown to the exact size.
            let mut grown = BytesMut::with_capacity(target);
            grown.extend_from_slice(&self.read_buf);
            self.read_buf = grown;
        }
    }

    /// Charges the read buffer at `total` bytes when there is a budget;
    /// `false` (nothing charged) when that does not fit.
    fn charge_read(&mut self, total: usize) -> bool {
        match self.settings.limits.memory_budget.as_ref() {
            Some(budget) => self.charges.read.set(budget, total),
            None => true,
        }
    }

    /// Drops the buffer and what it held, once nothing more is decoded.
    pub(super) fn drop_read_buf(&mut self) {
        self.read_buf = BytesMut::new();
        self.sizing.spare = None;
        self.release_read_charge();
    }

    /// Drops an emptied buffer that grew large for a big frame.
    pub(super) fn release_idle_read_buf(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > IDLE_READ_CAPACITY {
            self.read_buf = BytesMut::new();
            self.release_read_charge();
        }
    }
}
