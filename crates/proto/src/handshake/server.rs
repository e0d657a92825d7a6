//! The server side: reading a request head, checking it against RFC 6455
//! §4.2.1 and answering 101 (§4.2.2).

use http::header::{
    CONNECTION, HOST, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};

use super::extensions_header::{format_offers, parse_extensions, validate_offer};
use super::header_values::{contains_token, is_token, joined, list_elements, single};
use super::http_head::{head_length, header_map, header_slots, window};
use super::key::{accept_key, is_valid_client_key};
use super::HandshakeError;
use crate::{ExtensionOffer, Limits};

/// Parses one HTTP/1.x request head from the start of `buf` (any request,
/// not only upgrades).
///
/// `Ok(None)`: the head is not complete yet and `buf` is still within
/// `Limits::max_header_bytes`; read more and call again with the whole
/// buffer. `Ok(Some((request, consumed)))`: the first `consumed` bytes were
/// the head (blank line included); what follows belongs to the body or, after
/// an upgrade, to the WebSocket stream.
///
/// Errors: [`HandshakeError::HeadTooLarge`] and
/// [`HandshakeError::TooManyHeaders`] (431), malformed HTTP (400).
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Request<()>, usize)>, HandshakeError> {
    let mut slots = header_slots(limits);
    let slot_count = slots.len();
    let mut parsed = httparse::Request::new(&mut slots);
    let outcome = parsed.parse(window(buf, limits));
    let Some(consumed) = head_length(outcome, buf.len(), slot_count, limits)? else {
        return Ok(None);
    };
    // A complete parse fills every field.
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(HandshakeError::MalformedHead(httparse::Error::Token));
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| HandshakeError::MalformedHead(httparse::Error::Token))?;
    let uri: Uri = target
        .parse()
        .map_err(|_| HandshakeError::InvalidRequestTarget)?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = header_map(parsed.headers)?;
    Ok(Some((request, consumed)))
}

/// A request that passed every RFC 6455 §4.2.1 check, with what the client
/// offered. The server decides on a subprotocol and extensions and calls
/// [`UpgradeRequest::accept`], or rejects with its own response.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    /// The request as received.
    pub request: Request<()>,
    /// The client's `Sec-WebSocket-Key`, trimmed; empty for an HTTP/2
    /// extended CONNECT (RFC 8441 §5 drops the key).
    pub key: String,
    /// The `Origin` header, for the server to check against its allow-list
    /// (RFC 6455 §10.2). Browsers always send it; other clients may not.
    pub origin: Option<String>,
    /// Offered subprotocols in the client's order of preference;
    /// `chat, superchat` gives `["chat", "superchat"]`, and several header
    /// lines are concatenated.
    pub subprotocols: Vec<String>,
    /// Offered extensions, parsed with the RFC 6455 §9.1 grammar, in order.
    pub extensions: Vec<ExtensionOffer>,
}

/// Headers [`UpgradeRequest::accept`] writes itself.
const ACCEPT_RESERVED: [http::HeaderName; 5] = [
    UPGRADE,
    CONNECTION,
    SEC_WEBSOCKET_ACCEPT,
    SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_EXTENSIONS,
];

