//! Throughput of the hot paths: frame parsing, masking, UTF-8 validation.
//!
//! Run: `cargo bench -p switchboard-proto --bench proto`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_proto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use switchboard_proto::mask::{apply_mask, apply_mask_naive, extend_masked};
use switchboard_proto::utf8::Utf8Validator;
use switchboard_proto::{Config, Connection, Event, Role};

/// A masked client frame carrying `payload`.
fn client_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key);
    out
}

fn receive_all(stream: &[u8]) -> usize {
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(stream);
    let mut count = 0;
    while let Ok(Some(event)) = conn.poll_event() {
        black_box(&event);
        if matches!(event, Event::Message(_)) {
            count += 1;
        }
    }
    count
}

fn frame_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let small: Vec<u8> = (0..1000)
        .flat_map(|i| client_frame(OpCode::Text, format!("message number {i:04}").as_bytes()))
        .collect();
    group.throughput(Throughput::Bytes(small.len() as u64));
    group.bench_function("1000 small text frames", |b| {
        b.iter(|| assert_eq!(receive_all(black_box(&small)), 1000))
    });
    let large = client_frame(OpCode::Binary, &vec![0xA5; 64 * 1024]);
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("one 64 KiB binary frame", |b| {
        b.iter(|| assert_eq!(receive_all(black_box(&large)), 1))
    });
    group.bench_function("header decode only", |b| {
        b.iter(|| FrameHeader::decode(black_box(&large[..14])).unwrap())
    });
    group.finish();
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    let key = [0x12, 0x34, 0x56, 0x78];
    for size in [16usize, 1024, 64 * 1024, 1024 * 1024] {
        let mut buf = vec![0x5Au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("apply_mask", size), &size, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), key))
        });
        group.bench_with_input(BenchmarkId::new("naive", size), &size, |b, _| {
            b.iter(|| apply_mask_naive(black_box(&mut buf), key, 0))
        });
        // What a client does per frame: payload into the transmit buffer,
        // masked. Fused against copy-then-mask.
        let mut out = bytes::BytesMut::with_capacity(size);
        group.bench_with_input(BenchmarkId::new("extend_masked", size), &size, |b, _| {
            b.iter(|| {
                out.clear();
                extend_masked(&mut out, black_box(&buf), key);
                black_box(&out);
            })
        });
        group.bench_with_input(BenchmarkId::new("copy_then_mask", size), &size, |b, _| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(&buf));
                apply_mask(&mut out, key);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let ascii = "The quick brown fox jumps over the lazy dog. ".repeat(1500);
    let multi = "Grüße, κόσμε, こんにちは, 𝄞 — ".repeat(1500);
    for (name, text) in [("ascii", ascii.as_bytes()), ("multibyte", multi.as_bytes())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(BenchmarkId::new("whole", name), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(text)).unwrap();
                v.finish().unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("incremental 1000 B pieces", name), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(text).chunks(1000) {
                    v.feed(piece).unwrap();
                }
                v.finish().unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("std from_utf8", name), |b| {
            b.iter(|| std::str::from_utf8(black_box(text)).unwrap().len())
        });
    }
    group.finish();
}

criterion_group!(benches, frame_parsing, masking, utf8);
criterion_main!(benches);
