//! The opening handshake end to end: client request -> server parse and
//! checks -> 101 -> client checks, plus chunking and hostile-input
//! properties for both parsers.

use http::header::{HeaderName, HeaderValue, AUTHORIZATION, SET_COOKIE};
use http::{HeaderMap, Request, StatusCode};
use proptest::prelude::*;
use switchboard_proto::handshake::{
    encode_response, parse_request, ClientOutcome, ClientRequest, UpgradeRequest,
};
use switchboard_proto::{ExtensionOffer, HandshakeError, Limits};

fn client(uri: &str) -> ClientRequest {
    ClientRequest::new(&uri.parse().unwrap()).unwrap()
}

fn encode(request: &ClientRequest) -> Vec<u8> {
    let mut out = Vec::new();
    request.encode(&mut out);
    out
}

/// Server side: parse the whole request and check it.
fn upgrade(bytes: &[u8]) -> UpgradeRequest {
    let (request, consumed) = parse_request(bytes, &Limits::default())
        .unwrap()
        .expect("complete request");
    assert_eq!(consumed, bytes.len());
    UpgradeRequest::from_request(request).unwrap()
}

/// The server accepts the first subprotocol and the first extension offer.
fn accept_first(upgrade: &UpgradeRequest) -> Vec<u8> {
    let response = upgrade
        .accept(
            upgrade.subprotocols.first().map(String::as_str),
            &upgrade.extensions[..upgrade.extensions.len().min(1)],
            &HeaderMap::new(),
        )
        .unwrap();
    let mut out = Vec::new();
    encode_response(&response, b"", &mut out);
    out
}

