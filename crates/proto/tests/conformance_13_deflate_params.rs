//! Autobahn section 13: compressed echo over the negotiated parameter
//! matrix.
//!
//! Every sub-category sends Autobahn's JSON test data with the 18 message
//! and auto-fragment sizes of section 12 (cases `13.j.1`–`13.j.18`), under
//! one pair of Autobahn's (request no context takeover, request max window
//! bits) settings, used both as its client offers and as its server's
//! answer:
//!
//! | j | client offers | server accept |
//! |---|---|---|
//! | 1 | (False, 0) | (False, 0) |
//! | 2 | (True, 0) | (True, 0) |
//! | 3 | (False, 9) | (False, 9) |
//! | 4 | (False, 15) | (False, 15) |
//! | 5 | (True, 9) | (True, 9) |
//! | 6 | (True, 15) | (True, 15) |
//! | 7 | (True, 9), (True, 0), (False, 0) | (True, 9), else (True, 0), else (False, 0) |
//!
//! As a client Autobahn offers `permessage-deflate;
//! client_no_context_takeover; client_max_window_bits` plus
//! `server_no_context_takeover` / `server_max_window_bits=N` for its
//! requests; as a server it answers with `client_no_context_takeover` /
//! `client_max_window_bits=N`. The Autobahn releases of today use 9 bits
//! in 13.3, 13.5 and 13.7; its older sources (and RFC 7692's minimum) use
//! 8, so those cases run with both. Each case runs both ways: our server
//! negotiating Autobahn's offer header text, and our client accepting
//! Autobahn's response text; then every message is echoed back (see
//! `tests/deflate_echo` for the wire checks).

mod common;
mod deflate_echo;

use deflate_echo::{
    autobahn_client, autobahn_server, corpus, direction, run_echo, Agreed, CorpusKind, MSG_SIZES,
};

/// Autobahn's `PerMessageDeflateOffer(requestNoContextTakeover,
/// requestMaxWindowBits)` as header text (`bits` 0: not requested).
fn autobahn_offer(no_context_takeover: bool, bits: u8) -> String {
    let mut offer =
        String::from("permessage-deflate; client_no_context_takeover; client_max_window_bits");
    if no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if bits != 0 {
        offer.push_str(&format!("; server_max_window_bits={bits}"));
    }
    offer
}

/// What our default server must answer to [`autobahn_offer`]: every
/// request granted (RFC 7692 §7.1.1.1, §7.1.2.1), and the client's
/// `client_no_context_takeover` hint confirmed; `client_max_window_bits`
/// is not limited since our server keeps 15 bits for the peer.
fn our_server_response(no_context_takeover: bool, bits: u8) -> String {
    let mut response = String::from("permessage-deflate");
    if no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    response.push_str("; client_no_context_takeover");
    if bits != 0 {
        response.push_str(&format!("; server_max_window_bits={bits}"));
    }
    response
}

/// Autobahn's `PerMessageDeflateOfferAccept(offer, requestNoContextTakeover,
/// requestMaxWindowBits)` of our client's first offer, as header text.
fn autobahn_accept(no_context_takeover: bool, bits: u8) -> String {
    let mut response = String::from("permessage-deflate");
    if no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if bits != 0 {
        response.push_str(&format!("; client_max_window_bits={bits}"));
    }
    response
}

/// Autobahn's (request no context takeover, request max window bits) of
/// sub-category `j`, with `small_bits` for 13.3, 13.5 and 13.7.
fn settings(j: usize, small_bits: u8) -> (bool, u8) {
    match j {
        1 => (false, 0),
        2 => (true, 0),
        3 => (false, small_bits),
        4 => (false, 15),
        5 | 7 => (true, small_bits),
        6 => (true, 15),
        _ => unreachable!("section 13 has sub-categories 1 to 7"),
    }
}

