//! Autobahn 6.x: UTF-8 handling of text messages (RFC 6455 §8.1: invalid
//! UTF-8 in a text message MUST fail the connection, close code 1007).
//!
//! Besides the single-frame form of each case, every case is also sent as
//! one-byte fragments and must fail fast: the error appears in the very
//! fragment whose bytes make the text impossible to complete, not at the
//! end of the message. `std::str::from_utf8` on the prefixes is the oracle
//! for that point (an error with `error_len() == Some(_)` can never be
//! completed; `None` is an incomplete sequence the next fragment may finish).

mod common;

use common::*;
use switchboard_proto::{Delivery, Error, Message, ProtocolError, Utf8Bytes};

/// "κόσμε" as Autobahn spells it (with U+1F79, omicron with oxia).
const KOSME: &[u8] = "\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}".as_bytes();

fn invalid_utf8() -> Error {
    Error::Protocol(ProtocolError::InvalidUtf8)
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Number of fragments (of one byte each) after which `bytes` can no longer
/// become valid UTF-8, or `None` if every prefix can still be completed.
fn fail_point(bytes: &[u8]) -> Option<usize> {
    (1..=bytes.len())
        .find(|&n| matches!(std::str::from_utf8(&bytes[..n]), Err(e) if e.error_len().is_some()))
}

/// Checks one text payload in one frame, in one-byte fragments and in a
/// three-way split, in every setup.
fn check(case: &str, bytes: &[u8]) {
    let valid = std::str::from_utf8(bytes).is_ok();
    for_each_setup(|setup| {
        // One frame.
        let outcome = setup.run_chopped(&[setup.text(bytes)]);
        assert_verdict(case, "single frame", &outcome, bytes, valid);

        // One fragment per byte: fail fast.
        if !bytes.is_empty() {
            let frames = setup.chunked(OP_TEXT, bytes, 1);
            let outcome = setup.run(&frames, Chop::Frames);
            assert_verdict(case, "one-byte fragments", &outcome, bytes, valid);
            if !valid {
                // Where no prefix is impossible, only the end of the message
                // (an incomplete sequence) can tell.
                let expected = fail_point(bytes).unwrap_or(bytes.len()) - 1;
                assert_eq!(
                    outcome.error_frame,
                    Some(expected),
                    "case {case} {setup:?}: not fail-fast: invalid after fragment {expected}, error in fragment {:?}",
                    outcome.error_frame
                );
            }
        }

        // Three fragments cut at arbitrary (mid-sequence) points.
        if bytes.len() >= 3 {
            let cuts = [bytes.len() / 3, 2 * bytes.len() / 3];
            let outcome = setup.run_chopped(&setup.fragmented(OP_TEXT, bytes, &cuts));
            assert_verdict(case, "three fragments", &outcome, bytes, valid);
        }
    });
}

fn assert_verdict(case: &str, form: &str, outcome: &common::Outcome, bytes: &[u8], valid: bool) {
    let setup = outcome.setup;
    if valid {
        assert!(
            outcome.error.is_none(),
            "case {case} {form} {setup:?}: valid UTF-8 {bytes:02x?} rejected: {:?}",
            outcome.error
        );
        let expected =
            Message::Text(Utf8Bytes::try_from_bytes(bytes::Bytes::copy_from_slice(bytes)).unwrap());
        assert_eq!(
            outcome.messages(),
            vec![expected],
            "case {case} {form} {setup:?}"
        );
    } else {
        assert_eq!(
            outcome.error,
            Some(invalid_utf8()),
            "case {case} {form} {setup:?}: invalid UTF-8 {bytes:02x?}"
        );
        outcome.assert_failed(invalid_utf8());
        assert!(
            outcome.messages().is_empty(),
            "case {case} {form} {setup:?}: delivered invalid text"
        );
    }
}

#[test]
fn case_6_1_empty_text_and_empty_fragments() {
    for_each_setup(|setup| {
        // 6.1.1 empty message.
        let outcome = setup.run_chopped(&[setup.text(b"")]);
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![text("")]);
        // 6.1.2 three empty fragments.
        let outcome = setup.run_chopped(&setup.fragmented(OP_TEXT, b"", &[0, 0]));
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![text("")]);
        // 6.1.3 empty, "middle frame payload", empty.
        let payload = b"middle frame payload";
        let outcome = setup.run_chopped(&setup.fragmented(OP_TEXT, payload, &[0, payload.len()]));
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![text("middle frame payload")]);
    });
}

