//! Our permessage-deflate preferences, for either role.

/// Smallest LZ77 window RFC 7692 §7.1.2 allows, as a base-2 logarithm.
pub const MIN_WINDOW_BITS: u8 = 8;
/// Largest LZ77 window (32 KiB), the DEFLATE maximum.
pub const MAX_WINDOW_BITS: u8 = 15;

/// Default size below which a whole message is sent uncompressed.
///
/// 64 bytes: a DEFLATE block costs about 2–3 bytes of framing and a short
/// text rarely repeats itself, so messages this small barely shrink or even
/// grow (`Hello`, 5 bytes, becomes 7), while each still costs a compressor
/// call. With context takeover a short message that repeats an earlier one
/// could still shrink, which is why the threshold stays low (Node's `ws`
/// uses 1024 bytes) and is configurable.
pub const DEFAULT_THRESHOLD: usize = 64;

/// permessage-deflate settings of one endpoint, used by both roles.
///
/// "Our" settings bind how this endpoint compresses (the `server_*`
/// parameters when we are the server, `client_*` when we are the client);
/// "peer" settings are what we ask the other side to do. Peer context
/// takeover decides whether our decompressor lives between messages; a
/// peer window limit shrinks the peer's compressor (zlib-rs always gives
/// our inflater a 32 KiB window). The peer may refuse a request; see
/// [`DeflateConfig::client_offers`] and
/// [`DeflateConfig::server_negotiate`] for what is guaranteed.
///
/// A server can only *accept* the peer settings a client offered: it
/// never adds `client_no_context_takeover` or `client_max_window_bits` to
/// its response unasked, because Node's `ws` client refuses a response
/// with either. Against a client that does not offer
/// `client_no_context_takeover` (Node's `ws` and Chromium by default), a
/// server's decompressor therefore keeps the client's context for the
/// whole connection, even with [`DeflateConfig::low_memory`]; see the
/// [module docs](crate::deflate) for what that costs.
///
/// The presets trade memory for compression ratio; the
/// [module docs](crate::deflate) hold the measured memory of each.
///
/// ```
/// use switchboard_proto::deflate::DeflateConfig;
///
/// let config = DeflateConfig::default()
///     .max_window_bits(12)
///     .peer_max_window_bits(12)
///     .threshold(128);
/// assert_eq!(config.get_max_window_bits(), 12);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    pub(crate) no_context_takeover: bool,
    pub(crate) request_peer_no_context_takeover: bool,
    pub(crate) max_window_bits: u8,
    pub(crate) peer_max_window_bits: u8,
    pub(crate) level: u32,
    pub(crate) threshold: usize,
    pub(crate) fallback_offers: bool,
}

impl Default for DeflateConfig {
    /// Best compression: 32 KiB windows and context takeover both ways,
    /// zlib's default level 6, [`DEFAULT_THRESHOLD`].
    fn default() -> Self {
        DeflateConfig {
            no_context_takeover: false,
            request_peer_no_context_takeover: false,
            max_window_bits: MAX_WINDOW_BITS,
            peer_max_window_bits: MAX_WINDOW_BITS,
            level: 6,
            threshold: DEFAULT_THRESHOLD,
            fallback_offers: true,
        }
    }
}

impl DeflateConfig {
    /// Same as [`DeflateConfig::default`]: the best compression ratio and
    /// the most memory per connection.
    pub fn high_compression() -> Self {
        Self::default()
    }

    /// A middle ground, like python-websockets' defaults: 4 KiB windows
    /// (12 bits) both ways with context takeover, so repeated JSON keys
    /// across messages still compress while each connection holds about a
    /// quarter less than with 32 KiB windows (see the module docs' table:
    /// zlib-rs' hash tables do not shrink with the window).
    pub fn balanced() -> Self {
        Self::default().max_window_bits(12).peer_max_window_bits(12)
    }

    /// The least memory: no context takeover both ways, so the compressor
    /// and decompressor are freed after every message and an idle
    /// connection holds no deflate state, and 1 KiB windows (10 bits) to
    /// keep the state small while a message is processed. Messages only
    /// compress against themselves.
    ///
    /// As a server, the decompressor is only freed between messages when
    /// the client offered `client_no_context_takeover` (our own client
    /// does with this preset; Node's `ws` and Chromium do not by default):
    /// otherwise the client keeps its context and our decompressor must
    /// keep it too: about 53 KiB per idle server connection instead of
    /// 6 KiB (zlib-rs' inflater with its 32 KiB window; see the module
    /// docs). The compressor, which holds most of the memory, is freed
    /// between messages in every case.
    pub fn low_memory() -> Self {
        Self::default()
            .no_context_takeover(true)
            .request_peer_no_context_takeover(true)
            .max_window_bits(10)
            .peer_max_window_bits(10)
    }

