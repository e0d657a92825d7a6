//! # switchboard
//!
//! A fast, correct WebSocket (RFC 6455) client and server for tokio. All
//! protocol logic lives in the sans-I/O [`switchboard_proto`] core; this
//! crate moves bytes between it and a transport, runs its timers, and gives
//! it an async API: [`WebSocket`] is a [`Stream`](futures_core::Stream) of
//! `Result<Message, Error>` and a [`Sink<Message>`](futures_sink::Sink),
//! with `send`/`recv`/`feed`/`flush`/`close` as inherent async methods.
//!
//! ## Echo server
//!
//! ```no_run
//! use switchboard::Message;
//! use tokio::net::TcpListener;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:9001").await?;
//!     loop {
//!         let (tcp, _) = listener.accept().await?;
//!         tcp.set_nodelay(true)?;
//!         tokio::spawn(async move {
//!             let mut ws = switchboard::accept(tcp).await?;
//!             while let Some(message) = ws.recv().await {
//!                 match message? {
//!                     m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
//!                     _ => {} // pings are answered, closes echoed, automatically
//!                 }
//!             }
//!             Ok::<_, switchboard::Error>(())
//!         });
//!     }
//! }
//! ```
//!
//! ## Client
//!
//! ```no_run
//! use switchboard::{CloseCode, Message};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), switchboard::Error> {
//!     let (mut ws, _response) = switchboard::connect("ws://127.0.0.1:9001/").await?;
//!     ws.send(Message::text("hello")).await?;
//!     if let Some(reply) = ws.recv().await {
//!         println!("{:?}", reply?);
//!     }
//!     ws.close(CloseCode::NORMAL, "done").await
//! }
//! ```
//!
//! [`ClientBuilder`] adds headers, subprotocols, `Origin`, [`Config`],
//! [`Limits`] and connect/handshake timeouts; [`ClientBuilder::connect_on`]
//! runs the handshake over any `AsyncRead + AsyncWrite` (a TLS stream, a
//! proxy tunnel). [`accept_with`] lets the server inspect the request
//! (path, headers, `Origin`, offered subprotocols) and accept, choose a
//! subprotocol, add headers, or [`Reject`] it with a status and body.
//! [`WebSocket::from_raw`] wraps a stream upgraded elsewhere (hyper, axum).
//!
//! ## Compression
//!
//! permessage-deflate (RFC 7692) is off by default, because it costs memory
//! per connection, from a few KiB to a few hundred KiB depending on the
//! setting: see the measured table in
//! [`switchboard_proto::deflate`](switchboard_proto::deflate#memory-usage).
//! Enable it with
//! [`ClientBuilder::deflate`] / [`ServerBuilder::deflate`]; if the peer
//! declines, the connection simply runs uncompressed.
//!
//! ## Automatic replies: keep reading
//!
//! Pings are answered with pongs and the peer's close frame is echoed by the
//! library, **provided the application keeps reading** (polls `recv`, the
//! `Stream`, or the [`ReadHalf`]). The replies are queued by the protocol
//! core while decoding and written when the read side runs out of buffered
//! input (one write for all the replies to one batch of input), or at once
//! after a ping or close is handed to the application. An application that
//! only writes still flushes them with its next `send`/`flush`, but without
//! reading it never sees the peer's frames at all, so always have a task
//! reading.
//!
//! ## Keepalive and timeouts
//!
//! Timers are inputs to the protocol core (`poll_timeout`/`handle_timeout`).
//! The driver does not give each connection a `tokio::time::Sleep`: the
//! deadlines of all connections on a tokio runtime live in one shared timer
//! (a sorted set woken by a single `Sleep` in a task the first connection
//! spawns on that runtime), rounded up to 4 ms ticks. A connection holds a
//! 16-byte handle on it, and a poll whose deadline is unchanged or later
//! takes no lock; `tokio::time::pause()` drives it like any other timer.
//! By default ([`Config`]) a ping goes out once nothing has been received
//! *or* nothing has been sent for 20 s, and the connection fails with
//! [`Error::Connection`] ([`proto::Error::KeepaliveTimeout`]) if nothing answers within
//! another 20 s. Both directions count because some proxies time only one
//! (Caddy's `read_timeout` counts bytes from the backend): a server that
//! only receives still pings, so server-side keepalive alone keeps one-way
//! traffic open. "Sent" means queued by the core, automatic pongs included,
//! stamped with the latest time the driver passed in (a ping may come
//! early, never late). 20 s is well under the 60 s idle timeout of nginx
//! (`proxy_read_timeout`), AWS ALB and typical HAProxy setups (and
//! Cloudflare's 100 s), so an idle connection behind any of them stays
//! open, and a dead peer is noticed within 40 s. `Config::idle_timeout` (off by default) fails a connection
//! that receives nothing at all. The opening handshake is bounded by
//! [`DEFAULT_SERVER_HANDSHAKE_TIMEOUT`]/[`DEFAULT_CLIENT_TIMEOUT`] (10 s)
//! and the header limits in [`Limits`] (16 KiB, 64 headers; over them the
//! server answers 431 and closes).
//!
//! ## Closing
//!
//! [`WebSocket::close`] sends a close frame and waits, bounded by
//! `Config::close_timeout` (10 s), for the peer's close frame and for the
//! end of TCP: the server closes TCP first (RFC 6455 §7.1.1), a client
//! waits for that. [`WebSocket::close_now`] sends the frame without
//! waiting. Dropping a socket never blocks: it closes the transport without
//! a close frame. A clean close ends the stream with `Message::Close` and
//! then `None`; a transport that ends without a close frame yields
//! [`Error::Connection`] ([`proto::Error::AbnormalClosure`], code 1006) before `None`. After a protocol
//! violation the close frame with the RFC code (1002, 1007, 1009) is
//! flushed before the error is returned.
//!
//! ## Backpressure and batching
//!
//! `send`/`feed`/`poll_ready` wait while more than the write buffer limit
//! (128 KiB by default, [`WebSocket::set_write_buffer_limit`]) is queued.
//! `feed` only queues; `flush` (or `send`) writes everything queued in one
//! vectored write, frame headers and payloads side by side without copying
//! payloads. Transports without vectored writes get small frames coalesced
//! through an 8 KiB stack buffer, so a batch is still one `write`.
//!
//! ## Memory per idle connection
//!
//! Idle memory is a product figure. When no partial frame is buffered, the
//! driver reads into a 16 KiB stack buffer and copies into an allocation of
//! exactly the size read, so an idle connection holds no read buffer; an
//! emptied read buffer is released when the socket goes idle. The opening
//! handshake runs in a short-lived boxed future, so its state (parsed
//! request, response, timeouts) does not size the future of the task that
//! awaits [`accept`] and then serves the connection.
//!
//! Everything a connection needs only while closing (a failure waiting to
//! be reported, close deadlines), the peer's close frame and automatic
//! pongs under a ping flood live behind pointers that are null while the
//! connection is open and idle; the mask-key pool is allocated on a
//! client's first send and never on a server. The [`Config`] and
//! [`Limits`] of every connection a [`ServerBuilder`] accepts are one
//! shared [`Settings`].
//!
//! Two figures, measured differently:
//!
//! * **Live heap** (`tests/idle_memory.rs`: counting allocator, 1000 idle
//!   server connections, default config with keepalive armed, no
//!   compression): what the library itself holds.
//!
//!   | what | bytes per idle connection, beyond the `TcpStream` |
//!   | --- | --- |
//!   | `WebSocket<TcpStream>` held by the application | **484** (416 inline: protocol state, timer handle, flags; 68 heap: the connection's slot in the runtime's shared timer and its entry in the timer's sorted set) |
//!   | the same with a tokio task per connection parked in `recv().await` | 716 |
//!
//!   The test asserts at most 1 KiB for the socket and 96 B of heap. A
//!   connection with keepalive disabled takes no timer slot (−69 B). Before
//!   the shared timer, each connection's armed keepalive `Sleep` was a
//!   112-byte allocation of its own (576 B, 760 B with a task).
//! * **Process RSS** (`bench/run.sh`'s memory measurement: a
//!   `current_thread` echo server, 10,000 idle connections, `VmRSS` growth
//!   divided by the count, glibc malloc): what a whole server pays, tokio's
//!   task and socket registration included. The benchmark's echo server
//!   measures **1.19 KiB** per idle connection (1,215 B: RSS 2,664 KiB ->
//!   14,536 KiB for 10,000 connections, the same in three runs). A
//!   plain-TCP tokio echo server measures 1.13 KiB (1,152 B) on the same
//!   machine: tokio's task (a 128-byte-aligned allocation, 512 B for a bare
//!   socket) and its I/O registration (256 B) plus glibc's alignment slack
//!   are that floor, so Switchboard's own share is about 60 B. The task is
//!   the step that matters: the echo server's future is 536 B (the socket
//!   inline), which makes a 640-byte task; at 544 B it was a 768-byte task
//!   and 1.31 KiB per connection. Keeping it there is why the connection's
//!   times are 8-byte offsets from its first time, a reassembled and a
//!   decoded message share one buffer, the UTF-8 validator carries a niche
//!   and the write buffer limit is a `u32`.
//!
//!   A further cut toward uWebSockets' 0.3 KiB is not a matter of
//!   Switchboard's state (416 B inline) alone: tokio's task and readiness
//!   registration are 0.9 KiB of the 1.19. It would take connections that
//!   are not tasks: one task per thread polling a slab of connection
//!   states over mio (or io_uring) readiness, as uWebSockets' loop does,
//!   with the protocol state's rarely used parts (fragment reassembly, the
//!   transmit queue's bookkeeping) behind pointers that are null while
//!   idle.
//!
//! Buffers exist only while traffic flows: a read buffer sized to what was
//! read (large frames grow it geometrically up to `Limits::max_frame_size`)
//! and the transmit queue. Received messages are not copied out of the read
//! buffer: the messages of one read share its allocation (at most 16 KiB
//! for small messages; a large message gets a buffer of about its own
//! size). An application that keeps a few small messages from a busy
//! connection for long should copy them (`Bytes::copy_from_slice`), so that
//! they do not keep the whole read alive.
//!
//! **After a large message.** While large frames (over 16 KiB) flow, a
//! connection reads each message straight into a buffer of its size and,
//! once the application has dropped the message, reuses that allocation
//! for a later one instead of asking the allocator again (every fresh
//! megabyte cost page faults when glibc had given the last one back to
//! the kernel). So, without a memory budget, a connection that received
//! large messages keeps at most **two allocations of the large frames'
//! size** (each at most 4 MiB and a frame header) even while idle, until
//! a smaller message arrives, a keepalive ping goes out (one ping interval
//! without traffic, 20 s by default), or it closes. Under
//! `Limits::memory_budget` an idle connection keeps none. Nothing of this
//! touches process-wide allocator settings.
//!
//! ## Split halves
//!
//! [`WebSocket::split`] gives a [`ReadHalf`] (a `Stream`) and a
//! [`WriteHalf`] (a `Sink`, plus `send`/`feed`/`flush`/`close`) for two
//! tasks. Both share the protocol core behind a `std::sync::Mutex` that is
//! held only inside a non-blocking `poll_*` call, never across `.await`.
//! The reading half queues pongs and the close echo in the shared core and
//! flushes them through the shared transport itself, so automatic replies
//! work even if the writing task is idle; it also runs the keepalive timer.
//! Writes and timers register a waker that wakes both halves, so neither
//! half can steal the other's wakeup. The unsplit `WebSocket` takes no lock
//! at all. Measured cost (`examples/split-overhead.rs`: echo server, one
//! client with 8 messages in flight, server thread CPU time per message,
//! median of 3, on a shared 2-core machine, so ±25 ns):
//!
//! | server | 16 B messages | 1 KiB messages |
//! | --- | --- | --- |
//! | unsplit `WebSocket` | 450 ns/msg | 625 ns/msg |
//! | split, both halves in one task (the lock alone) | 500 ns/msg (+11 %) | 650 ns/msg (+4 %) |
//! | split, reader and writer tasks joined by an mpsc channel | 550 ns/msg | 775 ns/msg |
//!
//! The lock is uncontended in the common case and costs a few tens of
//! nanoseconds per message; most of the two-task cost is the channel and the
//! extra task wakeups. Use the unsplit socket (with `tokio::select!` over
//! `recv` and your other sources; `recv` is cancel safe) where one task can
//! do both.
//!
//! ## Cancel safety
//!
//! | method | cancel safe? |
//! | --- | --- |
//! | `recv`, `recv_event`, `recv_chunk`, `Stream::next` | yes: received bytes live in the connection, not the future (proven by `tests/cancel_safety.rs`) |
//! | `feed` | yes: the message is queued only when the future completes |
//! | `flush` | yes: progress is kept in the transmit buffer |
//! | `send`, `send_fragment` | no: if dropped, the message may or may not have been queued (it is then sent by the next flush) |
//! | `close` | yes: the close frame is queued once; calling again resumes the wait |
//! | `close_now` | not async |
//!
//! ## Streaming huge messages
//!
//! With [`Delivery::Chunks`] the receiver gets each frame's payload as it
//! arrives ([`WebSocket::recv_chunk`]); [`WebSocket::send_fragment`]
//! sends a message piece by piece. Neither side buffers the whole message.
//!
//! ## hyper and axum
//!
//! With the `hyper` feature, `switchboard::upgrade::Upgrade` turns a
//! WebSocket request received by a hyper 1.x server into the 101 response
//! plus a future of the [`WebSocket`]; with the `axum` feature,
//! `switchboard::upgrade::WebSocketUpgrade` is the same as an axum 0.8 extractor
//! (`ws.protocols([..]).on_upgrade(|ws| async move { .. })`). The request
//! checks and the 400/405/426 rejections are the protocol core's, as for
//! [`accept`]. Both features are off by default.
//!
//! ## WebSockets over HTTP/2 (RFC 8441)
//!
//! A browser that already holds an HTTP/2 connection to an origin opens
//! its `wss://` sockets as streams of that connection (an extended
//! `CONNECT` with `:protocol websocket`) when the server advertises
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL`: no TCP or TLS handshake per socket.
//!
//! * Server (feature `hyper`): serve connections with hyper's HTTP/2
//!   server and `enable_connect_protocol()` (hyper-util's auto builder:
//!   `builder.http2().enable_connect_protocol()` and
//!   `serve_connection_with_upgrades`), offer ALPN `h2` with
//!   `TlsAcceptor::offering_http2`. The same `Upgrade` and
//!   `WebSocketUpgrade` accept both versions: the core checks the request
//!   against RFC 8441 §4-5 (`:scheme`, `:path`, `:authority`,
//!   `sec-websocket-version`), negotiates subprotocols and
//!   permessage-deflate as on HTTP/1.1 and answers `200`. The session and
//!   its framing are unchanged (client frames stay masked). With axum,
//!   route with `any(..)`: the method is CONNECT.
//! * Client (feature `http2`): `Http2Connection::handshake` over a TLS
//!   stream that chose ALPN `h2` (or TCP, for h2c), then
//!   `ClientBuilder::connect_on_http2` once per WebSocket: they share the
//!   connection. `ClientBuilder::connect_preferring_http2` offers ALPN
//!   `h2, http/1.1` and falls back to an HTTP/1.1 upgrade when the server
//!   picks `http/1.1` or does not enable extended CONNECT, and says which
//!   it used (`ClientStream::Http1` or `ClientStream::Http2`).
//! * Flow control is the backpressure: a reader that stops reading stops
//!   the sender once the HTTP/2 stream window and the write buffer are
//!   full (tested: the server's sends stall, nothing queues without
//!   bound). A close ends the stream with END_STREAM; a peer's RST_STREAM
//!   reads as an abnormal close ([`Error::Io`]); neither disturbs the other
//!   streams of the connection.
//! * Cost, measured on loopback (example `h2_measure`, a busy shared
//!   2-core machine, so ratios only): one socket echoing 16 B with 8 in
//!   flight ran at about half the HTTP/1.1 rate (83-99k vs 172-176k msg/s,
//!   p50 55-77 µs vs 28 µs), 1 KiB at about 0.4x; an idle `/echo` socket
//!   on a shared h2 connection cost the server 3.7 KiB of RSS against 3.1
//!   KiB (plus kernel socket buffers) over HTTP/1.1. HTTP/2 pays off in
//!   handshakes saved and connections shared, not in speed.
//!
//! ## Errors
//!
//! [`Error`] is split by cause: a failed connection ([`Error::Connection`],
//! the protocol core's own [`proto::Error`] with its close code: the peer
//! broke the protocol, a limit, keepalive/idle/close timeouts, abnormal
//! closure), I/O, handshake (invalid, or a non-101 [`Error::Http`] answer
//! with its body), connect and handshake timeouts, use after close, refused
//! sends and local misuse, TLS and proxies. Each variant's docs say what
//! likely happened and what to do; the core classifies its failures once and
//! the driver hands them through, as quinn does with quinn-proto's.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod client;
mod connection_setup;
mod core;
mod error;
mod handshake_io;
mod server;
mod split;
mod timer;
mod transport;
#[cfg(feature = "hyper")]
pub mod upgrade;
mod websocket;

pub use switchboard_proto as proto;

#[cfg(feature = "http2")]
pub use client::h2::{ClientStream, Http2Connection, Http2WebSocket, HttpVersionUsed};
pub use client::{connect, ClientBuilder, DEFAULT_CLIENT_TIMEOUT};
pub use error::{Error, Misuse, TimeoutKind};
pub use server::{
    accept, accept_with, Accept, Reject, ServerBuilder, DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
};
pub use split::{ReadHalf, ReuniteError, WriteHalf};
pub use switchboard_proto::deflate::DeflateConfig;
pub use switchboard_proto::handshake::UpgradeRequest;
pub use switchboard_proto::{
    Chunk, CloseCode, CloseFrame, Config, DataKind, Delivery, Event, Limits, Message,
    ReceivedClose, Role, Settings, State, Stats, Utf8Bytes,
};
pub use websocket::WebSocket;

pub mod forwarded;
pub mod proxy;
pub mod tls;

pub use tls::MaybeTlsStream;