impl UpgradeRequest {
    /// Checks `request` against RFC 6455 §4.2.1 and collects the offers.
    ///
    /// Each failure is a distinct [`HandshakeError`] whose
    /// [`to_response`](HandshakeError::to_response) is the right answer:
    /// not GET (405 + `Allow: GET`), older than HTTP/1.1 (400), no `Host`
    /// (400), no `Upgrade: websocket` (426), no `Connection: upgrade` (400),
    /// a key that is not base64 of 16 bytes (400), a version other than 13
    /// (426 + `Sec-WebSocket-Version: 13`), malformed subprotocol or extension
    /// lists (400). Header values that are not text give 400.
    pub fn from_request(request: Request<()>) -> Result<Self, HandshakeError> {
        // RFC 6455 §4.2.1 item 1: the method MUST be GET.
        if request.method() != Method::GET {
            return Err(HandshakeError::MethodNotAllowed(request.method().clone()));
        }
        // RFC 6455 §4.2.1 item 1: HTTP/1.1 or higher.
        if request.version() < Version::HTTP_11 {
            return Err(HandshakeError::UnsupportedHttpVersion(request.version()));
        }
        let headers = request.headers();
        // RFC 6455 §4.2.1 item 2: a Host header field (exactly one, RFC 7230 §5.4).
        if single(headers, &HOST)?.is_none() {
            return Err(HandshakeError::MissingHost);
        }
        // RFC 6455 §4.2.1 item 3: Upgrade includes "websocket", case-insensitively.
        if !contains_token(headers, &UPGRADE, "websocket")? {
            return Err(HandshakeError::NotWebSocketUpgrade);
        }
        // RFC 6455 §4.2.1 item 4: Connection includes the token "Upgrade",
        // case-insensitively (`keep-alive, Upgrade` from Firefox counts).
        if !contains_token(headers, &CONNECTION, "upgrade")? {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // RFC 6455 §4.2.1 item 5: Sec-WebSocket-Key decodes to 16 bytes.
        let key = single(headers, &SEC_WEBSOCKET_KEY)?.ok_or(HandshakeError::MissingKey)?;
        if !is_valid_client_key(key) {
            return Err(HandshakeError::InvalidKey);
        }
        // RFC 6455 §4.2.1 item 6: Sec-WebSocket-Version is 13, else 426
        // listing the versions we speak.
        match single(headers, &SEC_WEBSOCKET_VERSION) {
            Ok(Some("13")) => {}
            Ok(other) => return Err(HandshakeError::UnsupportedVersion(other.map(str::to_owned))),
            Err(HandshakeError::DuplicateHeader(_)) => {
                return Err(HandshakeError::UnsupportedVersion(joined(
                    headers,
                    &SEC_WEBSOCKET_VERSION,
                )?))
            }
            Err(other) => return Err(other),
        }
        let ClientOffers {
            origin,
            subprotocols,
            extensions,
        } = client_offers(headers)?;
        Ok(UpgradeRequest {
            key: key.to_owned(),
            origin,
            subprotocols,
            extensions,
            request,
        })
    }

    /// Whether `request` asks for a WebSocket upgrade at all (an `Upgrade`
    /// header holding `websocket`), so a server can answer plain HTTP (such
    /// as `/healthz`) on the same port otherwise. Values that are not text
    /// count as "no".
    pub fn is_upgrade(request: &Request<()>) -> bool {
        contains_token(request.headers(), &UPGRADE, "websocket").unwrap_or(false)
    }

    /// Builds the 101 Switching Protocols response (RFC 6455 §4.2.2):
    /// `Upgrade`, `Connection`, `Sec-WebSocket-Accept`, the chosen
    /// subprotocol and extensions, then `extra_headers` (e.g. `Set-Cookie`).
    ///
    /// Local misuse errors (status 500): `subprotocol` not among
    /// [`UpgradeRequest::subprotocols`], an extension whose name the client
    /// did not offer or that cannot be written as tokens, or an extra header
    /// the handshake writes itself.
    pub fn accept(
        &self,
        subprotocol: Option<&str>,
        extensions: &[ExtensionOffer],
        extra_headers: &HeaderMap,
    ) -> Result<Response<()>, HandshakeError> {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        let accept = HeaderValue::try_from(accept_key(self.key.as_bytes()))
            .map_err(|_| HandshakeError::InvalidKey)?;
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);

        if let Some(protocol) = subprotocol {
            // RFC 6455 §4.2.2 step 5.4: the value must be one the client offered.
            let offered = self
                .subprotocols
                .iter()
                .find(|offered| *offered == protocol);
            let not_offered = || HandshakeError::AcceptSubprotocolNotOffered(protocol.to_owned());
            let offered = offered.ok_or_else(not_offered)?;
            let value = HeaderValue::from_str(offered).map_err(|_| not_offered())?;
            headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
        }

        if !extensions.is_empty() {
            for extension in extensions {
                // RFC 6455 §9.1: the server may only answer offered extensions.
                if !self
                    .extensions
                    .iter()
                    .any(|offer| offer.name == extension.name)
                {
                    return Err(HandshakeError::AcceptExtensionNotOffered(
                        extension.name.clone(),
                    ));
                }
                validate_offer(extension)?;
            }
            let value = HeaderValue::try_from(format_offers(extensions)).map_err(|_| {
                HandshakeError::InvalidExtensionOffer {
                    name: extensions[0].name.clone(),
                    reason: "not valid header text",
                }
            })?;
            headers.insert(SEC_WEBSOCKET_EXTENSIONS, value);
        }

        for (name, value) in extra_headers {
            if ACCEPT_RESERVED.contains(name) {
                return Err(HandshakeError::ReservedHeader(name.clone()));
            }
            headers.append(name.clone(), value.clone());
        }
        Ok(response)
    }
}