    /// Whether our compressor starts every message from an empty window
    /// (and is freed between messages). Announced as
    /// `client_no_context_takeover` (client) or `server_no_context_takeover`
    /// (server).
    pub fn no_context_takeover(mut self, enabled: bool) -> Self {
        self.no_context_takeover = enabled;
        self
    }

    /// Whether we ask the peer to compress every message from an empty
    /// window, so that our decompressor can be freed between messages.
    ///
    /// Only a client can ask (`server_no_context_takeover` in its offer). A
    /// server gets this only from clients that offer
    /// `client_no_context_takeover` themselves: it never answers the
    /// parameter unasked, since Node's `ws` client then fails the
    /// handshake.
    pub fn request_peer_no_context_takeover(mut self, enabled: bool) -> Self {
        self.request_peer_no_context_takeover = enabled;
        self
    }

    /// The largest LZ77 window our compressor uses, as a base-2 logarithm
    /// (8–15). See the module docs for how 8 is handled.
    ///
    /// # Panics
    ///
    /// If `bits` is outside 8–15 (RFC 7692 §7.1.2 allows no other value).
    pub fn max_window_bits(mut self, bits: u8) -> Self {
        assert_window_bits(bits);
        self.max_window_bits = bits;
        self
    }

    /// The largest LZ77 window we ask the peer to use (8–15), which bounds
    /// the peer's compressor memory when it agrees. Our decompressor is
    /// built for the agreed size (zlib-rs rounds its window up to 32 KiB).
    ///
    /// # Panics
    ///
    /// If `bits` is outside 8–15.
    pub fn peer_max_window_bits(mut self, bits: u8) -> Self {
        assert_window_bits(bits);
        self.peer_max_window_bits = bits;
        self
    }

    /// The zlib compression level, 0 (stored blocks only) to 9 (smallest
    /// output, slowest). Default 6, zlib's own default.
    ///
    /// # Panics
    ///
    /// If `level` is above 9.
    pub fn level(mut self, level: u32) -> Self {
        assert!(level <= 9, "compression level {level} is outside 0..=9");
        self.level = level;
        self
    }

    /// Whole messages shorter than `bytes` are sent uncompressed. Streamed
    /// messages are always compressed since their size is unknown when the
    /// first piece is sent. Default [`DEFAULT_THRESHOLD`]; 0 compresses
    /// everything.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Whether a client also offers less demanding fallbacks after its
    /// preferred offer (default `true`). With `false`, the server must honour
    /// our requests (`server_no_context_takeover`, `server_max_window_bits`)
    /// or decline compression, so the configured memory bound holds.
    pub fn fallback_offers(mut self, enabled: bool) -> Self {
        self.fallback_offers = enabled;
        self
    }

    /// See [`DeflateConfig::fallback_offers`].
    pub fn get_fallback_offers(&self) -> bool {
        self.fallback_offers
    }

    /// See [`DeflateConfig::no_context_takeover`].
    pub fn get_no_context_takeover(&self) -> bool {
        self.no_context_takeover
    }

    /// See [`DeflateConfig::request_peer_no_context_takeover`].
    pub fn get_request_peer_no_context_takeover(&self) -> bool {
        self.request_peer_no_context_takeover
    }

    /// See [`DeflateConfig::max_window_bits`].
    pub fn get_max_window_bits(&self) -> u8 {
        self.max_window_bits
    }

    /// See [`DeflateConfig::peer_max_window_bits`].
    pub fn get_peer_max_window_bits(&self) -> u8 {
        self.peer_max_window_bits
    }

    /// See [`DeflateConfig::level`].
    pub fn get_level(&self) -> u32 {
        self.level
    }

    /// See [`DeflateConfig::threshold`].
    pub fn get_threshold(&self) -> usize {
        self.threshold
    }
}

fn assert_window_bits(bits: u8) {
    assert!(
        (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&bits),
        "window bits {bits} are outside 8..=15 (RFC 7692 §7.1.2)"
    );
}