#[test]
fn case_6_2_valid_utf8_whole_and_fragmented() {
    let hello = "Hello-µ@ßöäüàá-UTF-8!!".as_bytes();
    check("6.2.1", hello);
    for_each_setup(|setup| {
        // 6.2.2: two fragments cut at a code point boundary.
        let outcome = setup.run_chopped(&setup.fragmented(OP_TEXT, hello, &[12]));
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![text("Hello-µ@ßöäüàá-UTF-8!!")]);
        // 6.2.3 and 6.2.4: one-byte fragments, cutting inside code points.
        for (case, payload) in [
            ("6.2.3", hello),
            ("6.2.4", &hex("cebae1bdb9cf83cebcceb5")[..]),
        ] {
            let outcome = setup.run(&setup.chunked(OP_TEXT, payload, 1), Chop::Whole);
            outcome.assert_no_error();
            assert_eq!(
                outcome.messages(),
                vec![text(std::str::from_utf8(payload).unwrap())],
                "case {case}"
            );
        }
    });
}

#[test]
fn case_6_3_invalid_utf8_in_one_frame_and_in_one_byte_fragments() {
    // 6.3.1 and 6.3.2: κόσμε, a UTF-16 surrogate (U+D800), "edited".
    let payload = [KOSME, &hex("eda080"), b"edited"].concat();
    check("6.3", &payload);
}

#[test]
fn case_6_4_1_fail_fast_on_the_fragment_with_an_out_of_range_code_point() {
    // PART2 (f4 90 80 80) would be U+110000. The error must appear with
    // the second fragment, before the third (FIN) fragment arrives.
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, KOSME),
            setup.cont(false, &hex("f4908080")),
            setup.cont(true, b"edited"),
        ];
        let outcome = setup.run(&frames, Chop::Frames);
        outcome.assert_failed(invalid_utf8());
        outcome.assert_failed_in_frame(1);
        assert!(outcome.messages().is_empty());

        // Fed only up to the bad fragment, the error is already there.
        let mut conn = setup.connection();
        conn.receive(&frames[0]);
        conn.receive(&frames[1]);
        let mut result = conn.poll_event();
        while let Ok(Some(switchboard_proto::Event::Chunk(_))) = result {
            result = conn.poll_event();
        }
        assert_eq!(
            result,
            Err(invalid_utf8()),
            "{setup:?}: no error before the FIN fragment"
        );
    });
}

#[test]
fn case_6_4_2_fail_fast_on_the_byte_that_breaks_a_sequence() {
    // PART1 ends with the lead byte f4; PART2 is 0x90, which f4 cannot take.
    for_each_setup(|setup| {
        let frames = [
            setup.frame(false, 0, OP_TEXT, &[KOSME, &[0xF4]].concat()),
            setup.cont(false, &[0x90]),
            setup.cont(true, &[&hex("8080")[..], b"edited"].concat()),
        ];
        let outcome = setup.run(&frames, Chop::Frames);
        outcome.assert_failed(invalid_utf8());
        outcome.assert_failed_in_frame(1);
    });
}

#[test]
fn case_6_4_3_and_6_4_4_invalid_sequence_inside_one_chopped_frame() {
    // The whole text is one frame delivered in three reads. No invalid text
    // is ever delivered. In streaming mode the payload is checked as it
    // arrives, so the error must come with the read that holds the bad byte,
    // before the rest of the frame (Autobahn's strict verdict). In message
    // mode a frame is decoded whole, so the error may wait for the frame's
    // end (Autobahn's non-strict verdict); the Connection contract asks no
    // more.
    let payload = [KOSME, &hex("f4908080"), b"edited"].concat();
    // 6.4.3 cuts around the whole bad sequence, 6.4.4 around its 0x90 only.
    let cases = [
        ("6.4.3", KOSME.len(), KOSME.len() + 4),
        ("6.4.4", KOSME.len() + 1, KOSME.len() + 2),
    ];
    for (case, first_cut, second_cut) in cases {
        for_each_setup(|setup| {
            let frame = setup.text(&payload);
            let header_len = frame.len() - payload.len();
            let (a, b) = (header_len + first_cut, header_len + second_cut);
            let reads = [&frame[..a], &frame[a..b], &frame[b..]];
            let mut conn = setup.connection();
            let mut error = None;
            let mut error_read = None;
            let mut streamed = Vec::new();
            for (index, read) in reads.into_iter().enumerate() {
                conn.receive(read);
                loop {
                    match conn.poll_event() {
                        Ok(None) => break,
                        // Streaming mode may hand out the valid start early.
                        Ok(Some(switchboard_proto::Event::Chunk(piece))) => {
                            streamed.extend_from_slice(&piece.payload)
                        }
                        Ok(Some(event)) => {
                            panic!("case {case} {setup:?}: delivered {event:?} from invalid text")
                        }
                        Err(e) => {
                            error = Some(e);
                            error_read.get_or_insert(index);
                            break;
                        }
                    }
                }
            }
            assert_eq!(error, Some(invalid_utf8()), "case {case} {setup:?}");
            if setup.delivery == Delivery::Chunks {
                assert_eq!(
                    error_read,
                    Some(1),
                    "case {case} {setup:?}: streaming did not fail fast"
                );
            }
            assert_eq!(
                fail_point(&streamed),
                None,
                "case {case}: streamed invalid bytes {streamed:02x?}"
            );
        });
    }
}

