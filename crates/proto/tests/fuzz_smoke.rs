//! Bounded property tests that throw hostile input at [`Connection`] in both
//! roles: arbitrary bytes, and well-formed-looking frames with random
//! header fields, each delivered in random chunks. The cargo-fuzz target
//! `fuzz/fuzz_targets/frames.rs` runs the same idea unbounded.
//!
//! Properties, for every input:
//! - `poll_event` yields events and then at most one typed error, whose
//!   close code is 1002, 1007 or 1009; after it, nothing more (no events,
//!   no bytes queued);
//! - the close frame queued on error carries that code;
//! - the same bytes cut differently give the same messages (streamed
//!   pieces joined), error and output; streamed text is always a valid
//!   UTF-8 prefix;
//! - the receive buffer never grows beyond what was fed plus a small
//!   constant (with small limits), however large the lengths the frames
//!   declare; see `buffer_bound`.
//!
//! The server's handshake parser gets the same treatment: arbitrary and
//! mutated request heads, fed as a growing buffer the way a driver reads.

mod common;

use common::*;
use proptest::prelude::*;
use switchboard_proto::handshake::{parse_request, UpgradeRequest};
use switchboard_proto::{CloseCode, Connection, Delivery, Error, Limits, Message, Role};

/// Largest receive-buffer capacity allowed after `fed` bytes.
///
/// With small limits (the hostile-peer setting) that is the fed bytes plus a
/// small constant: at most one frame of read-ahead and allocator rounding,
/// never the length a frame merely declares. With the default 16 MiB frame
/// limit the connection reads ahead in 64 KiB steps and grows geometrically,
/// so the bound is twice the fed bytes plus two such steps; still nothing
/// near a declared length of megabytes.
fn buffer_bound(limits: &Limits, fed: usize) -> usize {
    const STEP: usize = 64 * 1024;
    const ROUNDING: usize = 4 * 1024;
    if limits.max_frame_size + 14 <= STEP {
        fed + limits.max_frame_size + 14 + ROUNDING
    } else {
        2 * fed + 2 * STEP + ROUNDING
    }
}

fn small_limits() -> Limits {
    Limits::default().max_frame_size(256).max_message_size(1024)
}

fn role_of(server: bool) -> Role {
    if server {
        Role::Server
    } else {
        Role::Client
    }
}

fn delivery_of(streaming: bool) -> Delivery {
    if streaming {
        Delivery::Chunks
    } else {
        Delivery::Messages
    }
}

/// What one run produced, in a form that does not depend on how the bytes
/// were cut: streamed pieces joined into messages (a message the error cut
/// short is left out: streaming mode may hand out more or less of its valid
/// start depending on the reads) and sent frames decoded (a client masks
/// with a fresh random key each time).
#[derive(Debug, PartialEq)]
struct Trace {
    messages: Vec<Message>,
    error: Option<Error>,
    sent: Vec<WireFrame>,
}

