//! Safety bounds. Every buffer a peer can grow is capped by one of these.

use crate::budget::MemoryBudget;

/// Safety bounds against hostile or broken peers.
///
/// Behaviour lives in [`Config`](crate::Config); this struct only holds
/// limits. Each default is chosen so that every case of the Autobahn suite
/// (whose largest message is 16 MiB) passes while one connection can never
/// hold more than a known amount of memory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest opening handshake (request or response head) in bytes.
    /// Default 16 KiB: browsers send 0.5–2 KiB; large cookies fit, a slowloris
    /// header flood does not.
    pub max_header_bytes: usize,
    /// Most header lines in the handshake. Default 64, like hyper's default.
    pub max_headers: usize,
    /// Largest single frame payload. Default 16 MiB (Autobahn 9.x sends one
    /// 16 MiB frame; larger data should be fragmented).
    pub max_frame_size: usize,
    /// Largest message after reassembly and decompression. Default 64 MiB,
    /// tungstenite's default, so existing applications keep working. The
    /// decompressor checks this while inflating, so it also bounds
    /// decompression bombs. Lower it for untrusted clients.
    pub max_message_size: usize,
    /// A byte budget shared by many connections (e.g. a whole server),
    /// charged for what each holds for its peer: a frame being read beyond
    /// the first 64 KiB, fragments being reassembled, inflated output. A
    /// message whose next bytes do not fit fails the connection with 1009,
    /// and the charge returns to the budget when the message is delivered
    /// or the connection fails or is dropped. Default `None`: each
    /// connection is bounded by the limits above only.
    pub memory_budget: Option<MemoryBudget>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            memory_budget: None,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_header_bytes`].
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_headers`].
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Sets [`Limits::max_frame_size`].
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Limits::max_message_size`].
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Limits::memory_budget`].
    pub fn memory_budget(mut self, budget: MemoryBudget) -> Self {
        self.memory_budget = Some(budget);
        self
    }
}
