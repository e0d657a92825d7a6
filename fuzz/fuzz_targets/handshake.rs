//! Arbitrary bytes into both handshake parsers.
//!
//! Input layout: byte 0 picks `Limits::max_header_bytes`, byte 1 picks
//! `Limits::max_headers`, the rest is the head. In the response, `@@` is
//! replaced by the correct `Sec-WebSocket-Accept` for the client's random
//! key, so the fuzzer can get past the accept check and reach the
//! subprotocol and extension checks.
//!
//! Besides "no panic", it checks the parsers' promises: `Ok(None)` only
//! within the byte limit, a complete head never longer than the limit or
//! the input, one byte less of a complete head is incomplete, and every
//! server-side rejection can be serialised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_proto::handshake::{
    accept_key, encode_response, parse_request, ClientRequest, UpgradeRequest,
};
use switchboard_proto::{ExtensionOffer, HandshakeError, Limits};

fuzz_target!(|data: &[u8]| {
    let [max_bytes, max_headers, head @ ..] = data else {
        return;
    };
    let limits = Limits::default()
        .max_header_bytes(*max_bytes as usize * 16)
        .max_headers(*max_headers as usize % 80);
    server(head, &limits);
    client(head, &limits);
});

fn server(head: &[u8], limits: &Limits) {
    let result = parse_request(head, limits);
    check_bounds(
        head,
        limits,
        result.as_ref().map(|done| done.as_ref().map(|(_, n)| *n)),
    );
    let mut out = Vec::new();
    match result {
        Ok(Some((request, consumed))) => {
            assert!(
                matches!(parse_request(&head[..consumed - 1], limits), Ok(None)),
                "a shorter head must be incomplete"
            );
            match UpgradeRequest::from_request(request) {
                Ok(upgrade) => {
                    let response = upgrade
                        .accept(
                            upgrade.subprotocols.first().map(String::as_str),
                            &upgrade.extensions[..upgrade.extensions.len().min(1)],
                            &http::HeaderMap::new(),
                        )
                        .expect("answering offered values is never misuse");
                    encode_response(&response, b"", &mut out);
                }
                Err(error) => reject(&error, &mut out),
            }
        }
        Ok(None) => {}
        Err(error) => reject(&error, &mut out),
    }
}

fn reject(error: &HandshakeError, out: &mut Vec<u8>) {
    assert!(error.status().is_client_error(), "{error:?}");
    let (response, body) = error.to_response();
    encode_response(&response, &body, out);
}

fn client(head: &[u8], limits: &Limits) {
    let uri = http::Uri::from_static("ws://fuzz.example/chat");
    let request = ClientRequest::new(&uri)
        .expect("valid URI")
        .subprotocol("chat")
        .subprotocol("superchat")
        .extension(
            ExtensionOffer::new("permessage-deflate")
                .with_param("client_max_window_bits", None::<&str>),
        );
    let head = with_accept(head, &accept_key(request.key().as_bytes()));
    let result = request.parse_response(&head, limits);
    check_bounds(
        &head,
        limits,
        result.as_ref().map(|done| done.as_ref().map(|(_, n)| *n)),
    );
    match result {
        Ok(Some((outcome, consumed))) => {
            assert!(matches!(
                request.parse_response(&head[..consumed - 1], limits),
                Ok(None)
            ));
            assert_eq!(
                outcome.response.status(),
                http::StatusCode::SWITCHING_PROTOCOLS
            );
            if let Some(protocol) = &outcome.subprotocol {
                assert!(protocol == "chat" || protocol == "superchat");
            }
            assert!(outcome
                .extensions
                .iter()
                .all(|e| e.name == "permessage-deflate"));
        }
        Err(HandshakeError::UnexpectedStatus { body, .. }) => {
            assert!(body.len() <= limits.max_header_bytes)
        }
        Ok(None) | Err(_) => {}
    }
}

/// Replaces every `@@` with the expected accept value.
fn with_accept(head: &[u8], accept: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + accept.len());
    let mut rest = head;
    while let Some(at) = rest.windows(2).position(|pair| pair == b"@@") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(accept.as_bytes());
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    out
}

fn check_bounds(input: &[u8], limits: &Limits, result: Result<Option<usize>, &HandshakeError>) {
    match result {
        Ok(None) => assert!(input.len() <= limits.max_header_bytes),
        Ok(Some(consumed)) => {
            assert!(consumed <= input.len() && consumed <= limits.max_header_bytes)
        }
        Err(HandshakeError::HeadTooLarge { max }) => {
            assert_eq!(*max, limits.max_header_bytes);
            assert!(input.len() > limits.max_header_bytes);
        }
        Err(HandshakeError::TooManyHeaders { max }) => assert!(*max <= limits.max_headers),
        Err(_) => {}
    }
}