/// Our server against Autobahn's client offers of sub-category `j`.
fn fuzzingclient_case(j: usize, small_bits: u8, len: usize, fragment: usize) {
    let (no_context_takeover, bits) = settings(j, small_bits);
    let offer = if j == 7 {
        // 13.7 offers three elements, most demanding first; our server must
        // take the first one.
        [
            autobahn_offer(true, small_bits),
            autobahn_offer(true, 0),
            autobahn_offer(false, 0),
        ]
        .join(", ")
    } else {
        autobahn_offer(no_context_takeover, bits)
    };
    let agreed = Agreed {
        // Autobahn's client always offers client_no_context_takeover.
        client: direction(true, 15),
        server: direction(no_context_takeover, if bits == 0 { 15 } else { bits }),
    };
    let negotiated = autobahn_client(
        &offer,
        &our_server_response(no_context_takeover, bits),
        agreed,
    );
    run_echo(negotiated, corpus(CorpusKind::Json), len, fragment);
}

/// Our client against Autobahn's server answer of sub-category `j`.
fn fuzzingserver_case(j: usize, small_bits: u8, len: usize, fragment: usize) {
    // 13.7's server tries (True, N) first, which our offer allows.
    let (no_context_takeover, bits) = settings(j, small_bits);
    let agreed = Agreed {
        client: direction(no_context_takeover, if bits == 0 { 15 } else { bits }),
        server: direction(false, 15),
    };
    let negotiated = autobahn_server(&autobahn_accept(no_context_takeover, bits), agreed);
    run_echo(negotiated, corpus(CorpusKind::Json), len, fragment);
}

/// Runs case `13.j.i` (`case` is `i`) in both modes.
fn run_case(j: usize, case: usize) {
    let (len, fragment) = MSG_SIZES[case - 1];
    let small_windows: &[u8] = if matches!(j, 3 | 5 | 7) {
        &[9, 8]
    } else {
        &[9]
    };
    for &small_bits in small_windows {
        fuzzingclient_case(j, small_bits, len, fragment);
        fuzzingserver_case(j, small_bits, len, fragment);
    }
}

macro_rules! cases {
    ($($name:ident: $j:literal, $case:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run_case($j, $case);
            }
        )*
    };
}