#[test]
fn case_6_5_valid_utf8_kosme_in_every_fragmentation() {
    let bytes = hex("cebae1bdb9cf83cebcceb5");
    check("6.5.1", &bytes);
    for_each_setup(|setup| {
        // 6.5.2-6.5.5: fragments at code points, in the middle of code
        // points, of one byte, and one code point each.
        for cuts in [
            vec![2, 5, 7, 9],
            vec![1, 3, 4, 6, 8, 10],
            (1..bytes.len()).collect(),
            vec![2, 5, 7, 9, 11, 11],
        ] {
            let outcome = setup.run_chopped(&setup.fragmented(OP_TEXT, &bytes, &cuts));
            outcome.assert_no_error();
            assert_eq!(
                outcome.messages(),
                vec![text(std::str::from_utf8(&bytes).unwrap())],
                "cuts {cuts:?}"
            );
        }
    });
}

#[test]
fn case_6_6_every_prefix_of_kosme() {
    // 6.6.1-6.6.11: prefixes ending inside a code point are invalid (the
    // message ends there), prefixes ending at a code point are valid.
    let bytes = hex("cebae1bdb9cf83cebcceb5");
    for n in 1..=bytes.len() {
        check(&format!("6.6.{n}"), &bytes[..n]);
    }
}

/// Cases whose verdict `std::str::from_utf8` also gives; the verdict is
/// asserted against it so a typo in a table cannot flip a case silently.
fn check_table(group: &str, expect_valid: bool, cases: &[&str]) {
    for (i, case) in cases.iter().enumerate() {
        let bytes = hex(case);
        assert_eq!(
            std::str::from_utf8(&bytes).is_ok(),
            expect_valid,
            "table entry {group}.{}",
            i + 1
        );
        check(&format!("{group}.{}", i + 1), &bytes);
    }
}

#[test]
fn case_6_7_first_possible_sequence_of_each_length() {
    check_table("6.7", true, &["00", "c280", "e0a080", "f0908080"]);
}

#[test]
fn case_6_8_first_five_and_six_byte_sequences() {
    check_table("6.8", false, &["f888808080", "fc8480808080"]);
}

#[test]
fn case_6_9_last_possible_sequence_of_each_length() {
    check_table("6.9", true, &["7f", "dfbf", "efbfbf", "f48fbfbf"]);
}

#[test]
fn case_6_10_sequences_beyond_u10ffff() {
    check_table("6.10", false, &["f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf"]);
}

#[test]
fn case_6_11_other_boundary_conditions() {
    check_table(
        "6.11.valid",
        true,
        &["ed9fbf", "ee8080", "efbfbd", "f48fbfbf"],
    );
    check_table("6.11.5", false, &["f4908080"]);
}

#[test]
fn case_6_12_unexpected_continuation_bytes() {
    check_table(
        "6.12",
        false,
        &[
            "80",
            "bf",
            "80bf",
            "80bf80",
            "80bf80bf",
            "80bf80bf80",
            "80bf80bf80bf",
        ],
    );
    // 6.12.8: all 64 continuation bytes in a row.
    let all: Vec<u8> = (0x80..=0xBF).collect();
    check("6.12.8", &all);
}

#[test]
fn case_6_13_lonely_start_bytes_followed_by_space() {
    let groups: [(&str, std::ops::RangeInclusive<u8>); 5] = [
        ("6.13.1", 0xC0..=0xDF),
        ("6.13.2", 0xE0..=0xEF),
        ("6.13.3", 0xF0..=0xF7),
        ("6.13.4", 0xF8..=0xFB),
        ("6.13.5", 0xFC..=0xFD),
    ];
    for (case, starts) in groups {
        let bytes: Vec<u8> = starts.flat_map(|b| [b, 0x20]).collect();
        check(case, &bytes);
        // And each lonely start alone, so each lead byte is checked in the
        // first position too.
        for b in bytes.chunks(2) {
            check(&format!("{case} ({:02x} 20)", b[0]), b);
        }
    }
}

const MISSING_LAST_BYTE: [&str; 10] = [
    "c0",
    "e080",
    "f08080",
    "f8808080",
    "fc80808080",
    "df",
    "efbf",
    "f7bfbf",
    "fbbfbfbf",
    "fdbfbfbfbf",
];

#[test]
fn case_6_14_sequences_with_the_last_continuation_byte_missing() {
    check_table("6.14", false, &MISSING_LAST_BYTE);
}

