//! RFC 7692 §7.1 negotiation: both roles, all parameters, several offers.

use switchboard_proto::deflate::{
    DeflateConfig, DeflateNegotiationError, DeflateParams, DirectionParams, PerMessageDeflate,
};
use switchboard_proto::{Encoded, Extension, ExtensionOffer};

use bytes::BytesMut;
use switchboard_proto::DataKind;

/// Builds an offer from `name; a; b=1` style text (test helper; the real
/// header parser lives in the handshake module).
fn offer(text: &str) -> ExtensionOffer {
    let mut parts = text.split(';').map(str::trim);
    let mut offer = ExtensionOffer::new(parts.next().unwrap());
    for part in parts {
        match part.split_once('=') {
            Some((name, value)) => offer = offer.with_param(name.trim(), Some(value.trim())),
            None => offer = offer.with_param(part, None::<String>),
        }
    }
    offer
}

fn texts(offers: &[ExtensionOffer]) -> Vec<String> {
    offers.iter().map(ToString::to_string).collect()
}

fn dir(no_context_takeover: bool, max_window_bits: u8) -> DirectionParams {
    DirectionParams {
        no_context_takeover,
        max_window_bits,
    }
}

#[test]
fn default_client_offers_announce_window_support_then_plain() {
    assert_eq!(
        texts(&DeflateConfig::default().client_offers()),
        [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate"
        ]
    );
}

#[test]
fn low_memory_client_offers_requests_then_promises_then_plain() {
    assert_eq!(
        texts(&DeflateConfig::low_memory().client_offers()),
        [
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=10",
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=10",
            "permessage-deflate",
        ]
    );
    assert_eq!(
        DeflateConfig::low_memory()
            .fallback_offers(false)
            .client_offers()
            .len(),
        1
    );
}

#[test]
fn server_answers_plain_offer_plainly() {
    let (response, ext) = DeflateConfig::default()
        .server_negotiate(&[offer("permessage-deflate")])
        .unwrap();
    assert_eq!(response.to_string(), "permessage-deflate");
    assert_eq!(
        *ext.params(),
        DeflateParams {
            outgoing: dir(false, 15),
            incoming: dir(false, 15)
        }
    );
}

#[test]
fn server_honours_every_requested_parameter() {
    let (response, ext) = DeflateConfig::default()
        .server_negotiate(&[offer(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=11",
        )])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=9; client_max_window_bits=11"
    );
    assert_eq!(
        *ext.params(),
        DeflateParams {
            outgoing: dir(true, 9),
            incoming: dir(true, 11)
        }
    );
}