cases! {
    case_13_1_1_default_offer_16: 1, 1;
    case_13_1_2_default_offer_64: 1, 2;
    case_13_1_3_default_offer_256: 1, 3;
    case_13_1_4_default_offer_1024: 1, 4;
    case_13_1_5_default_offer_4096: 1, 5;
    case_13_1_6_default_offer_8192: 1, 6;
    case_13_1_7_default_offer_16384: 1, 7;
    case_13_1_8_default_offer_32768: 1, 8;
    case_13_1_9_default_offer_65536: 1, 9;
    case_13_1_10_default_offer_131072: 1, 10;
    case_13_1_11_default_offer_8192_frag_256: 1, 11;
    case_13_1_12_default_offer_16384_frag_256: 1, 12;
    case_13_1_13_default_offer_32768_frag_256: 1, 13;
    case_13_1_14_default_offer_65536_frag_256: 1, 14;
    case_13_1_15_default_offer_131072_frag_256: 1, 15;
    case_13_1_16_default_offer_131072_frag_1024: 1, 16;
    case_13_1_17_default_offer_131072_frag_4096: 1, 17;
    case_13_1_18_default_offer_131072_frag_32768: 1, 18;

    case_13_2_1_no_context_takeover_16: 2, 1;
    case_13_2_2_no_context_takeover_64: 2, 2;
    case_13_2_3_no_context_takeover_256: 2, 3;
    case_13_2_4_no_context_takeover_1024: 2, 4;
    case_13_2_5_no_context_takeover_4096: 2, 5;
    case_13_2_6_no_context_takeover_8192: 2, 6;
    case_13_2_7_no_context_takeover_16384: 2, 7;
    case_13_2_8_no_context_takeover_32768: 2, 8;
    case_13_2_9_no_context_takeover_65536: 2, 9;
    case_13_2_10_no_context_takeover_131072: 2, 10;
    case_13_2_11_no_context_takeover_8192_frag_256: 2, 11;
    case_13_2_12_no_context_takeover_16384_frag_256: 2, 12;
    case_13_2_13_no_context_takeover_32768_frag_256: 2, 13;
    case_13_2_14_no_context_takeover_65536_frag_256: 2, 14;
    case_13_2_15_no_context_takeover_131072_frag_256: 2, 15;
    case_13_2_16_no_context_takeover_131072_frag_1024: 2, 16;
    case_13_2_17_no_context_takeover_131072_frag_4096: 2, 17;
    case_13_2_18_no_context_takeover_131072_frag_32768: 2, 18;

    case_13_3_1_max_window_bits_16: 3, 1;
    case_13_3_2_max_window_bits_64: 3, 2;
    case_13_3_3_max_window_bits_256: 3, 3;
    case_13_3_4_max_window_bits_1024: 3, 4;
    case_13_3_5_max_window_bits_4096: 3, 5;
    case_13_3_6_max_window_bits_8192: 3, 6;
    case_13_3_7_max_window_bits_16384: 3, 7;
    case_13_3_8_max_window_bits_32768: 3, 8;
    case_13_3_9_max_window_bits_65536: 3, 9;
    case_13_3_10_max_window_bits_131072: 3, 10;
    case_13_3_11_max_window_bits_8192_frag_256: 3, 11;
    case_13_3_12_max_window_bits_16384_frag_256: 3, 12;
    case_13_3_13_max_window_bits_32768_frag_256: 3, 13;
    case_13_3_14_max_window_bits_65536_frag_256: 3, 14;
    case_13_3_15_max_window_bits_131072_frag_256: 3, 15;
    case_13_3_16_max_window_bits_131072_frag_1024: 3, 16;
    case_13_3_17_max_window_bits_131072_frag_4096: 3, 17;
    case_13_3_18_max_window_bits_131072_frag_32768: 3, 18;

    case_13_4_1_max_window_bits_15_16: 4, 1;
    case_13_4_2_max_window_bits_15_64: 4, 2;
    case_13_4_3_max_window_bits_15_256: 4, 3;
    case_13_4_4_max_window_bits_15_1024: 4, 4;
    case_13_4_5_max_window_bits_15_4096: 4, 5;
    case_13_4_6_max_window_bits_15_8192: 4, 6;
    case_13_4_7_max_window_bits_15_16384: 4, 7;
    case_13_4_8_max_window_bits_15_32768: 4, 8;
    case_13_4_9_max_window_bits_15_65536: 4, 9;
    case_13_4_10_max_window_bits_15_131072: 4, 10;
    case_13_4_11_max_window_bits_15_8192_frag_256: 4, 11;
    case_13_4_12_max_window_bits_15_16384_frag_256: 4, 12;
    case_13_4_13_max_window_bits_15_32768_frag_256: 4, 13;
    case_13_4_14_max_window_bits_15_65536_frag_256: 4, 14;
    case_13_4_15_max_window_bits_15_131072_frag_256: 4, 15;
    case_13_4_16_max_window_bits_15_131072_frag_1024: 4, 16;
    case_13_4_17_max_window_bits_15_131072_frag_4096: 4, 17;
    case_13_4_18_max_window_bits_15_131072_frag_32768: 4, 18;

    case_13_5_1_no_context_takeover_max_window_bits_16: 5, 1;
    case_13_5_2_no_context_takeover_max_window_bits_64: 5, 2;
    case_13_5_3_no_context_takeover_max_window_bits_256: 5, 3;
    case_13_5_4_no_context_takeover_max_window_bits_1024: 5, 4;
    case_13_5_5_no_context_takeover_max_window_bits_4096: 5, 5;
    case_13_5_6_no_context_takeover_max_window_bits_8192: 5, 6;
    case_13_5_7_no_context_takeover_max_window_bits_16384: 5, 7;
    case_13_5_8_no_context_takeover_max_window_bits_32768: 5, 8;
    case_13_5_9_no_context_takeover_max_window_bits_65536: 5, 9;
    case_13_5_10_no_context_takeover_max_window_bits_131072: 5, 10;
    case_13_5_11_no_context_takeover_max_window_bits_8192_frag_256: 5, 11;
    case_13_5_12_no_context_takeover_max_window_bits_16384_frag_256: 5, 12;
    case_13_5_13_no_context_takeover_max_window_bits_32768_frag_256: 5, 13;
    case_13_5_14_no_context_takeover_max_window_bits_65536_frag_256: 5, 14;
    case_13_5_15_no_context_takeover_max_window_bits_131072_frag_256: 5, 15;
    case_13_5_16_no_context_takeover_max_window_bits_131072_frag_1024: 5, 16;
    case_13_5_17_no_context_takeover_max_window_bits_131072_frag_4096: 5, 17;
    case_13_5_18_no_context_takeover_max_window_bits_131072_frag_32768: 5, 18;

    case_13_6_1_no_context_takeover_max_window_bits_15_16: 6, 1;
    case_13_6_2_no_context_takeover_max_window_bits_15_64: 6, 2;
    case_13_6_3_no_context_takeover_max_window_bits_15_256: 6, 3;
    case_13_6_4_no_context_takeover_max_window_bits_15_1024: 6, 4;
    case_13_6_5_no_context_takeover_max_window_bits_15_4096: 6, 5;
    case_13_6_6_no_context_takeover_max_window_bits_15_8192: 6, 6;
    case_13_6_7_no_context_takeover_max_window_bits_15_16384: 6, 7;
    case_13_6_8_no_context_takeover_max_window_bits_15_32768: 6, 8;
    case_13_6_9_no_context_takeover_max_window_bits_15_65536: 6, 9;
    case_13_6_10_no_context_takeover_max_window_bits_15_131072: 6, 10;
    case_13_6_11_no_context_takeover_max_window_bits_15_8192_frag_256: 6, 11;
    case_13_6_12_no_context_takeover_max_window_bits_15_16384_frag_256: 6, 12;
    case_13_6_13_no_context_takeover_max_window_bits_15_32768_frag_256: 6, 13;
    case_13_6_14_no_context_takeover_max_window_bits_15_65536_frag_256: 6, 14;
    case_13_6_15_no_context_takeover_max_window_bits_15_131072_frag_256: 6, 15;
    case_13_6_16_no_context_takeover_max_window_bits_15_131072_frag_1024: 6, 16;
    case_13_6_17_no_context_takeover_max_window_bits_15_131072_frag_4096: 6, 17;
    case_13_6_18_no_context_takeover_max_window_bits_15_131072_frag_32768: 6, 18;

    case_13_7_1_fallback_offers_16: 7, 1;
    case_13_7_2_fallback_offers_64: 7, 2;
    case_13_7_3_fallback_offers_256: 7, 3;
    case_13_7_4_fallback_offers_1024: 7, 4;
    case_13_7_5_fallback_offers_4096: 7, 5;
    case_13_7_6_fallback_offers_8192: 7, 6;
    case_13_7_7_fallback_offers_16384: 7, 7;
    case_13_7_8_fallback_offers_32768: 7, 8;
    case_13_7_9_fallback_offers_65536: 7, 9;
    case_13_7_10_fallback_offers_131072: 7, 10;
    case_13_7_11_fallback_offers_8192_frag_256: 7, 11;
    case_13_7_12_fallback_offers_16384_frag_256: 7, 12;
    case_13_7_13_fallback_offers_32768_frag_256: 7, 13;
    case_13_7_14_fallback_offers_65536_frag_256: 7, 14;
    case_13_7_15_fallback_offers_131072_frag_256: 7, 15;
    case_13_7_16_fallback_offers_131072_frag_1024: 7, 16;
    case_13_7_17_fallback_offers_131072_frag_4096: 7, 17;
    case_13_7_18_fallback_offers_131072_frag_32768: 7, 18;
}

/// Beyond Autobahn: every window size RFC 7692 §7.1.2 allows, requested
/// the Autobahn way for the server (13.3's offer) and for the client
/// (13.3's answer), with a message larger than every window and one cut
/// into small frames.
#[test]
fn case_13_3_extra_every_window_size_8_to_15() {
    for bits in 8..=15 {
        for (len, fragment) in [(4096, 0), (32768, 1024)] {
            fuzzingclient_case(3, bits, len, fragment);
            fuzzingserver_case(3, bits, len, fragment);
        }
    }
}
