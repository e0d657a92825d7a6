//! Charging the shared [`MemoryBudget`](crate::MemoryBudget) for what the
//! receive side holds: a large frame being read, a message being
//! reassembled, inflated output. Every charge returns to the budget when
//! the message is delivered, the connection fails, the peer closes or the
//! connection is dropped.

use bytes::BytesMut;

use super::Connection;
use crate::budget::{Charge, MemoryBudget};
use crate::extension::Extension;
use crate::{Error, LimitError};

/// Input bytes inflated per step under a budget: small enough that the
/// worst case of one step (deflate expands at most 1032:1) is a few MiB,
/// large enough that zlib's per-call overhead stays negligible.
const INFLATE_STEP: usize = 4096;
/// DEFLATE's largest expansion: a 258-byte match coded in 2 bits.
const MAX_INFLATE_RATIO: usize = 1032;
/// The tail RFC 7692 §7.2.2 appends to a message's last frame.
const INFLATE_TAIL: usize = 4;

/// What one connection has charged to the budget.
#[derive(Debug, Default)]
pub(super) struct Charges {
    /// A frame being read into a grown read buffer.
    pub(super) read: Charge,
    /// The message being reassembled or inflated.
    pub(super) message: Charge,
}

/// Moves `charge` to `total` bytes of `budget` (when there is one); a
/// growth that does not fit is the 1009 error.
pub(super) fn charge_to(
    charge: &mut Charge,
    budget: Option<&MemoryBudget>,
    total: usize,
) -> Result<(), Error> {
    let Some(budget) = budget else {
        return Ok(());
    };
    if charge.set(budget, total) {
        Ok(())
    } else {
        Err(LimitError::MemoryBudget {
            needed: total.saturating_sub(charge.bytes()),
            budget: budget.limit(),
        }
        .into())
    }
}

/// Inflates `payload` into `out` (at most `max_len` bytes in total) in
/// steps whose worst-case output is charged to `budget` before the step
/// and trimmed to what `out` holds after it, so that concurrent bombs
/// cannot together overshoot the budget by more than one step each.
#[allow(clippy::too_many_arguments)] // the decode call's own arguments plus the account
pub(super) fn decode_within_budget(
    extension: &mut dyn Extension,
    rsv: u8,
    payload: &[u8],
    fin: bool,
    out: &mut BytesMut,
    max_len: usize,
    charge: &mut Charge,
    budget: &MemoryBudget,
) -> Result<(), Error> {
    let mut rest = payload;
    loop {
        let (piece, after) = rest.split_at(rest.len().min(INFLATE_STEP));
        let last = after.is_empty();
        let worst = (piece.len() + INFLATE_TAIL)
            .saturating_mul(MAX_INFLATE_RATIO)
            .saturating_add(1024);
        // Within `grant` the step cannot fail for the budget's sake; the
        // decoder only errs at `grant` when that is `max_len` itself.
        let grant = out.len().saturating_add(worst).min(max_len);
        // Growing `out` to `grant` copies it into a new allocation while
        // the old one is still held: both are charged for the step.
        let held = out.capacity();
        let step_peak = if grant > held { held + grant } else { held };
        charge_to(charge, Some(budget), step_peak)?;
        // First `rsv` only on the frame's first piece matters to the
        // decoder, which checks it on every call: pass it each time.
        extension.decode(rsv, piece, fin && last, out, grant)?;
        // Shrinking always fits.
        charge.set(budget, out.capacity());
        if last {
            return Ok(());
        }
        rest = after;
    }
}

impl Connection {
    /// Gives back what the read buffer was charged.
    pub(super) fn release_read_charge(&mut self) {
        if let Some(budget) = self.settings.limits.memory_budget.as_ref() {
            self.charges.read.clear(budget);
        }
    }

    /// Gives back what the message in progress was charged.
    pub(super) fn release_message_charge(&mut self) {
        if let Some(budget) = self.settings.limits.memory_budget.as_ref() {
            self.charges.message.clear(budget);
        }
    }

    /// Bytes this connection holds charged to the budget now (0 without
    /// one).
    pub fn budget_charged(&self) -> usize {
        self.charges.read.bytes() + self.charges.message.bytes()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.release_read_charge();
        self.release_message_charge();
    }
}