#[test]
fn server_accepts_eight_bit_window_request() {
    let (response, ext) = DeflateConfig::default()
        .server_negotiate(&[offer("permessage-deflate; server_max_window_bits=8")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_max_window_bits=8"
    );
    assert_eq!(ext.params().outgoing, dir(false, 8));
}

#[test]
fn server_never_answers_client_window_unless_offered() {
    let server = DeflateConfig::default().peer_max_window_bits(9);
    let (response, ext) = server
        .server_negotiate(&[offer("permessage-deflate")])
        .unwrap();
    assert_eq!(response.to_string(), "permessage-deflate");
    // The client's window cannot be limited: inflate with 32 KiB.
    assert_eq!(ext.params().incoming, dir(false, 15));

    let (response, ext) = server
        .server_negotiate(&[offer("permessage-deflate; client_max_window_bits")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; client_max_window_bits=9"
    );
    assert_eq!(ext.params().incoming, dir(false, 9));
}

#[test]
fn server_answers_client_window_no_larger_than_offered() {
    let server = DeflateConfig::default().peer_max_window_bits(12);
    let (response, _) = server
        .server_negotiate(&[offer("permessage-deflate; client_max_window_bits=10")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; client_max_window_bits=10"
    );
    let (response, _) = server
        .server_negotiate(&[offer("permessage-deflate; client_max_window_bits=14")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; client_max_window_bits=12"
    );
}

#[test]
fn server_uses_own_limits_unasked() {
    let server = DeflateConfig::default()
        .no_context_takeover(true)
        .max_window_bits(11)
        .request_peer_no_context_takeover(true);
    let (response, ext) = server
        .server_negotiate(&[offer("permessage-deflate; server_max_window_bits=13")])
        .unwrap();
    // RFC 7692 §7.1.1.1 / §7.1.2.1: the server's own limits may be announced
    // unasked; client_no_context_takeover is not (see below).
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"
    );
    assert_eq!(
        *ext.params(),
        DeflateParams {
            outgoing: dir(true, 11),
            incoming: dir(false, 15)
        }
    );
}

/// Node's `ws` 8 client (with `clientNoContextTakeover: false`, its
/// documented default) fails the handshake on a response holding
/// `client_no_context_takeover` that it did not offer, so a server only
/// answers it when offered and otherwise keeps the client's context.
#[test]
fn server_answers_client_no_context_takeover_only_when_offered() {
    let server = DeflateConfig::low_memory();
    // What Node's `ws` and Chromium offer by default.
    let (response, ext) = server
        .server_negotiate(&[offer("permessage-deflate; client_max_window_bits")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
         client_max_window_bits=10"
    );
    assert_eq!(
        *ext.params(),
        DeflateParams {
            outgoing: dir(true, 10),
            incoming: dir(false, 10)
        }
    );
    let (response, ext) = server
        .server_negotiate(&[offer("permessage-deflate")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
    );
    assert_eq!(ext.params().incoming, dir(false, 15));
    // Offered: echoed, and our decompressor is freed between messages.
    let (response, ext) = server
        .server_negotiate(&[offer(
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        )])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=10"
    );
    assert_eq!(ext.params().incoming, dir(true, 10));
}

#[test]
fn server_takes_first_acceptable_offer_and_skips_invalid_ones() {
    let offers = [
        offer("x-webkit-deflate-frame"),
        offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
        offer("permessage-deflate; unknown_param"),
        offer("permessage-deflate; server_max_window_bits"),
        offer("permessage-deflate; server_max_window_bits=10; client_max_window_bits"),
        offer("permessage-deflate"),
    ];
    let (response, ext) = DeflateConfig::default().server_negotiate(&offers).unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_max_window_bits=10"
    );
    assert_eq!(ext.params().outgoing, dir(false, 10));
}

#[test]
fn server_declines_every_malformed_offer() {
    let malformed = [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; mux",
        "x-webkit-deflate-frame",
    ];
    for text in malformed {
        assert!(
            DeflateConfig::default()
                .server_negotiate(&[offer(text)])
                .is_none(),
            "{text} should be declined"
        );
    }
    assert!(DeflateConfig::default()
        .server_negotiate(&malformed.map(offer))
        .is_none());
    assert!(DeflateConfig::default().server_negotiate(&[]).is_none());
}

#[test]
fn extension_and_parameter_names_are_case_insensitive_tokens() {
    let (response, ext) = DeflateConfig::default()
        .server_negotiate(&[offer("PerMessage-Deflate; Server_No_Context_Takeover")])
        .unwrap();
    assert_eq!(
        response.to_string(),
        "permessage-deflate; server_no_context_takeover"
    );
    assert!(ext.params().outgoing.no_context_takeover);
}

#[test]
fn client_accepts_declined_compression() {
    let client = DeflateConfig::default();
    assert!(client.client_accept(&[]).unwrap().is_none());
    assert!(client
        .client_accept(&[offer("x-other-extension")])
        .unwrap()
        .is_none());
}

#[test]
fn client_rejects_invalid_responses() {
    use DeflateNegotiationError as E;
    let client = DeflateConfig::low_memory();
    let cases: &[(&[&str], DeflateNegotiationError)] = &[
        (
            &["permessage-deflate", "permessage-deflate"],
            E::MultipleResponses,
        ),
        (
            &["permessage-deflate; foo"],
            E::UnknownParameter("foo".into()),
        ),
        (
            &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            E::DuplicateParameter("server_no_context_takeover".into()),
        ),
        (
            &["permessage-deflate; client_max_window_bits"],
            E::InvalidValue {
                name: "client_max_window_bits".into(),
                value: None,
            },
        ),
        (
            &["permessage-deflate; server_max_window_bits=16"],
            E::InvalidValue {
                name: "server_max_window_bits".into(),
                value: Some("16".into()),
            },
        ),
        (
            &["permessage-deflate; server_max_window_bits=7"],
            E::InvalidValue {
                name: "server_max_window_bits".into(),
                value: Some("7".into()),
            },
        ),
        (
            &["permessage-deflate; client_no_context_takeover=1"],
            E::InvalidValue {
                name: "client_no_context_takeover".into(),
                value: Some("1".into()),
            },
        ),
        (
            // We offered client_max_window_bits=10 at most.
            &["permessage-deflate; client_max_window_bits=12"],
            E::WindowTooLarge {
                name: "client_max_window_bits",
                offered: 10,
                answered: 12,
            },
        ),
    ];
    for (response, expected) in cases {
        let response: Vec<_> = response.iter().map(|text| offer(text)).collect();
        assert_eq!(
            client.client_accept(&response).unwrap_err(),
            *expected,
            "{response:?}"
        );
    }
}

#[test]
fn client_window_answers_are_bounded_by_the_offer() {
    // low_memory without fallbacks offers client_max_window_bits=10, so 11 is
    // too large, while a default client offers a bare client_max_window_bits
    // and accepts any value up to 15.
    let strict = DeflateConfig::low_memory().fallback_offers(false);
    assert_eq!(
        strict
            .client_accept(&[offer(
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
                 client_max_window_bits=11"
            )])
            .unwrap_err(),
        DeflateNegotiationError::WindowTooLarge {
            name: "client_max_window_bits",
            offered: 10,
            answered: 11
        }
    );
    let ext = DeflateConfig::default()
        .client_accept(&[offer("permessage-deflate; client_max_window_bits=15")])
        .unwrap()
        .unwrap();
    assert_eq!(ext.params().outgoing, dir(false, 15));
}

#[test]
fn strict_client_rejects_ignored_requests() {
    let strict = DeflateConfig::low_memory().fallback_offers(false);
    assert_eq!(
        strict
            .client_accept(&[offer("permessage-deflate; server_max_window_bits=10")])
            .unwrap_err(),
        DeflateNegotiationError::RequestIgnored("server_no_context_takeover")
    );
    assert_eq!(
        strict
            .client_accept(&[offer("permessage-deflate; server_no_context_takeover")])
            .unwrap_err(),
        DeflateNegotiationError::RequestIgnored("server_max_window_bits")
    );
    assert_eq!(
        strict
            .client_accept(&[offer(
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"
            )])
            .unwrap_err(),
        DeflateNegotiationError::WindowTooLarge {
            name: "server_max_window_bits",
            offered: 10,
            answered: 12
        }
    );
    // With fallbacks, the same answer accepts the fallback offer.
    let ext = DeflateConfig::low_memory()
        .client_accept(&[offer("permessage-deflate; server_max_window_bits=12")])
        .unwrap()
        .unwrap();
    assert_eq!(ext.params().incoming, dir(false, 12));
    // Our own promises hold whatever the server answered.
    assert_eq!(ext.params().outgoing, dir(true, 10));
}

#[test]
fn client_accepts_unrequested_server_limits() {
    let ext = DeflateConfig::default()
        .client_accept(&[offer(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=9",
        )])
        .unwrap()
        .unwrap();
    assert_eq!(
        *ext.params(),
        DeflateParams {
            outgoing: dir(true, 9),
            incoming: dir(true, 8)
        }
    );
}

fn roundtrip(sender: &mut PerMessageDeflate, receiver: &mut PerMessageDeflate, message: &[u8]) {
    let encoded = sender
        .encode(DataKind::Binary, message, true, true)
        .unwrap();
    let mut out = BytesMut::new();
    match encoded {
        Encoded::PassThrough => out.extend_from_slice(message),
        Encoded::Transformed { rsv, payload } => receiver
            .decode(rsv, &payload, true, &mut out, usize::MAX)
            .unwrap(),
    }
    assert_eq!(&out[..], message);
}

/// Every combination of client and server preferences negotiates settings
/// both ends agree on, honours every request the other side can see, and
/// carries data both ways.
#[test]
fn negotiation_matrix_both_roles() {
    // `fallback_offers` only matters to clients.
    let configs = |fallbacks: &[bool]| {
        let mut configs = Vec::new();
        for ours in [false, true] {
            for peer in [false, true] {
                for bits in [8, 10, 15] {
                    for peer_bits in [8, 12, 15] {
                        for &fallback in fallbacks {
                            configs.push(
                                DeflateConfig::default()
                                    .no_context_takeover(ours)
                                    .request_peer_no_context_takeover(peer)
                                    .max_window_bits(bits)
                                    .peer_max_window_bits(peer_bits)
                                    .fallback_offers(fallback)
                                    .threshold(0),
                            );
                        }
                    }
                }
            }
        }
        configs
    };
    let messages: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            format!("{{\"seq\":{i},\"topic\":\"prices\",\"values\":[1,2,3,4,5,6,7,8,9]}}")
                .repeat(20)
                .into_bytes()
        })
        .collect();
    let mut combinations = 0;
    for client in configs(&[true, false]) {
        for server in configs(&[true]) {
            let offers = client.client_offers();
            let (response, mut server_ext) = server
                .server_negotiate(&offers)
                .expect("our own offers are always acceptable");
            let mut client_ext = client
                .client_accept(std::slice::from_ref(&response))
                .unwrap_or_else(|e| panic!("{response} rejected: {e}"))
                .unwrap();
            let (c, s) = (*client_ext.params(), *server_ext.params());
            // Both ends agree on each direction.
            assert!(s.outgoing.max_window_bits <= c.incoming.max_window_bits);
            assert!(c.outgoing.max_window_bits <= s.incoming.max_window_bits);
            assert!(!c.incoming.no_context_takeover || s.outgoing.no_context_takeover);
            assert!(!s.incoming.no_context_takeover || c.outgoing.no_context_takeover);
            // Own preferences always hold.
            assert!(c.outgoing.max_window_bits <= client.get_max_window_bits());
            assert!(s.outgoing.max_window_bits <= server.get_max_window_bits());
            assert!(!client.get_no_context_takeover() || c.outgoing.no_context_takeover);
            assert!(!server.get_no_context_takeover() || s.outgoing.no_context_takeover);
            // The server accepts the first (preferred) offer, so the client's
            // requests hold.
            assert!(s.outgoing.max_window_bits <= client.get_peer_max_window_bits());
            assert!(
                !client.get_request_peer_no_context_takeover() || s.outgoing.no_context_takeover
            );
            // The server's window request holds too: the client always
            // announces client_max_window_bits.
            assert!(c.outgoing.max_window_bits <= server.get_peer_max_window_bits());
            // client_no_context_takeover is answered exactly when offered
            // (never unasked, for Node's `ws`), so the server's decompressor
            // is freed between messages exactly when the client promised.
            let has_client_no_context_takeover = |element: &ExtensionOffer| {
                element
                    .params
                    .iter()
                    .any(|param| param.name == "client_no_context_takeover")
            };
            assert_eq!(
                has_client_no_context_takeover(&response),
                has_client_no_context_takeover(&offers[0]),
                "{response}"
            );
            assert_eq!(
                s.incoming.no_context_takeover,
                client.get_no_context_takeover()
            );
            for message in &messages {
                roundtrip(&mut client_ext, &mut server_ext, message);
                roundtrip(&mut server_ext, &mut client_ext, message);
            }
            combinations += 1;
        }
    }
    assert_eq!(combinations, 72 * 36);
}

#[test]
#[should_panic(expected = "outside 8..=15")]
fn window_bits_below_8_are_a_programming_error() {
    let _ = DeflateConfig::default().max_window_bits(7);
}

#[test]
#[should_panic(expected = "outside 8..=15")]
fn peer_window_bits_above_15_are_a_programming_error() {
    let _ = DeflateConfig::default().peer_max_window_bits(16);
}

#[test]
#[should_panic(expected = "outside 0..=9")]
fn level_above_9_is_a_programming_error() {
    let _ = DeflateConfig::default().level(10);
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    fn param() -> impl Strategy<Value = (String, Option<String>)> {
        (
            prop_oneof![
                Just("server_no_context_takeover".to_string()),
                Just("client_no_context_takeover".to_string()),
                Just("server_max_window_bits".to_string()),
                Just("client_max_window_bits".to_string()),
                "[a-z_]{0,12}",
            ],
            proptest::option::of(prop_oneof![
                (0u32..20).prop_map(|n| n.to_string()),
                "[0-9a-z\"]{0,4}",
            ]),
        )
    }

    fn element() -> impl Strategy<Value = ExtensionOffer> {
        (
            prop_oneof![Just("permessage-deflate".to_string()), "[a-z-]{1,8}"],
            proptest::collection::vec(param(), 0..5),
        )
            .prop_map(|(name, params)| {
                params
                    .into_iter()
                    .fold(ExtensionOffer::new(name), |offer, (name, value)| {
                        offer.with_param(name, value)
                    })
            })
    }

    proptest! {
        /// Arbitrary offers and responses never panic either role, and
        /// whatever is accepted stays within RFC 7692's ranges and our own
        /// limits.
        #[test]
        fn arbitrary_offers_and_responses_never_panic(
            offers in proptest::collection::vec(element(), 0..4),
            response in proptest::collection::vec(element(), 0..3),
            low_memory in any::<bool>(),
        ) {
            let config = if low_memory { DeflateConfig::low_memory() } else { DeflateConfig::default() };
            if let Some((answer, ext)) = config.server_negotiate(&offers) {
                prop_assert_eq!(answer.name.as_str(), "permessage-deflate");
                let bits = ext.params().outgoing.max_window_bits;
                prop_assert!((8..=15).contains(&bits));
            }
            match config.client_accept(&response) {
                Ok(Some(ext)) => {
                    let params = *ext.params();
                    prop_assert!((8..=15).contains(&params.incoming.max_window_bits));
                    prop_assert!(params.outgoing.max_window_bits <= config.get_max_window_bits());
                }
                Ok(None) => prop_assert!(!response
                    .iter()
                    .any(|e| e.name.eq_ignore_ascii_case("permessage-deflate"))),
                Err(err) => prop_assert!(!err.to_string().is_empty()),
            }
        }
    }
}