/// What a client offers besides the handshake proper, read the same way
/// over HTTP/1.1 (RFC 6455 §4.2.1 items 7 to 9) and HTTP/2 (RFC 8441 §5):
/// the `Origin`, the subprotocols and the extensions.
pub(super) fn client_offers(headers: &HeaderMap) -> Result<ClientOffers, HandshakeError> {
    // RFC 6455 §4.2.1 item 7: Origin is optional; the server's policy
    // decides. RFC 6454 §7.3: at most one Origin header.
    let origin = single(headers, &ORIGIN)?.map(str::to_owned);
    // RFC 6455 §4.2.1 item 8 and §4.1: a list of unique tokens.
    // RFC 7230 §7: empty elements are ignored, so `Sec-WebSocket-Protocol:`
    // with nothing but commas and whitespace offers no subprotocol.
    let subprotocols = match joined(headers, &SEC_WEBSOCKET_PROTOCOL)? {
        None => Vec::new(),
        Some(list) => {
            let offered: Vec<String> = list_elements(&list).map(str::to_owned).collect();
            if !offered.iter().all(|protocol| is_token(protocol)) {
                return Err(HandshakeError::InvalidSubprotocols);
            }
            offered
        }
    };
    // RFC 6455 §4.2.1 item 9 and §9.1 grammar.
    let extensions = match joined(headers, &SEC_WEBSOCKET_EXTENSIONS)? {
        None => Vec::new(),
        Some(list) => parse_extensions(&list)?,
    };
    Ok(ClientOffers {
        origin,
        subprotocols,
        extensions,
    })
}

/// The offers [`client_offers`] reads, as [`UpgradeRequest`] keeps them.
pub(super) struct ClientOffers {
    pub(super) origin: Option<String>,
    pub(super) subprotocols: Vec<String>,
    pub(super) extensions: Vec<ExtensionOffer>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::encode_response;

    const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    /// A request head: `request_line`, then `lines`, then the blank line.
    fn request_text(request_line: &str, lines: &[&str]) -> Vec<u8> {
        let mut text = format!("{request_line}\r\n");
        for line in lines {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        text.into_bytes()
    }

    fn valid_lines() -> Vec<&'static str> {
        vec![
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Version: 13",
        ]
    }

    fn parse(bytes: &[u8]) -> Request<()> {
        let (request, consumed) = parse_request(bytes, &Limits::default()).unwrap().unwrap();
        assert_eq!(consumed, bytes.len());
        request
    }

    fn check(lines: &[&str]) -> Result<UpgradeRequest, HandshakeError> {
        UpgradeRequest::from_request(parse(&request_text("GET /chat HTTP/1.1", lines)))
    }

