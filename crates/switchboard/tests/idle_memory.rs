//! Memory held by idle server-side connections, measured with a counting
//! global allocator: 1000 connections are accepted, upgraded and left idle,
//! and the heap growth is divided by the count. Run with `--nocapture` to
//! see the figures quoted in the crate docs.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use futures_util::FutureExt;
use switchboard::WebSocket;
use switchboard_testkit::alloc::{CountingAllocator, ProcessMeter};
use tokio::net::TcpStream;

#[global_allocator]
static GLOBAL: CountingAllocator<ProcessMeter> = CountingAllocator::new(ProcessMeter::new());

const CONNECTIONS: usize = 1000;

/// The target from the product brief: at most 1 KiB per idle connection on
/// top of the socket itself.
const TARGET_BYTES_PER_CONNECTION: usize = 1024;

/// Heap per idle connection with keepalive armed: its slot in the
/// runtime's shared timer (32 B in a 4 KiB page) and its entry in the
/// timer's sorted set, 69 B measured. A `Sleep` per connection was 112 B;
/// above this bound the timer state has gone back to costing as much.
const MAX_HEAP_BYTES_PER_CONNECTION: f64 = 96.0;

fn live() -> isize {
    GLOBAL.meter().live()
}

#[test]
fn idle_connections_hold_at_most_one_kib_each() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bounded(measure()));
}

async fn measure() {
    let (listener, addr) = listener().await;

    // Raw blocking clients on their own thread: they allocate nothing per
    // connection after their Vec, so the heap growth is the server's.
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let clients = std::thread::spawn(move || {
        let mut sockets = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let tcp = std::net::TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            sockets.push(tcp);
        }
        go_rx.recv().unwrap();
        let mut head = [0u8; 512];
        for tcp in &mut sockets {
            tcp.write_all(UPGRADE_REQUEST.as_bytes()).unwrap();
            let mut read = 0;
            while !head[..read].ends_with(b"\r\n\r\n") {
                read += tcp.read(&mut head[read..]).unwrap();
            }
            assert!(head.starts_with(b"HTTP/1.1 101"));
        }
        done_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        drop(sockets);
    });

    let mut tcps: Vec<TcpStream> = Vec::with_capacity(CONNECTIONS);
    while tcps.len() < CONNECTIONS {
        tcps.push(listener.accept().await.unwrap().0);
    }
    let mut sockets: Vec<WebSocket<TcpStream>> = Vec::with_capacity(CONNECTIONS);
    tokio::task::yield_now().await;
    let before = live();

    go_tx.send(()).unwrap();
    for tcp in tcps.drain(..) {
        sockets.push(switchboard::accept(tcp).await.unwrap());
    }
    done_rx.await.unwrap();
    // Poll each socket into its idle state (read buffer released, keepalive
    // timer armed), as a server task waiting in `recv` would.
    for ws in &mut sockets {
        assert!(ws.recv().now_or_never().is_none());
    }
    let heap = (live() - before) as f64 / CONNECTIONS as f64;
    let inline = std::mem::size_of::<WebSocket<TcpStream>>() - std::mem::size_of::<TcpStream>();
    let per_socket = heap + inline as f64;

    // The same sockets, each parked in its own task in `recv().await`, as
    // in the echo server.
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    let before_tasks = live();
    for mut ws in sockets.drain(..) {
        tasks.push(tokio::spawn(
            async move { while ws.recv().await.is_some() {} },
        ));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The task allocation holds the WebSocket itself, so count its heap
    // only, not its inline size a second time.
    let per_task = heap + (live() - before_tasks) as f64 / CONNECTIONS as f64;

    println!(
        "idle memory per connection beyond the socket: {per_socket:.0} bytes \
         ({heap:.0} heap + {inline} inline in WebSocket<TcpStream>); \
         with a task per connection parked in recv: {per_task:.0} bytes"
    );
    release_tx.send(()).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    clients.join().unwrap();
    assert!(
        per_socket <= TARGET_BYTES_PER_CONNECTION as f64,
        "{per_socket:.0} bytes per idle connection, target {TARGET_BYTES_PER_CONNECTION}"
    );
    assert!(
        heap <= MAX_HEAP_BYTES_PER_CONNECTION,
        "{heap:.0} heap bytes per idle connection, bound {MAX_HEAP_BYTES_PER_CONNECTION}"
    );
}

