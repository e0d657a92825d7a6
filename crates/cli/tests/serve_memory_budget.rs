//! Decompression bombs against the real binary: 100 connections to
//! `serve --compression on --memory-budget 64MiB` each send a 1 MiB
//! permessage-deflate bomb at once. Every one is closed with 1009, and the
//! server's peak resident memory grows by less than the budget.
//!
//! What makes the budget bound resident memory: the protocol core owns the
//! read buffer and charges a frame's declared size before it grows the
//! buffer for it (a frame that does not fit is refused with 1009 while only
//! its first read is held), inflation charges each step's output and the
//! copy a growth makes, and a failed connection gives its buffer back at
//! once instead of holding it while it waits for the peer's end of stream;
//! and `serve` has glibc give large freed buffers back to the kernel
//! (`crates/cli/src/allocator.rs`), since a released charge whose pages
//! the allocator keeps still counts in resident memory. Before the first
//! two, peaks were 45-78 MiB over the same budget; with them but glibc's
//! dynamic mmap threshold, 73-81 MiB (CI failed on it); with all three,
//! five runs on 2026-12-07 peaked 23-53 MiB over it (the rest is the first
//! 16 KiB read of each connection, inflater state and
//! the allocator). The budget's accounting itself is proven in
//! `crates/proto/tests/memory_budget.rs` and, for the hub's queues, in
//! `crates/hub/tests/hub_limits.rs`.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Barrier};

use common::{read_response_with, tcp, upgrade_request, Server};

const CONNECTIONS: usize = 100;
const BUDGET: usize = 64 << 20;
const BOMB_BYTES: usize = 1 << 20;

/// A raw DEFLATE stream (RFC 1951) of `len` bytes that inflates to ~150
/// times its size in zeros: one fixed-Huffman block holding a literal 0
/// and then `<length 258, distance 1>` matches, 13 bits each. Written by
/// hand so that the size of the bomb is exact. The block is never ended:
/// the server must give up long before.
fn deflate_bomb(len: usize) -> Vec<u8> {
    let mut bits = BitWriter::default();
    bits.put(0, 1); // BFINAL = 0
    bits.put(1, 2); // BTYPE = 01, fixed Huffman
    bits.put_code(0b0011_0000, 8); // literal 0
    while bits.bytes.len() < len {
        bits.put_code(0b1100_0101, 8); // length code 285: 258 bytes
        bits.put_code(0, 5); // distance code 0: distance 1
    }
    bits.bytes.truncate(len);
    bits.bytes
}

/// Packs bits LSB first, as DEFLATE does.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    /// `count` bits of `value`, least significant first (header fields).
    fn put(&mut self, value: u32, count: u32) {
        for bit in 0..count {
            if self.used % 8 == 0 {
                self.bytes.push(0);
            }
            let last = self.bytes.last_mut().unwrap();
            *last |= (((value >> bit) & 1) as u8) << (self.used % 8);
            self.used += 1;
        }
    }

    /// A Huffman code, most significant bit first.
    fn put_code(&mut self, code: u32, count: u32) {
        for bit in (0..count).rev() {
            self.put((code >> bit) & 1, 1);
        }
    }
}

/// One masked binary frame with RSV1 set (a compressed message's first
/// and only frame).
fn compressed_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut frame = vec![0x80 | 0x40 | 0x2, 0x80 | 127];
    frame.extend((payload.len() as u64).to_be_bytes());
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// VmRSS and VmHWM of `pid`, in bytes.
fn memory(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Reads server frames until the close frame; its status code, or `None`
/// when the stream ends (or resets) without one.
fn close_code(stream: &mut impl Read) -> Option<u16> {
    loop {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).ok()?;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).ok()?;
            len = u64::from(u16::from_be_bytes(ext));
        } else if len == 127 {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).ok()?;
            len = u64::from_be_bytes(ext);
        }
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload).ok()?;
        if head[0] & 0x0f == 0x8 {
            return payload
                .get(..2)
                .map(|code| u16::from_be_bytes([code[0], code[1]]));
        }
    }
}

#[test]
fn a_hundred_deflate_bombs_at_once_all_get_1009_within_the_budget() {
    let mut server = Server::start(&["--compression", "on", "--memory-budget", "64MiB"]);
    let pid = server.pid();
    let bomb = Arc::new(compressed_frame(&deflate_bomb(BOMB_BYTES)));

    // Every connection is upgraded (permessage-deflate accepted) before
    // any bomb goes out.
    let mut streams = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = tcp(server.addr);
        let request = upgrade_request(
            "/echo",
            &["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
        );
        stream.write_all(request.as_bytes()).unwrap();
        let response = read_response_with(&mut stream, false);
        assert_eq!(response.status, 101);
        let extensions = response.header("sec-websocket-extensions").unwrap_or("");
        assert!(extensions.contains("permessage-deflate"), "{extensions:?}");
        streams.push(stream);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (rss_before, _) = memory(pid);

    let start = Arc::new(Barrier::new(CONNECTIONS));
    let clients: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let bomb = bomb.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                start.wait();
                // Written on its own thread: the server may close before
                // it has read the whole frame.
                let send = std::thread::spawn(move || {
                    let _ = writer.write_all(&bomb);
                });
                let code = close_code(&mut stream);
                let _ = send.join();
                code
            })
        })
        .collect();
    let codes: Vec<Option<u16>> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let (rss_after, hwm_after) = memory(pid);

    let growth = hwm_after.saturating_sub(rss_before);
    println!(
        "{CONNECTIONS} bombs of {BOMB_BYTES} bytes, budget {} MiB: RSS before {:.1} MiB, \
         after {:.1} MiB, peak (VmHWM) {:.1} MiB, peak growth {:.1} MiB; close codes {:?}",
        BUDGET >> 20,
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        hwm_after as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        codes
            .iter()
            .fold(std::collections::BTreeMap::new(), |mut m, c| {
                *m.entry(*c).or_insert(0) += 1;
                m
            })
    );
    assert!(
        codes.iter().all(|code| *code == Some(1009)),
        "every bomb gets 1009: {codes:?}"
    );
    assert!(
        growth < BUDGET,
        "peak RSS grew by {growth} bytes, over the {BUDGET}-byte budget"
    );
    server.signal("TERM");
    server.wait_exit(common::TIMEOUT);
}