/// Feeds `input` cut at `cuts` (chunk lengths, cycled) into a connection and
/// checks the per-run properties.
fn drive(role: Role, delivery: Delivery, limits: Limits, input: &[u8], cuts: &[usize]) -> Trace {
    let bound_limits = limits.clone();
    let mut conn = Connection::with_limits(role, test_config(delivery), limits);
    let mut trace = Trace {
        messages: Vec::new(),
        error: None,
        sent: Vec::new(),
    };
    let mut events = Vec::new();
    let mut sent = Vec::new();
    let mut fed = 0;
    let mut cut = cuts.iter().copied().cycle();
    while fed < input.len() {
        let len = cut
            .next()
            .unwrap_or(input.len())
            .clamp(1, input.len() - fed);
        conn.receive(&input[fed..fed + len]);
        fed += len;
        loop {
            match conn.poll_event() {
                Ok(Some(event)) => {
                    assert!(
                        trace.error.is_none(),
                        "event {event:?} after error {:?}",
                        trace.error
                    );
                    events.push(event);
                }
                Ok(None) => break,
                Err(err) => {
                    assert!(
                        trace.error.is_none(),
                        "second error {err:?} after {:?}",
                        trace.error
                    );
                    let code = err.close_code();
                    assert!(
                        [
                            CloseCode::PROTOCOL_ERROR,
                            CloseCode::INVALID_PAYLOAD,
                            CloseCode::MESSAGE_TOO_BIG
                        ]
                        .contains(&code),
                        "hostile input gave {err:?} with close code {code}"
                    );
                    assert!(conn.should_close_transport());
                    trace.error = Some(err);
                    sent.extend(drain_transmit(&mut conn));
                    break;
                }
            }
        }
        let more = drain_transmit(&mut conn);
        assert!(
            trace.error.is_none() || more.is_empty(),
            "sent {more:02x?} after the error"
        );
        sent.extend(more);
        let capacity = conn.read_buf().capacity();
        assert!(
            capacity <= buffer_bound(&bound_limits, fed),
            "receive buffer capacity {capacity} after {fed} bytes fed"
        );
    }
    let frames = decode_frames(&sent, role);
    if let Some(err) = &trace.error {
        let last = frames.last().expect("no close frame queued on error");
        assert_eq!(
            last.opcode, OP_CLOSE,
            "last frame sent on error is not a close: {frames:?}"
        );
        assert_eq!(
            last.close_code(),
            Some(err.close_code().0),
            "close frame code differs from {err:?}"
        );
        assert_eq!(
            frames.iter().filter(|f| f.opcode == OP_CLOSE).count(),
            1,
            "{frames:?}"
        );
    }
    trace.sent = frames;
    trace.messages = normalize(&events, delivery);
    trace
}

/// One frame header field set chosen at random, with a payload that may be
/// shorter than the declared length (the stream then ends mid-frame) and a
/// declared length that may be huge.
#[derive(Debug, Clone)]
struct FrameSpec {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    declared: Option<u64>,
    payload: Vec<u8>,
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    let opcode = prop_oneof![
        6 => prop::sample::select(vec![OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG]),
        1 => 0u8..16,
    ];
    let rsv = prop_oneof![8 => Just(0u8), 1 => 0u8..8];
    let payload = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..40),
        // Text-ish bytes and close payloads with plausible codes.
        2 => "[a-zé€𝄞]{0,20}".prop_map(String::into_bytes),
        1 => (990u16..5010, "[a-z]{0,10}").prop_map(|(code, reason)| close_payload(code, reason.as_bytes())),
        1 => prop::collection::vec(any::<u8>(), 120..300),
    ];
    let declared = prop_oneof![
        12 => Just(None),
        1 => prop::sample::select(vec![126u64, 65535, 65536, 1 << 20, 1 << 40, (1 << 63) - 1, u64::MAX]).prop_map(Some),
    ];
    let mask = prop_oneof![8 => Just(true), 1 => Just(false)];
    (
        any::<bool>(),
        rsv,
        opcode,
        mask,
        any::<[u8; 4]>(),
        declared,
        payload,
    )
        .prop_map(
            |(fin, rsv, opcode, masked, key, declared, payload)| FrameSpec {
                fin: fin || opcode >= 8,
                rsv,
                opcode,
                // `masked` means "follows the masking rule"; resolved per role.
                mask: masked.then_some(key),
                declared,
                payload,
            },
        )
}

