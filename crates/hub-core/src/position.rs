//! Stream positions: an epoch naming one life of a channel's stream and an
//! offset counting its publications.

use std::fmt;

/// Most bytes of an epoch string: the node's own epochs are 8 characters,
/// and a client's epoch longer than this cannot be one of them.
const EPOCH_CAPACITY: usize = 15;

/// Characters of generated epochs: lowercase letters and digits, safe in
/// JSON and URLs.
const EPOCH_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Length of a generated epoch: 40 bits of the seed, enough that two lives
/// of one channel practically never share an epoch.
const GENERATED_EPOCH_LEN: usize = 8;

/// The name of one life of a channel's stream. It changes whenever the
/// stream's history is lost, telling a client that its offset means nothing
/// any more. Stored inline (16 bytes, `Copy`): no allocation per channel.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Epoch {
    len: u8,
    bytes: [u8; EPOCH_CAPACITY],
}

impl Epoch {
    /// The epoch a client sent, or `None` when it is longer than any epoch
    /// this node generates (so it cannot match any stream).
    pub fn parse(text: &str) -> Option<Self> {
        let source = text.as_bytes();
        if source.len() > EPOCH_CAPACITY {
            return None;
        }
        let mut bytes = [0; EPOCH_CAPACITY];
        bytes[..source.len()].copy_from_slice(source);
        Some(Self {
            len: source.len() as u8,
            bytes,
        })
    }

    /// The epoch as sent on the wire.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` or from ASCII only, so always valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether this is the empty epoch (a position the client never had).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Epoch({:?})", self.as_str())
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Generates epochs from a seed the runtime passes in: hub-core has no
/// random number generator. A node started with a fresh seed gives every
/// stream a fresh epoch, so a restart is visible to recovering clients.
#[derive(Debug, Clone)]
pub struct EpochSource {
    state: u64,
}

impl EpochSource {
    /// A source seeded by the runtime (e.g. from the OS's random bytes or
    /// the start time).
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next epoch.
    pub fn next_epoch(&mut self) -> Epoch {
        // splitmix64: a bijective mix, so consecutive epochs differ.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let mut bytes = [0; EPOCH_CAPACITY];
        for (index, byte) in bytes.iter_mut().take(GENERATED_EPOCH_LEN).enumerate() {
            *byte = EPOCH_ALPHABET[((z >> (index * 5)) & 31) as usize];
        }
        Epoch {
            len: GENERATED_EPOCH_LEN as u8,
            bytes,
        }
    }
}

/// A position in a channel's stream: the offset of the last publication
/// (0 before the first) in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamPosition {
    /// The offset of the last publication; publications count from 1.
    pub offset: u64,
    /// The stream's life the offset belongs to.
    pub epoch: Epoch,
}

impl StreamPosition {
    /// A position from its parts.
    pub fn new(offset: u64, epoch: Epoch) -> Self {
        Self { offset, epoch }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_bounds_length() {
        let epoch = Epoch::parse("abcd").unwrap();
        assert_eq!(epoch.as_str(), "abcd");
        assert!(!epoch.is_empty());
        assert!(Epoch::parse("").unwrap().is_empty());
        assert!(Epoch::parse("0123456789abcdefg").is_none());
    }

    #[test]
    fn sources_give_distinct_epochs_per_call_and_seed() {
        let mut first = EpochSource::new(1);
        let a = first.next_epoch();
        let b = first.next_epoch();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), GENERATED_EPOCH_LEN);
        let mut other = EpochSource::new(2);
        assert_ne!(other.next_epoch(), a);
        let mut same = EpochSource::new(1);
        assert_eq!(same.next_epoch(), a);
    }
}