    fn without(name: &str) -> Vec<&'static str> {
        valid_lines()
            .into_iter()
            .filter(|line| {
                !line
                    .to_ascii_lowercase()
                    .starts_with(&name.to_ascii_lowercase())
            })
            .collect()
    }

    fn replaced(name: &str, line: &'static str) -> Vec<&'static str> {
        let mut lines = without(name);
        lines.push(line);
        lines
    }

    #[test]
    fn rfc_sample_request_is_accepted() {
        let upgrade = check(&valid_lines()).unwrap();
        assert_eq!(upgrade.key, SAMPLE_KEY);
        assert_eq!(upgrade.origin.as_deref(), Some("http://example.com"));
        assert_eq!(upgrade.subprotocols, ["chat", "superchat"]);
        assert!(upgrade.extensions.is_empty());
        assert_eq!(upgrade.request.uri().path(), "/chat");
        assert!(UpgradeRequest::is_upgrade(&upgrade.request));
    }

    #[test]
    fn rfc_sample_response_has_published_accept() {
        let upgrade = check(&valid_lines()).unwrap();
        let response = upgrade
            .accept(Some("chat"), &[], &HeaderMap::new())
            .unwrap();
        let mut out = Vec::new();
        encode_response(&response, b"", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: chat\r\n\r\n"
        );
    }

    #[test]
    fn only_get_is_allowed() {
        for method in ["POST", "PUT", "HEAD", "OPTIONS", "CONNECT"] {
            let bytes = request_text(&format!("{method} /chat HTTP/1.1"), &valid_lines());
            let error = UpgradeRequest::from_request(parse(&bytes)).unwrap_err();
            assert!(
                matches!(error, HandshakeError::MethodNotAllowed(_)),
                "{method}"
            );
            let (response, _) = error.to_response();
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(response.headers()["allow"], "GET");
        }
    }

    #[test]
    fn http_1_0_upgrade_is_refused() {
        let bytes = request_text("GET /chat HTTP/1.0", &valid_lines());
        let error = UpgradeRequest::from_request(parse(&bytes)).unwrap_err();
        assert_eq!(
            error,
            HandshakeError::UnsupportedHttpVersion(Version::HTTP_10)
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn newer_http_versions_pass_the_version_rule() {
        let mut request = parse(&request_text("GET /chat HTTP/1.1", &valid_lines()));
        *request.version_mut() = Version::HTTP_2;
        assert!(UpgradeRequest::from_request(request).is_ok());
    }

    #[test]
    fn host_is_required_once() {
        assert_eq!(
            check(&without("Host")).unwrap_err(),
            HandshakeError::MissingHost
        );
        let mut lines = valid_lines();
        lines.push("Host: other.example.com");
        assert_eq!(
            check(&lines).unwrap_err(),
            HandshakeError::DuplicateHeader(HOST)
        );
    }

    #[test]
    fn upgrade_must_name_websocket() {
        for lines in [
            without("Upgrade"),
            replaced("Upgrade", "Upgrade: h2c"),
            replaced("Upgrade", "Upgrade: websockets"),
        ] {
            let error = check(&lines).unwrap_err();
            assert_eq!(error, HandshakeError::NotWebSocketUpgrade);
            let (response, _) = error.to_response();
            assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        }
        assert!(check(&replaced("Upgrade", "Upgrade: WebSocket")).is_ok());
        assert!(check(&replaced("Upgrade", "Upgrade: h2c, WEBSOCKET")).is_ok());
        let mut lines = replaced("Upgrade", "Upgrade: h2c");
        lines.push("Upgrade: websocket");
        assert!(check(&lines).is_ok(), "token on a second Upgrade line");
    }

    #[test]
    fn connection_token_list_is_matched_case_insensitively() {
        for accepted in [
            "Connection: keep-alive, Upgrade",
            "Connection: upgrade",
            "Connection: UPGRADE",
            "Connection:keep-alive,upgrade",
        ] {
            assert!(
                check(&replaced("Connection", accepted)).is_ok(),
                "{accepted}"
            );
        }
        let mut lines = replaced("Connection", "Connection: keep-alive");
        lines.push("Connection: Upgrade");
        assert!(check(&lines).is_ok(), "token on a second Connection line");
        for refused in [
            "Connection: keep-alive",
            "Connection: upgraded",
            "Connection: close",
        ] {
            let error = check(&replaced("Connection", refused)).unwrap_err();
            assert_eq!(error, HandshakeError::MissingConnectionUpgrade, "{refused}");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        }
        assert_eq!(
            check(&without("Connection")).unwrap_err(),
            HandshakeError::MissingConnectionUpgrade
        );
    }

    #[test]
    fn key_must_decode_to_sixteen_bytes() {
        assert_eq!(
            check(&without("Sec-WebSocket-Key")).unwrap_err(),
            HandshakeError::MissingKey
        );
        for bad in [
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==AAAA",
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
            "Sec-WebSocket-Key: not base64 at all!!!!!!",
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=",
            "Sec-WebSocket-Key: ",
        ] {
            let error = check(&replaced("Sec-WebSocket-Key", bad)).unwrap_err();
            assert_eq!(error, HandshakeError::InvalidKey, "{bad}");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        }
        let mut lines = valid_lines();
        lines.push("Sec-WebSocket-Key: x3JJHMBDL1EzLkh9GBhXDw==");
        assert_eq!(
            check(&lines).unwrap_err(),
            HandshakeError::DuplicateHeader(SEC_WEBSOCKET_KEY)
        );
        // Whitespace around the value is not part of it.
        let upgrade = check(&replaced(
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Key:   x3JJHMBDL1EzLkh9GBhXDw==  ",
        ))
        .unwrap();
        assert_eq!(upgrade.key, "x3JJHMBDL1EzLkh9GBhXDw==");
    }

    #[test]
    fn version_other_than_13_gets_426_with_version_13() {
        for (lines, offered) in [
            (
                replaced("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
                Some("8"),
            ),
            (
                replaced("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8"),
                Some("13, 8"),
            ),
            (without("Sec-WebSocket-Version"), None),
        ] {
            let error = check(&lines).unwrap_err();
            assert_eq!(
                error,
                HandshakeError::UnsupportedVersion(offered.map(str::to_owned))
            );
            let (response, _) = error.to_response();
            assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
            assert_eq!(response.headers()["sec-websocket-version"], "13");
        }
        let mut lines = valid_lines();
        lines.push("Sec-WebSocket-Version: 8");
        assert_eq!(
            check(&lines).unwrap_err(),
            HandshakeError::UnsupportedVersion(Some("13, 8".into()))
        );
    }

    #[test]
    fn origin_is_optional_and_exposed() {
        assert_eq!(check(&without("Origin")).unwrap().origin, None);
        let upgrade = check(&replaced("Origin", "Origin: https://app.example")).unwrap();
        assert_eq!(upgrade.origin.as_deref(), Some("https://app.example"));
    }

    #[test]
    fn subprotocols_split_across_lines_keep_order() {
        let mut lines = replaced("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat");
        lines.push("Sec-WebSocket-Protocol: superchat, v2.json");
        let upgrade = check(&lines).unwrap();
        assert_eq!(upgrade.subprotocols, ["chat", "superchat", "v2.json"]);
        assert!(check(&without("Sec-WebSocket-Protocol"))
            .unwrap()
            .subprotocols
            .is_empty());
        for bad in [
            "Sec-WebSocket-Protocol: chat room",
            "Sec-WebSocket-Protocol: , chat/1 ,",
            "Sec-WebSocket-Protocol: chat/1",
            "Sec-WebSocket-Protocol: \"chat\"",
        ] {
            assert_eq!(
                check(&replaced("Sec-WebSocket-Protocol", bad)).unwrap_err(),
                HandshakeError::InvalidSubprotocols,
                "{bad}"
            );
        }
    }

    #[test]
    fn extensions_are_parsed_across_lines() {
        let mut lines = valid_lines();
        lines.push("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
        lines.push("Sec-WebSocket-Extensions: x-foo; a=\"1\"");
        let upgrade = check(&lines).unwrap();
        assert_eq!(
            upgrade.extensions,
            [
                ExtensionOffer::new("permessage-deflate")
                    .with_param("client_max_window_bits", None::<String>),
                ExtensionOffer::new("x-foo").with_param("a", Some("1")),
            ]
        );
        let mut lines = valid_lines();
        lines.push("Sec-WebSocket-Extensions: permessage-deflate; =1");
        let error = check(&lines).unwrap_err();
        assert!(matches!(error, HandshakeError::InvalidExtensions { .. }));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn empty_list_elements_are_ignored_in_every_list_header() {
        // RFC 7230 §7: Python `websockets` sends `Sec-WebSocket-Extensions: `
        // (empty) when configured with `extensions=[]`.
        for empty in ["", " ", ",", " , \t,"] {
            let extensions = format!("Sec-WebSocket-Extensions: {empty}");
            let protocols = format!("Sec-WebSocket-Protocol: {empty}");
            let mut lines = without("Sec-WebSocket-Protocol");
            lines.push(&extensions);
            lines.push(&protocols);
            let upgrade = check(&lines).unwrap_or_else(|error| panic!("{empty:?}: {error}"));
            assert!(upgrade.extensions.is_empty(), "{empty:?}");
            assert!(upgrade.subprotocols.is_empty(), "{empty:?}");
        }
        let lines = [
            "Host: server.example.com",
            "Upgrade: , websocket,",
            "Connection: keep-alive, , Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: chat, , superchat,",
            "Sec-WebSocket-Extensions: permessage-deflate, , x-foo; a=1 ,",
        ];
        let upgrade = check(&lines).unwrap();
        assert_eq!(upgrade.subprotocols, ["chat", "superchat"]);
        assert_eq!(
            upgrade.extensions,
            [
                ExtensionOffer::new("permessage-deflate"),
                ExtensionOffer::new("x-foo").with_param("a", Some("1")),
            ]
        );
    }

    #[test]
    fn list_headers_of_only_empty_elements_still_need_their_tokens() {
        let error = check(&replaced("Upgrade", "Upgrade: , ,")).unwrap_err();
        assert_eq!(error, HandshakeError::NotWebSocketUpgrade);
        let error = check(&replaced("Connection", "Connection: ")).unwrap_err();
        assert_eq!(error, HandshakeError::MissingConnectionUpgrade);
        let mut lines = valid_lines();
        lines.push("Sec-WebSocket-Extensions: , ; ,");
        let error = check(&lines).unwrap_err();
        assert!(matches!(error, HandshakeError::InvalidExtensions { .. }));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn non_text_header_values_are_typed_errors() {
        let mut bytes = request_text("GET /chat HTTP/1.1", &without("Origin"));
        // Insert an Origin with an obs-text byte that is not UTF-8.
        let at = bytes.len() - 2;
        bytes.splice(at..at, b"Origin: http://\xff.example\r\n".iter().copied());
        let error = UpgradeRequest::from_request(parse(&bytes)).unwrap_err();
        assert_eq!(error, HandshakeError::InvalidHeaderValue { name: ORIGIN });
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        // UTF-8 text is fine.
        let mut bytes = request_text("GET /chat HTTP/1.1", &without("Origin"));
        bytes.splice(at..at, "Origin: http://bücher.example\r\n".bytes());
        let upgrade = UpgradeRequest::from_request(parse(&bytes)).unwrap();
        assert_eq!(upgrade.origin.as_deref(), Some("http://bücher.example"));
    }

    #[test]
    fn plain_http_is_not_an_upgrade() {
        let request = parse(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(!UpgradeRequest::is_upgrade(&request));
        assert_eq!(
            UpgradeRequest::from_request(request).unwrap_err(),
            HandshakeError::NotWebSocketUpgrade
        );
    }

    #[test]
    fn accept_refuses_what_was_not_offered() {
        let upgrade = check(&valid_lines()).unwrap();
        assert_eq!(
            upgrade
                .accept(Some("mqtt"), &[], &HeaderMap::new())
                .unwrap_err(),
            HandshakeError::AcceptSubprotocolNotOffered("mqtt".into())
        );
        let deflate = ExtensionOffer::new("permessage-deflate");
        assert_eq!(
            upgrade
                .accept(None, &[deflate], &HeaderMap::new())
                .unwrap_err(),
            HandshakeError::AcceptExtensionNotOffered("permessage-deflate".into())
        );
        let mut extra = HeaderMap::new();
        extra.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_static("forged"));
        assert_eq!(
            upgrade.accept(None, &[], &extra).unwrap_err(),
            HandshakeError::ReservedHeader(SEC_WEBSOCKET_ACCEPT)
        );
    }

    #[test]
    fn accept_writes_extensions_and_extra_headers() {
        let mut lines = valid_lines();
        lines.push("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo");
        let upgrade = check(&lines).unwrap();
        let answer = ExtensionOffer::new("permessage-deflate")
            .with_param("client_max_window_bits", Some("10"));
        let mut extra = HeaderMap::new();
        extra.append("set-cookie", HeaderValue::from_static("a=1"));
        extra.append("set-cookie", HeaderValue::from_static("b=2"));
        let response = upgrade
            .accept(None, std::slice::from_ref(&answer), &extra)
            .unwrap();
        assert_eq!(
            response.headers()["sec-websocket-extensions"],
            "permessage-deflate; client_max_window_bits=10"
        );
        assert_eq!(response.headers().get_all("set-cookie").iter().count(), 2);
        assert!(response.headers().get("sec-websocket-protocol").is_none());

        let bad = ExtensionOffer::new("permessage-deflate").with_param("p", Some("a b"));
        assert!(matches!(
            upgrade.accept(None, &[bad], &HeaderMap::new()),
            Err(HandshakeError::InvalidExtensionOffer { .. })
        ));
    }

    #[test]
    fn parse_request_reports_consumed_and_leaves_trailing_bytes() {
        let mut bytes = request_text("GET /chat?room=1 HTTP/1.1", &valid_lines());
        let head_len = bytes.len();
        bytes.extend_from_slice(b"\x81\x85trailing frame");
        let (request, consumed) = parse_request(&bytes, &Limits::default()).unwrap().unwrap();
        assert_eq!(consumed, head_len);
        assert_eq!(request.uri().query(), Some("room=1"));
        assert_eq!(request.version(), Version::HTTP_11);
    }

    #[test]
    fn every_prefix_is_incomplete_then_the_whole_parses() {
        let bytes = request_text("GET /chat HTTP/1.1", &valid_lines());
        for end in 0..bytes.len() {
            assert_eq!(
                parse_request(&bytes[..end], &Limits::default())
                    .unwrap()
                    .map(|_| ()),
                None,
                "prefix {end}"
            );
        }
        assert!(check(&valid_lines()).is_ok());
    }

    #[test]
    fn head_byte_limit_counts_the_blank_line() {
        let bytes = request_text("GET /chat HTTP/1.1", &valid_lines());
        let exact = Limits::default().max_header_bytes(bytes.len());
        assert!(parse_request(&bytes, &exact).unwrap().is_some());
        let short = Limits::default().max_header_bytes(bytes.len() - 1);
        // Within the limit: still waiting.
        assert_eq!(
            parse_request(&bytes[..bytes.len() - 1], &short)
                .unwrap()
                .map(|_| ()),
            None
        );
        // One byte over without a complete head: refused at once.
        let error = parse_request(&bytes, &short).unwrap_err();
        assert_eq!(
            error,
            HandshakeError::HeadTooLarge {
                max: bytes.len() - 1
            }
        );
        assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }

    #[test]
    fn endless_header_stream_fails_once_over_the_limit() {
        let limits = Limits::default().max_header_bytes(1024).max_headers(10_000);
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        while bytes.len() <= 1024 {
            assert_eq!(parse_request(&bytes, &limits).unwrap().map(|_| ()), None);
            bytes.extend_from_slice(b"X-Filler: 0123456789\r\n");
        }
        assert_eq!(
            parse_request(&bytes, &limits).unwrap_err(),
            HandshakeError::HeadTooLarge { max: 1024 }
        );
    }

    #[test]
    fn header_count_is_bounded() {
        let mut lines = valid_lines();
        lines.push("X-One: 1");
        let bytes = request_text("GET /chat HTTP/1.1", &lines);
        let fits = Limits::default().max_headers(lines.len());
        assert!(parse_request(&bytes, &fits).unwrap().is_some());
        let tight = Limits::default().max_headers(lines.len() - 1);
        let error = parse_request(&bytes, &tight).unwrap_err();
        assert_eq!(
            error,
            HandshakeError::TooManyHeaders {
                max: lines.len() - 1
            }
        );
        assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }

    #[test]
    fn malformed_heads_are_400() {
        for bytes in [
            &b"GET /chat HTTP/1.1\r\nHost a\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET /chat HTTP/2.0\r\n\r\n",
            b"GET /chat HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            b"GET /chat HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
        ] {
            let error = parse_request(bytes, &Limits::default()).unwrap_err();
            assert!(
                matches!(error, HandshakeError::MalformedHead(_)),
                "{bytes:?}: {error:?}"
            );
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        }
    }
}