/// Encodes specs as the peer of `role` would, masking by the rule unless
/// the spec breaks it.
fn encode_specs(role: Role, specs: &[FrameSpec]) -> Vec<u8> {
    let mut out = Vec::new();
    for spec in specs {
        let follows_rule = spec.mask.is_some();
        let key = spec.mask.unwrap_or([0x11, 0x22, 0x33, 0x44]);
        let masked = (role == Role::Server) == follows_rule;
        let mask = masked.then_some(key);
        match spec.declared {
            None => out.extend(encode_frame(
                spec.fin,
                spec.rsv,
                spec.opcode,
                mask,
                &spec.payload,
            )),
            Some(len) => {
                out.extend(encode_header(spec.fin, spec.rsv, spec.opcode, mask, len));
                out.extend_from_slice(&spec.payload);
            }
        }
    }
    out
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..64, 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_end_in_events_or_one_typed_error(
        server in any::<bool>(),
        streaming in any::<bool>(),
        input in prop::collection::vec(any::<u8>(), 0..512),
        cuts in cuts(),
    ) {
        let role = role_of(server);
        let delivery = delivery_of(streaming);
        let chopped = drive(role, delivery, small_limits(), &input, &cuts);
        let whole = drive(role, delivery, small_limits(), &input, &[input.len().max(1)]);
        prop_assert_eq!(chopped, whole);
    }

    #[test]
    fn random_frames_end_in_events_or_one_typed_error(
        server in any::<bool>(),
        streaming in any::<bool>(),
        specs in prop::collection::vec(frame_spec(), 1..12),
        cuts in cuts(),
    ) {
        let role = role_of(server);
        let delivery = delivery_of(streaming);
        let input = encode_specs(role, &specs);
        let chopped = drive(role, delivery, small_limits(), &input, &cuts);
        let whole = drive(role, delivery, small_limits(), &input, &[input.len().max(1)]);
        prop_assert_eq!(&chopped, &whole);
        // With default limits the same frames are judged the same way
        // unless a limit was the reason.
        let roomy = drive(role, delivery, Limits::default(), &input, &cuts);
        if !matches!(chopped.error, Some(Error::Limit(_))) && !matches!(roomy.error, Some(Error::Limit(_))) {
            prop_assert_eq!(chopped.error.is_some(), roomy.error.is_some());
        }
    }

    #[test]
    fn huge_declared_lengths_never_grow_the_buffer(
        server in any::<bool>(),
        declared in prop_oneof![Just(u64::MAX >> 1), 257u64..1 << 40, 65536u64..1 << 24],
        opcode in prop::sample::select(vec![OP_TEXT, OP_BINARY, OP_CONT, OP_PING]),
        trailing in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in cuts(),
    ) {
        let role = role_of(server);
        let mask = (role == Role::Server).then_some([7, 7, 7, 7]);
        let mut input = encode_header(true, 0, opcode, mask, declared);
        input.extend(trailing);
        // drive() checks the buffer bound after every read.
        let trace = drive(role, Delivery::Messages, small_limits(), &input, &cuts);
        prop_assert!(trace.error.is_some(), "a {declared}-byte frame was accepted with a 256-byte limit");
    }

    #[test]
    fn request_heads_parse_the_same_however_they_arrive(
        head in request_head(),
        max_header_bytes in prop_oneof![Just(16 * 1024usize), 32usize..600],
        cuts in cuts(),
    ) {
        let limits = Limits::default().max_header_bytes(max_header_bytes);
        check_request_head(&head, &limits, &cuts)?;
    }
}