/// A server task awaits `accept` and then serves the connection; its
/// future is as large as its largest state for the connection's whole life.
/// The opening handshake's state (parsed request, response, timeouts) must
/// therefore stay out of the `accept` future: inline it made every idle
/// connection's task 5.9 KiB (measured as server RSS at 10,000 idle
/// connections), boxed it is a short-lived allocation per handshake.
/// Bound on the futures returned by `accept`, `accept_with` and
/// `connect_on`: about the size of the `WebSocket` they yield (700-730 B,
/// debug or release), far below the 5.9 KiB of an inline handshake.
const MAX_HANDSHAKE_FUTURE: usize = 1024;

#[test]
fn handshake_state_does_not_size_the_callers_future() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bounded(async {
        let (_listener, addr) = listener().await;
        let socket = std::mem::size_of::<WebSocket<TcpStream>>();
        let accept = std::mem::size_of_val(&switchboard::accept(
            TcpStream::connect(addr).await.unwrap(),
        ));
        let builder = switchboard::ServerBuilder::new();
        let accept_with = std::mem::size_of_val(&builder.accept_with(
            TcpStream::connect(addr).await.unwrap(),
            |_: &switchboard::UpgradeRequest| Ok(switchboard::Accept::new()),
        ));
        let connect_on = std::mem::size_of_val(
            &switchboard::ClientBuilder::new("ws://127.0.0.1/")
                .connect_on(TcpStream::connect(addr).await.unwrap()),
        );
        println!(
            "future sizes: accept {accept} B, accept_with {accept_with} B, \
             connect_on {connect_on} B; WebSocket<TcpStream> {socket} B"
        );
        for (name, size) in [
            ("accept", accept),
            ("accept_with", accept_with),
            ("connect_on", connect_on),
        ] {
            assert!(
                size <= MAX_HANDSHAKE_FUTURE,
                "the {name} future is {size} B (limit {MAX_HANDSHAKE_FUTURE} B): \
                 the handshake state has moved back into the caller's future"
            );
        }
    }));
}

/// Bound on what a `WebSocket<TcpStream>` holds beyond the `TcpStream`.
/// tokio allocates a task in 128-byte steps: the benchmark's echo server
/// (a release build, where tokio's `TcpStream` is 24 B, plus 96 B of its
/// echo loop) is a 536-byte future and a 640-byte task, which is what
/// holds an idle connection at 1.19 KiB of server RSS (`bench/run.sh`'s
/// memory measurement; issue 16 asks for at most 1.2 KiB). Eight bytes
/// more and the task is 768 bytes, 1.31 KiB per connection. A field added
/// to the protocol state or the driver's core has to be paid for by a cut
/// elsewhere, or the bound raised knowingly. (The socket's own size is
/// left out: tokio's `TcpStream` is larger in test builds, 32-40 B.)
const MAX_WEBSOCKET_INLINE: usize = 416;

#[test]
fn an_idle_echo_connection_stays_in_a_640_byte_task() {
    let size = std::mem::size_of::<WebSocket<TcpStream>>() - std::mem::size_of::<TcpStream>();
    assert!(
        size <= MAX_WEBSOCKET_INLINE,
        "WebSocket<TcpStream> holds {size} B beyond the socket (limit {MAX_WEBSOCKET_INLINE} B): \
         an echo server's task grows to the next 128-byte step (see MAX_WEBSOCKET_INLINE)"
    );
}
