//! permessage-deflate (RFC 7692): negotiation and the compressed data path.
//!
//! # Use
//!
//! Both roles start from a [`DeflateConfig`]. The client sends
//! [`DeflateConfig::client_offers`] in `Sec-WebSocket-Extensions`, the
//! server answers with [`DeflateConfig::server_negotiate`], the client
//! checks the answer with [`DeflateConfig::client_accept`], and each side
//! plugs its [`PerMessageDeflate`] into its
//! [`Connection`](crate::Connection):
//!
//! ```
//! use switchboard_proto::deflate::DeflateConfig;
//! use switchboard_proto::{Config, Connection, Role};
//!
//! let client_config = DeflateConfig::default();
//! let server_config = DeflateConfig::low_memory();
//!
//! // Client -> server: the offers; server -> client: one response element.
//! let offers = client_config.client_offers();
//! let (response, server_ext) = server_config
//!     .server_negotiate(&offers)
//!     .expect("a valid offer is accepted");
//! // The default client offers no client_no_context_takeover, so the
//! // server does not answer it (Node's `ws` would refuse the response).
//! assert_eq!(
//!     response.to_string(),
//!     "permessage-deflate; server_no_context_takeover; \
//!      server_max_window_bits=10; client_max_window_bits=10"
//! );
//! let client_ext = client_config
//!     .client_accept(&[response])
//!     .expect("the response answers our offers")
//!     .expect("the server enabled compression");
//!
//! let mut server = Connection::new(Role::Server, Config::default());
//! server.set_extension(Box::new(server_ext));
//! let mut client = Connection::new(Role::Client, Config::default());
//! client.set_extension(Box::new(client_ext));
//! ```
//!
//! # Decisions
//!
//! * **Negotiation.** The client offers its preferred parameters, then
//!   only the promises about its own compressor, then a bare
//!   `permessage-deflate` ([`DeflateConfig::fallback_offers`] turns the
//!   fallbacks off). The server accepts the first offer whose parameters
//!   are all known, unique and well-formed (RFC 7692 §7) and never
//!   answers a client parameter the client did not offer
//!   (`client_max_window_bits` and `client_no_context_takeover` only when
//!   offered, window sizes no larger than offered): RFC 7692 §7.1.1.2 would
//!   allow an unasked `client_no_context_takeover`, but Node's `ws` client
//!   fails the handshake on it. Its own `server_no_context_takeover` and
//!   `server_max_window_bits` are announced unasked, as §7.1.1.1 and
//!   §7.1.2.1 allow (Node's `ws` client accepts both). The client
//!   fails the handshake ([`DeflateNegotiationError`]) on a response that
//!   accepts none of its offers.
//! * **Window bits 8.** zlib (and zlib-rs behind flate2) refuses an 8-bit
//!   raw deflate window. When our side must compress within 256 bytes we
//!   compress with zlib's 9-bit window instead: zlib never emits a match
//!   farther back than the window size minus 262 bytes (`MIN_LOOKAHEAD`),
//!   i.e. 250 bytes, so the output is valid for an 8-bit inflater and still
//!   compresses. `tests/deflate_window8.rs` decodes our output with an
//!   independent decoder that records every match distance and checks that
//!   none exceeds 256 at every level. Decompression always works with a
//!   window at least as large as the peer's, so an 8-bit peer is inflated
//!   with a 9-bit window.
//! * **Flushing.** Every piece of a message ends with a sync flush, so the
//!   receiver can inflate each frame as it arrives (streamed messages,
//!   [`Delivery::Chunks`](crate::Delivery::Chunks)); the trailing
//!   `00 00 ff ff` is removed from the last piece (RFC 7692 §7.2.1) and put
//!   back before inflating (§7.2.2). A peer's block with BFINAL set
//!   (§7.2.3.4) ends a DEFLATE stream; the decoder starts a new one for
//!   what follows.
//! * **Threshold.** Whole messages shorter than
//!   [`DEFAULT_THRESHOLD`] (64 bytes) are sent uncompressed (RSV1 clear),
//!   which RFC 7692 §6 allows at any time; streamed messages are always
//!   compressed because their size is unknown when the first frame leaves.
//! * **Context takeover.** With context takeover the compressor and
//!   decompressor live as long as the connection. Without it (negotiated
//!   per direction) they are freed after each message, so an idle
//!   connection holds no deflate state at all, at the cost of building one
//!   per message.
//! * **Safety.** Inflated output is produced in steps of at most 64 KiB
//!   and checked against the message size limit as it grows; the output
//!   buffer never grows beyond the limit, whatever the compressed data
//!   expands to. Exceeding it is
//!   [`LimitError::MessageTooLarge`](crate::LimitError::MessageTooLarge)
//!   (1009). Corrupt data is
//!   [`ProtocolError::Extension`](crate::ProtocolError::Extension) with
//!   close code 1007: RFC 7692 only says to fail the connection, and 1007
//!   ("data within a message that was not consistent with the type of the
//!   message", RFC 6455 §7.4.1) describes a payload that does not inflate;
//!   Node's `ws` uses the same code.
//!
//! # Memory usage
//!
//! Measured with a counting allocator: a client and a server
//! [`Connection`](crate::Connection) exchange one 16 KiB JSON message each
//! way, and the numbers are per endpoint (half the pair), including the
//! connection's own buffers. "Idle" is what stays allocated afterwards,
//! "peak" the most held while the messages were processed.
//!
//! | Setting | Windows (ours / peer's) | Idle per connection | Peak per connection | 16 KiB JSON on the wire |
//! |---|---|---|---|---|
//! | compression off | – | 24.4 KiB | 32.4 KiB | 16.0 KiB + header |
//! | `DeflateConfig::default()` / `high_compression()` | 15 / 15, context takeover | 423.9 KiB | 441.1 KiB | 2.9 KiB |
//! | `DeflateConfig::balanced()` | 12 / 12, context takeover | 312.4 KiB | 331.1 KiB | 3.1 KiB |
//! | 10-bit windows, context takeover | 10 / 10, context takeover | 300.1 KiB | 317.9 KiB | 3.0 KiB |
//! | `DeflateConfig::low_memory()` | 10 / 10, no context takeover | 6.5 KiB | 139.2 KiB | 3.0 KiB |
//!
//! Reproduce with `cargo run -p switchboard-proto --example deflate_memory`
//! (numbers from zlib-rs 0.6 behind flate2 1.1, x86-64 Linux).
//!
//! What the numbers say:
//!
//! * The compressor dominates. zlib-rs allocates about 128 KiB of hash
//!   table and 64 KiB of pending buffer whatever the window, plus four
//!   times the window; smaller windows only save that last part (about
//!   124 KiB between 15 and 10 bits). flate2 exposes no `memLevel`, so the
//!   hash table cannot be shrunk.
//! * zlib-rs' inflater always allocates a 32 KiB window, so asking the
//!   peer for a smaller window saves memory on the peer's side (its
//!   compressor), not ours.
//! * Context takeover is the real price: with it, a connection keeps
//!   about 400 KiB (32 KiB windows) or 300 KiB (small windows) for its
//!   whole life, so 10,000 idle connections hold 3–4 GiB. Without it
//!   ([`DeflateConfig::low_memory`]) an idle connection holds less than an
//!   uncompressed one (its buffers only grew to the compressed size), and
//!   the deflate state exists only while a message is being processed.
//!   Messages then compress only against themselves: fine for messages of
//!   a few KiB, poor for streams of tiny similar messages.
//! * The `low_memory()` row has both ends configured with it, so the
//!   client offers `client_no_context_takeover`. A `low_memory()` server
//!   facing a client that does not offer it (Node's `ws` and Chromium by
//!   default) cannot impose it (see [`DeflateConfig::server_negotiate`]):
//!   its decompressor keeps the client's context, and an idle server
//!   connection then holds about 53 KiB instead of 6 KiB (measured the
//!   same way with a `DeflateConfig::default()` client, server side only).
//!   Its compressor is still freed between messages.
//! * Compression off is the right choice when messages are small or
//!   already compressed (images, protobuf with compressed fields).
//!
//! # Benchmarks
//!
//! End-to-end throughput of JSON text messages (arrays of event records
//! such as `{"id":123,"user":"user-123","event":"presence.update",…}`,
//! 16 distinct messages per size, sent in turn): a client
//! [`Connection`](crate::Connection) `send`s, its transmit bytes go to a
//! server `Connection`, which `poll_event`s the message out. Throughput
//! counts payload bytes; the ratio is wire bytes (frame headers included)
//! over payload bytes for one pass over the 16 messages on a fresh pair.
//! Both ends use the same setting, negotiated from header text.
//!
//! | Message | Setting | Throughput | vs. compression off | Wire / payload |
//! |---|---|---|---|---|
//! | 1 KiB | compression off | 5.9 GiB/s | 1 | 1.008 |
//! | 1 KiB | `DeflateConfig::default()` | 250 MiB/s | 1/24 | 0.225 |
//! | 1 KiB | `DeflateConfig::low_memory()` | 38 MiB/s | 1/160 | 0.385 |
//! | 64 KiB | compression off | 8.2 GiB/s | 1 | 1.0002 |
//! | 64 KiB | `DeflateConfig::default()` | 55 MiB/s | 1/150 | 0.177 |
//! | 64 KiB | `DeflateConfig::low_memory()` | 89 MiB/s | 1/94 | 0.246 |
//!
//! Measured 2026-11-29 on a shared, busy 2-core x86-64 VM (rustc 1.95,
//! zlib-rs 0.6.8 behind flate2 1.1.11, criterion medians). Absolute
//! numbers moved by up to 50 % between two runs there; the ratios between
//! rows held better (`low_memory` was 4–7 times slower than `default` at
//! 1 KiB and 1.5–1.6 times faster at 64 KiB in both runs) and the
//! compression ratios are exact (the input is deterministic). Reproduce
//! with
//! `cargo bench -p switchboard-proto --bench deflate -- --warm-up-time 1 --measurement-time 3`
//! (it prints each case's compression ratio before measuring it).
//!
//! What the numbers say:
//!
//! * Compression costs one to two orders of magnitude of CPU per byte:
//!   uncompressed, the core only frames, masks and validates UTF-8.
//!   Deflate pays off when the network, not the CPU, is the bottleneck: a
//!   connection moving 55 MiB/s of JSON puts under 10 MiB/s on the wire.
//! * Without context takeover small messages are slow: each one builds and
//!   frees a compressor (well over 100 KiB of zlib-rs state, see the
//!   memory table), which dominates a 1 KiB message. They also
//!   compress worse (0.385 against 0.225), because they cannot refer to
//!   the keys and values of earlier messages.
//! * For large messages the 10-bit window of `low_memory()` is faster than
//!   the 15-bit default (likely because zlib has fewer candidate matches
//!   to search) and compresses a little worse (0.246 against 0.177).

mod codec;
mod config;
mod error;
mod negotiate;

pub use codec::PerMessageDeflate;
pub use config::{DeflateConfig, DEFAULT_THRESHOLD, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
pub use error::DeflateNegotiationError;
pub use negotiate::{DeflateParams, DirectionParams, EXTENSION_NAME};