/// A valid upgrade request head, then mutated: lines dropped, duplicated,
/// swapped or corrupted, names re-cased, random bytes spliced in.
fn request_head() -> impl Strategy<Value = Vec<u8>> {
    let lines = vec![
        "GET /chat?room=1 HTTP/1.1".to_string(),
        "Host: server.example.com".to_string(),
        "Upgrade: websocket".to_string(),
        "Connection: keep-alive, Upgrade".to_string(),
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==".to_string(),
        "Sec-WebSocket-Version: 13".to_string(),
        "Origin: http://example.com".to_string(),
        "Sec-WebSocket-Protocol: chat, superchat".to_string(),
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits".to_string(),
    ];
    let edit = prop_oneof![
        3 => Just(None),
        1 => (any::<prop::sample::Index>(), any::<u8>(), 0usize..4).prop_map(Some),
    ];
    (
        prop::collection::vec(edit, 9),
        prop::collection::vec(any::<u8>(), 0..24),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(move |(edits, noise, at, splice)| {
            let mut lines = lines.clone();
            for (i, edit) in edits.into_iter().enumerate() {
                let Some((index, byte, kind)) = edit else {
                    continue;
                };
                match kind {
                    0 => lines[i].clear(),
                    1 => lines.push(lines[i].clone()),
                    2 => lines[i] = lines[i].to_uppercase(),
                    _ => {
                        let mut bytes = lines[i].clone().into_bytes();
                        if !bytes.is_empty() {
                            let at = index.index(bytes.len());
                            bytes[at] = byte;
                        }
                        lines[i] = String::from_utf8_lossy(&bytes).into_owned();
                    }
                }
            }
            let mut head: Vec<u8> = lines
                .iter()
                .filter(|l| !l.is_empty())
                .flat_map(|l| [l.as_bytes(), b"\r\n"].concat())
                .collect();
            head.extend_from_slice(b"\r\n");
            if splice {
                let at = at.index(head.len());
                head.splice(at..at, noise);
            }
            head
        })
}

/// Parses `head` (followed by a WebSocket frame, as when the client
/// pipelines) the way a driver does: a growing buffer, parsed after every
/// read, until it is complete or fails.
fn check_request_head(head: &[u8], limits: &Limits, cuts: &[usize]) -> Result<(), TestCaseError> {
    let frame = encode_frame(true, 0, OP_TEXT, Some([1, 2, 3, 4]), b"after the head");
    let stream = [head, &frame[..]].concat();
    let whole = parse_request(&stream, limits);
    let mut cut = cuts.iter().copied().cycle();
    let mut have = 0;
    let verdict = loop {
        have = (have + cut.next().unwrap_or(1)).min(stream.len());
        match parse_request(&stream[..have], limits) {
            Ok(None) => {
                prop_assert!(
                    have <= limits.max_header_bytes,
                    "incomplete past the limit: {have} bytes"
                );
                prop_assert!(have < stream.len(), "incomplete with the whole stream");
            }
            other => break other,
        }
    };
    match (&verdict, &whole) {
        (Ok(Some((request, consumed))), Ok(Some((whole_request, whole_consumed)))) => {
            prop_assert_eq!(consumed, whole_consumed);
            prop_assert!(*consumed <= limits.max_header_bytes && *consumed <= have);
            prop_assert_eq!(request.headers(), whole_request.headers());
            prop_assert_eq!(request.uri(), whole_request.uri());
            match UpgradeRequest::from_request(request.clone()) {
                Ok(upgrade) => {
                    // A request that passes all checks never eats into the
                    // WebSocket stream. It may end before the generated head
                    // does: a mutated head like `...bits\n\r\n\r\n` ends at
                    // the first blank line (a bare LF ends a header line,
                    // RFC 9112 §2.2), and the rest belongs to the stream.
                    prop_assert!(*consumed <= head.len());
                    prop_assert!(stream[*consumed..].ends_with(&frame));
                    prop_assert!(!upgrade.key.is_empty());
                }
                Err(error) => {
                    prop_assert!(
                        error.status().is_client_error(),
                        "{error:?} -> {}",
                        error.status()
                    );
                    let (response, _body) = error.to_response();
                    prop_assert_eq!(response.status(), error.status());
                }
            }
        }
        (Err(error), Err(whole_error)) => {
            prop_assert_eq!(
                error.status(),
                whole_error.status(),
                "{:?} vs {:?}",
                error,
                whole_error
            );
            prop_assert!(error.status().is_client_error(), "{error:?}");
        }
        (verdict, whole) => {
            prop_assert!(false, "read by read: {verdict:?}; whole: {whole:?}");
        }
    }
    Ok(())
}