#[test]
fn case_6_15_concatenated_incomplete_sequences() {
    check("6.15.1", &hex(&MISSING_LAST_BYTE.concat()));
}

#[test]
fn case_6_16_impossible_bytes() {
    check_table("6.16", false, &["fe", "ff", "fefeffff"]);
}

#[test]
fn case_6_17_overlong_ascii_slash() {
    check_table(
        "6.17",
        false,
        &["c0af", "e080af", "f08080af", "f8808080af", "fc80808080af"],
    );
}

#[test]
fn case_6_18_maximum_overlong_sequences() {
    check_table(
        "6.18",
        false,
        &["c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf"],
    );
}

#[test]
fn case_6_19_overlong_nul() {
    check_table(
        "6.19",
        false,
        &["c080", "e08080", "f0808080", "f880808080", "fc8080808080"],
    );
}

#[test]
fn case_6_20_single_utf16_surrogates() {
    check_table(
        "6.20",
        false,
        &[
            "eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf",
        ],
    );
}

#[test]
fn case_6_21_paired_utf16_surrogates() {
    check_table(
        "6.21",
        false,
        &[
            "eda080edb080",
            "eda080edbfbf",
            "edadbfedb080",
            "edadbfedbfbf",
            "edae80edb080",
            "edae80edbfbf",
            "edafbfedb080",
            "edafbfedbfbf",
        ],
    );
}

#[test]
fn case_6_22_noncharacters_are_valid() {
    // U+FFFE, U+FFFF and the last two code points of planes 1-16, then the
    // U+FDD0-U+FDEF block.
    let mut code_points = vec![0xFFFE_u32, 0xFFFF];
    for plane in 1..=16u32 {
        code_points.push((plane << 16) | 0xFFFE);
        code_points.push((plane << 16) | 0xFFFF);
    }
    code_points.extend(0xFDD0..=0xFDEF);
    for (i, cp) in code_points.into_iter().enumerate() {
        let ch = char::from_u32(cp).unwrap();
        check(
            &format!("6.22.{} (U+{cp:04X})", i + 1),
            ch.to_string().as_bytes(),
        );
    }
}

#[test]
fn case_6_23_unicode_specials_are_valid() {
    for (i, cp) in (0xFFF9..=0xFFFFu32).enumerate() {
        let ch = char::from_u32(cp).unwrap();
        check(
            &format!("6.23.{} (U+{cp:04X})", i + 1),
            ch.to_string().as_bytes(),
        );
    }
    check("6.23.extra (BOM, U+FFFD)", "\u{FEFF}\u{FFFD}".as_bytes());
}

#[test]
fn markus_kuhn_stress_sample_text_is_valid() {
    // Section 1 and samples of section 2 of Markus Kuhn's UTF-8 stress
    // test, as text (valid).
    let sample = "κόσμε \u{0} \u{80} \u{800} \u{10000} \u{7F} \u{7FF} \u{FFFF} \u{10FFFF} \
                  \u{D7FF} \u{E000} \u{FFFD} ẞ ∮ E⋅da = Q ∀x∈ℝ ⌈x⌉ ᚻᛖ ᚳᚹᚫᚦ ⡌⠁⠧⠑ 𝄞 😀";
    check("kuhn.valid", sample.as_bytes());
}

#[test]
fn valid_text_cut_at_every_position_into_two_fragments() {
    // A sequence cut at a fragment boundary is valid (RFC 6455 §5.6: text
    // is validated over the whole message).
    let sample = "aé€𝄞z".as_bytes();
    for_each_setup(|setup| {
        for cut in 0..=sample.len() {
            let outcome = setup.run(&setup.fragmented(OP_TEXT, sample, &[cut]), Chop::Frames);
            outcome.assert_no_error();
            assert_eq!(outcome.messages(), vec![text("aé€𝄞z")], "cut at {cut}");
        }
    });
}

#[test]
fn binary_messages_are_never_utf8_checked() {
    for_each_setup(|setup| {
        let bytes = hex("eda080 c0af fe ff 80");
        let outcome = setup.run_chopped(&setup.fragmented(OP_BINARY, &bytes, &[1, 3]));
        outcome.assert_no_error();
        assert_eq!(outcome.messages(), vec![binary(&bytes)]);
    });
}

#[test]
fn invalid_text_after_a_valid_message_keeps_the_valid_one() {
    for_each_setup(|setup| {
        let frames = [
            setup.text("κόσμε".as_bytes()),
            setup.text(&hex("ce")),
            setup.ping(b"late"),
        ];
        let outcome = setup.run_chopped(&frames);
        outcome.assert_failed(invalid_utf8());
        outcome.assert_failed_in_frame(1);
        assert_eq!(outcome.messages(), vec![text("κόσμε")]);
        assert!(outcome.pongs().is_empty());
    });
}