#[test]
fn round_trip_with_subprotocols_and_extensions() {
    let deflate = ExtensionOffer::new("permessage-deflate")
        .with_param("client_max_window_bits", None::<String>)
        .with_param("server_max_window_bits", Some("10"));
    let request = client("ws://localhost:9001/chat?room=1")
        .origin("http://localhost:9001")
        .subprotocol("chat")
        .subprotocol("superchat")
        .extension(deflate.clone())
        .extension(ExtensionOffer::new("permessage-deflate"))
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer secret"));
    let request_bytes = encode(&request);

    let upgrade = upgrade(&request_bytes);
    assert_eq!(upgrade.key, request.key());
    assert_eq!(upgrade.origin.as_deref(), Some("http://localhost:9001"));
    assert_eq!(upgrade.subprotocols, ["chat", "superchat"]);
    assert_eq!(
        upgrade.extensions,
        [deflate.clone(), ExtensionOffer::new("permessage-deflate")]
    );
    assert_eq!(upgrade.request.uri().path(), "/chat");
    assert_eq!(upgrade.request.uri().query(), Some("room=1"));
    assert_eq!(upgrade.request.headers()["host"], "localhost:9001");
    assert_eq!(upgrade.request.headers()[AUTHORIZATION], "Bearer secret");

    let answer = ExtensionOffer::new("permessage-deflate")
        .with_param("client_max_window_bits", Some("10"))
        .with_param("server_max_window_bits", Some("10"));
    let mut extra = HeaderMap::new();
    extra.insert(SET_COOKIE, HeaderValue::from_static("session=1"));
    let response = upgrade
        .accept(Some("superchat"), std::slice::from_ref(&answer), &extra)
        .unwrap();
    let mut response_bytes = Vec::new();
    // A first frame arriving in the same read as the head.
    encode_response(&response, b"\x81\x02hi", &mut response_bytes);

    let (outcome, consumed) = request
        .parse_response(&response_bytes, &Limits::default())
        .unwrap()
        .expect("complete response");
    assert_eq!(&response_bytes[consumed..], b"\x81\x02hi");
    assert_eq!(outcome.subprotocol.as_deref(), Some("superchat"));
    assert_eq!(outcome.extensions, [answer]);
    assert_eq!(outcome.response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(outcome.response.headers()[SET_COOKIE], "session=1");
}

#[test]
fn round_trip_without_offers() {
    let request = client("wss://example.com");
    let upgrade = upgrade(&encode(&request));
    assert!(upgrade.subprotocols.is_empty() && upgrade.extensions.is_empty());
    assert_eq!(upgrade.origin, None);
    let response = accept_first(&upgrade);
    let (outcome, _) = request
        .parse_response(&response, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(outcome.subprotocol, None);
    assert!(outcome.extensions.is_empty());
}

/// The request Python `websockets` 17.4 sends with `extensions=[]`: an
/// empty `Sec-WebSocket-Extensions` line, which RFC 7230 §7 says to read as
/// no extension at all.
#[test]
fn python_websockets_empty_extensions_header_is_no_offer() {
    let request = b"GET / HTTP/1.1\r\n\
Host: 127.0.0.1:9001\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: \r\n\
User-Agent: Python/3.13 websockets/17.4\r\n\
\r\n";
    let upgrade = upgrade(request);
    assert!(upgrade.extensions.is_empty());
    assert!(upgrade.subprotocols.is_empty());
    let response = String::from_utf8(accept_first(&upgrade)).unwrap();
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(
        !response
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{response}"
    );
}

#[test]
fn server_rejection_reaches_the_client_intact() {
    let request = client("ws://localhost/chat");
    let text = String::from_utf8(encode(&request)).unwrap();
    let old_version = text.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let (parsed, _) = parse_request(old_version.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap();
    let error = UpgradeRequest::from_request(parsed).unwrap_err();
    let (response, body) = error.to_response();
    let mut wire = Vec::new();
    encode_response(&response, &body, &mut wire);

    match request.parse_response(&wire, &Limits::default()) {
        Err(HandshakeError::UnexpectedStatus {
            status,
            headers,
            body: received,
        }) => {
            assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
            assert_eq!(headers["sec-websocket-version"], "13");
            assert_eq!(received, body);
            assert!(std::str::from_utf8(&received)
                .unwrap()
                .contains("version 8"));
        }
        other => panic!("expected the 426 to reach the client, got {other:?}"),
    }
}

#[test]
fn tampered_accept_fails_the_client() {
    let request = client("ws://localhost/");
    let other = client("ws://localhost/");
    // The server answers a different key.
    let response = accept_first(&upgrade(&encode(&other)));
    assert!(matches!(
        request.parse_response(&response, &Limits::default()),
        Err(HandshakeError::AcceptMismatch { .. })
    ));
}

/// A request's observable parts, for comparing parse results.
fn request_parts(request: &Request<()>) -> (String, String, http::Version, HeaderMap) {
    (
        request.method().to_string(),
        request.uri().to_string(),
        request.version(),
        request.headers().clone(),
    )
}

fn outcome_parts(
    outcome: &ClientOutcome,
) -> (StatusCode, HeaderMap, Option<String>, Vec<ExtensionOffer>) {
    (
        outcome.response.status(),
        outcome.response.headers().clone(),
        outcome.subprotocol.clone(),
        outcome.extensions.clone(),
    )
}

#[test]
fn every_prefix_of_request_and_response_waits_then_matches_the_whole() {
    let request = client("ws://localhost:9001/chat")
        .origin("http://localhost")
        .subprotocol("chat")
        .subprotocol("superchat")
        .extension(
            ExtensionOffer::new("permessage-deflate")
                .with_param("client_max_window_bits", None::<String>),
        );
    let request_bytes = encode(&request);
    let limits = Limits::default();
    for end in 0..request_bytes.len() {
        assert!(
            parse_request(&request_bytes[..end], &limits)
                .unwrap()
                .is_none(),
            "request prefix of {end} bytes"
        );
    }
    let (whole, consumed) = parse_request(&request_bytes, &limits).unwrap().unwrap();
    assert_eq!(consumed, request_bytes.len());

    let upgrade = UpgradeRequest::from_request(whole).unwrap();
    let response_bytes = accept_first(&upgrade);
    for end in 0..response_bytes.len() {
        assert!(
            request
                .parse_response(&response_bytes[..end], &limits)
                .unwrap()
                .is_none(),
            "response prefix of {end} bytes"
        );
    }
    let (outcome, consumed) = request
        .parse_response(&response_bytes, &limits)
        .unwrap()
        .unwrap();
    assert_eq!(consumed, response_bytes.len());
    assert_eq!(outcome.subprotocol.as_deref(), Some("chat"));
}

// ------------------------------------------------------------------ properties

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,10}"
}

fn extension_offer() -> impl Strategy<Value = ExtensionOffer> {
    (
        token(),
        prop::collection::vec((token(), prop::option::of(token())), 0..4),
    )
        .prop_map(|(name, params)| {
            params
                .into_iter()
                .fold(ExtensionOffer::new(name), |offer, (param, value)| {
                    offer.with_param(param, value)
                })
        })
}

fn client_request() -> impl Strategy<Value = ClientRequest> {
    (
        "[a-z]{1,12}",
        prop::option::of(1u16..),
        "(/[a-zA-Z0-9._~-]{0,8}){0,3}",
        prop::option::of("[a-z]{1,8}"),
        prop::collection::btree_set(token(), 0..4),
        prop::collection::vec(extension_offer(), 0..3),
        prop::collection::vec(("x-[a-z]{1,8}", "[ -~]{0,20}"), 0..3),
    )
        .prop_map(|(host, port, path, origin, protocols, offers, extra)| {
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            let mut request =
                ClientRequest::new(&format!("ws://{host}{port}{path}").parse().unwrap()).unwrap();
            if let Some(origin) = origin {
                request = request.origin(format!("https://{origin}.example"));
            }
            for protocol in protocols {
                request = request.subprotocol(protocol);
            }
            for offer in offers {
                request = request.extension(offer);
            }
            for (name, value) in extra {
                let value = HeaderValue::from_str(value.trim()).unwrap();
                request = request.header(HeaderName::try_from(name).unwrap(), value);
            }
            request
        })
}

/// `elements` joined by commas with the empty elements `padding` between
/// them (RFC 7230 §7: `a, , b` lists the same as `a, b`).
fn padded_list(elements: &[String], padding: &[&str]) -> String {
    let mut list = String::new();
    for (index, element) in elements.iter().enumerate() {
        list.push_str(padding.get(index).copied().unwrap_or(""));
        list.push_str(element);
        list.push(',');
    }
    list.push_str(padding.last().copied().unwrap_or(""));
    list
}

fn empty_elements() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop::sample::select(vec!["", " ", "\t", ",", " , ", ",,", "\t,\t"]),
        0..6,
    )
}

/// Cut points: strictly increasing offsets inside `0..len`.
fn cuts(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|cut| cut % (len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Feeds `bytes` in pieces ending at each cut, then the rest, calling `parse`
/// on the grown buffer each time, and returns the first complete result.
/// Asserts nothing completes before the whole head has arrived.
fn feed<T>(
    bytes: &[u8],
    head_len: usize,
    raw_cuts: &[usize],
    mut parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
) -> Result<(T, usize), TestCaseError> {
    for end in cuts(bytes.len(), raw_cuts).into_iter().chain([bytes.len()]) {
        match parse(&bytes[..end]) {
            Ok(None) => prop_assert!(end < head_len, "incomplete at {end} of {head_len}"),
            Ok(Some(done)) => {
                prop_assert!(end >= head_len, "complete at {end} before {head_len}");
                return Ok(done);
            }
            Err(error) => return Err(TestCaseError::fail(format!("error at {end}: {error}"))),
        }
    }
    Err(TestCaseError::fail("never completed"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn empty_list_elements_never_change_what_is_offered(
        protocols in prop::collection::btree_set(token(), 0..4),
        offers in prop::collection::vec(extension_offer(), 0..3),
        protocol_padding in empty_elements(),
        extension_padding in empty_elements(),
    ) {
        let protocols: Vec<String> = protocols.into_iter().collect();
        let offer_texts: Vec<String> = offers.iter().map(ToString::to_string).collect();
        let request = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {}\r\nSec-WebSocket-Extensions: {}\r\n\r\n",
            padded_list(&protocols, &protocol_padding),
            padded_list(&offer_texts, &extension_padding),
        );
        let upgrade = upgrade(request.as_bytes());
        prop_assert_eq!(upgrade.subprotocols, protocols);
        prop_assert_eq!(upgrade.extensions, offers);
    }

    #[test]
    fn any_split_of_a_valid_request_and_response_gives_the_whole_result(
        request in client_request(),
        request_cuts in prop::collection::vec(any::<usize>(), 0..12),
        response_cuts in prop::collection::vec(any::<usize>(), 0..12),
        trailing in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let limits = Limits::default();
        let mut request_bytes = encode(&request);
        let request_head = request_bytes.len();
        request_bytes.extend_from_slice(&trailing);

        let (whole, whole_consumed) = parse_request(&request_bytes, &limits).unwrap().unwrap();
        prop_assert_eq!(whole_consumed, request_head);
        let (split, split_consumed) =
            feed(&request_bytes, request_head, &request_cuts, |buf| parse_request(buf, &limits))?;
        prop_assert_eq!(split_consumed, request_head);
        prop_assert_eq!(request_parts(&split), request_parts(&whole));

        let upgrade = UpgradeRequest::from_request(split).unwrap();
        let mut response_bytes = accept_first(&upgrade);
        let response_head = response_bytes.len();
        response_bytes.extend_from_slice(&trailing);

        let (whole, whole_consumed) = request.parse_response(&response_bytes, &limits).unwrap().unwrap();
        prop_assert_eq!(whole_consumed, response_head);
        let (split, split_consumed) =
            feed(&response_bytes, response_head, &response_cuts, |buf| request.parse_response(buf, &limits))?;
        prop_assert_eq!(split_consumed, response_head);
        prop_assert_eq!(outcome_parts(&split), outcome_parts(&whole));
        prop_assert_eq!(split.subprotocol.as_deref(), upgrade.subprotocols.first().map(String::as_str));
        prop_assert_eq!(&split.extensions[..], &upgrade.extensions[..upgrade.extensions.len().min(1)]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_wait_only_under_the_limit(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        max_header_bytes in 0usize..400,
        max_headers in 0usize..12,
    ) {
        check_hostile(&bytes, &Limits::default().max_header_bytes(max_header_bytes).max_headers(max_headers))?;
    }

    #[test]
    fn incomplete_heads_wait_exactly_while_within_the_limit(
        request in client_request(),
        cut in any::<usize>(),
        slack in -3isize..=3,
    ) {
        let request_bytes = encode(&request);
        let response_bytes = accept_first(&upgrade(&request_bytes));
        for bytes in [&request_bytes, &response_bytes] {
            // Any proper prefix of a head is incomplete.
            let prefix = &bytes[..cut % bytes.len()];
            let max_header_bytes = prefix.len().saturating_add_signed(slack);
            let limits = Limits::default().max_header_bytes(max_header_bytes);
            let server = parse_request(prefix, &limits).map(|done| done.is_some());
            let client = request.parse_response(prefix, &limits).map(|done| done.is_some());
            let expected = if prefix.len() <= max_header_bytes {
                Ok(false)
            } else {
                Err(HandshakeError::HeadTooLarge { max: max_header_bytes })
            };
            if bytes == &request_bytes {
                prop_assert_eq!(server, expected);
            } else {
                prop_assert_eq!(client, expected);
            }
        }
    }

    #[test]
    fn mutated_handshakes_never_panic_and_wait_only_under_the_limit(
        request in client_request(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
        truncate in any::<usize>(),
        max_header_bytes in 0usize..600,
        max_headers in 0usize..16,
    ) {
        let limits = Limits::default().max_header_bytes(max_header_bytes).max_headers(max_headers);
        let mut request_bytes = encode(&request);
        let response_bytes = accept_first(&upgrade(&request_bytes));
        for mut bytes in [request_bytes.clone(), response_bytes] {
            mutate(&mut bytes, &edits, truncate);
            check_hostile(&bytes, &limits)?;
            check_hostile_response(&request, &bytes, &limits)?;
        }
        mutate(&mut request_bytes, &edits, truncate);
        check_hostile(&request_bytes, &Limits::default())?;
    }
}

/// Overwrites, inserts or removes bytes, then maybe cuts the tail.
fn mutate(bytes: &mut Vec<u8>, edits: &[(usize, u8, u8)], truncate: usize) {
    for &(at, byte, kind) in edits {
        let at = at % (bytes.len() + 1);
        match kind {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    if truncate % 4 == 0 {
        bytes.truncate(truncate % (bytes.len() + 1));
    }
}

/// Server parsing of hostile bytes: no panic, `Ok(None)` only within the
/// limit, every error a 4xx the server can send.
fn check_hostile(bytes: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    match parse_request(bytes, limits) {
        Ok(None) => prop_assert!(bytes.len() <= limits.max_header_bytes),
        Ok(Some((request, consumed))) => {
            prop_assert!(consumed <= bytes.len() && consumed <= limits.max_header_bytes);
            prop_assert!(request.headers().len() <= limits.max_headers);
            if let Err(error) = UpgradeRequest::from_request(request) {
                let status = error.status();
                prop_assert!(
                    [
                        StatusCode::BAD_REQUEST,
                        StatusCode::METHOD_NOT_ALLOWED,
                        StatusCode::UPGRADE_REQUIRED
                    ]
                    .contains(&status),
                    "{error:?} -> {status}"
                );
                let (response, _) = error.to_response();
                prop_assert_eq!(response.status(), status);
            }
        }
        Err(error) => {
            match &error {
                HandshakeError::HeadTooLarge { max } => {
                    prop_assert_eq!(*max, limits.max_header_bytes);
                    prop_assert!(bytes.len() > limits.max_header_bytes);
                }
                HandshakeError::TooManyHeaders { max } => prop_assert!(*max <= limits.max_headers),
                HandshakeError::MalformedHead(_)
                | HandshakeError::InvalidRequestTarget
                | HandshakeError::InvalidHeaderValue { .. } => {}
                other => prop_assert!(false, "unexpected request error {other:?}"),
            }
            let status = error.status();
            prop_assert!(
                status == StatusCode::BAD_REQUEST
                    || status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "{error:?} -> {status}"
            );
        }
    }
    Ok(())
}

/// Client parsing of hostile bytes: no panic, `Ok(None)` only within the
/// limit, a limit error only past it.
fn check_hostile_response(
    request: &ClientRequest,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(), TestCaseError> {
    match request.parse_response(bytes, limits) {
        Ok(None) => prop_assert!(bytes.len() <= limits.max_header_bytes),
        Ok(Some((outcome, consumed))) => {
            prop_assert!(consumed <= bytes.len() && consumed <= limits.max_header_bytes);
            prop_assert_eq!(outcome.response.status(), StatusCode::SWITCHING_PROTOCOLS);
        }
        Err(HandshakeError::HeadTooLarge { max }) => {
            prop_assert_eq!(max, limits.max_header_bytes);
            prop_assert!(bytes.len() > limits.max_header_bytes);
        }
        Err(HandshakeError::TooManyHeaders { max }) => prop_assert!(max <= limits.max_headers),
        Err(HandshakeError::UnexpectedStatus { body, .. }) => {
            prop_assert!(body.len() <= limits.max_header_bytes)
        }
        Err(
            HandshakeError::MalformedHead(_)
            | HandshakeError::InvalidStatusCode(_)
            | HandshakeError::InvalidHeaderValue { .. }
            | HandshakeError::DuplicateHeader(_)
            | HandshakeError::InvalidExtensions { .. },
        ) => {}
        Err(
            error @ (HandshakeError::ResponseMissingUpgrade
            | HandshakeError::ResponseMissingConnectionUpgrade
            | HandshakeError::AcceptMismatch { .. }
            | HandshakeError::SubprotocolNotOffered { .. }
            | HandshakeError::ExtensionNotOffered { .. }),
        ) => prop_assert_eq!(error.status(), StatusCode::BAD_GATEWAY),
        Err(other) => prop_assert!(false, "unexpected response error {other:?}"),
    }
    Ok(())
}
