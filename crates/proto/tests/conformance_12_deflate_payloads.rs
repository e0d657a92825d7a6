//! Autobahn section 12: compressed echo of different payloads with the
//! default permessage-deflate parameters.
//!
//! Autobahn's sub-categories are its test data files (12.1 JSON, 12.2 a
//! bitmap, 12.3 German text, 12.4 HTML, 12.5 a PDF); cases 1–10 of each
//! send messages of 16 B to 128 KiB, cases 11–18 auto-fragment them to
//! 256 B–32 KiB frames. Autobahn offers
//! `permessage-deflate; client_no_context_takeover; client_max_window_bits`
//! as a client and accepts any offer unchanged as a server. Each case here
//! runs both ways: our server answering Autobahn's offer, and our client
//! with Autobahn's server response, and every message is echoed back
//! through the other direction. The harness (`tests/deflate_echo`)
//! documents the wire checks; the corpora are generated stand-ins for
//! Autobahn's files, and fewer messages are sent than Autobahn's 1000.

mod common;
mod deflate_echo;

use deflate_echo::{
    autobahn_client, autobahn_server, corpus, direction, run_echo, Agreed, CorpusKind, MSG_SIZES,
};

/// Autobahn's default `PerMessageDeflateOffer()` as header text.
const AUTOBAHN_DEFAULT_OFFER: &str =
    "permessage-deflate; client_no_context_takeover; client_max_window_bits";

/// Runs case `12.j.i` (`case` is `i`) for `kind` in both modes.
fn run_case(kind: CorpusKind, case: usize) {
    let (len, fragment) = MSG_SIZES[case - 1];
    let corpus = corpus(kind);

    // Autobahn's client promises client_no_context_takeover; our default
    // server keeps its own context and confirms the client's promise.
    let negotiated = autobahn_client(
        AUTOBAHN_DEFAULT_OFFER,
        "permessage-deflate; client_no_context_takeover",
        Agreed {
            client: direction(true, 15),
            server: direction(false, 15),
        },
    );
    run_echo(negotiated, corpus, len, fragment);

    // Autobahn's server accepts our first offer as it is.
    let negotiated = autobahn_server(
        "permessage-deflate",
        Agreed {
            client: direction(false, 15),
            server: direction(false, 15),
        },
    );
    run_echo(negotiated, corpus, len, fragment);
}

macro_rules! cases {
    ($($name:ident: $kind:ident, $case:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run_case(CorpusKind::$kind, $case);
            }
        )*
    };
}

cases! {
    case_12_1_1_json_16: Json, 1;
    case_12_1_2_json_64: Json, 2;
    case_12_1_3_json_256: Json, 3;
    case_12_1_4_json_1024: Json, 4;
    case_12_1_5_json_4096: Json, 5;
    case_12_1_6_json_8192: Json, 6;
    case_12_1_7_json_16384: Json, 7;
    case_12_1_8_json_32768: Json, 8;
    case_12_1_9_json_65536: Json, 9;
    case_12_1_10_json_131072: Json, 10;
    case_12_1_11_json_8192_frag_256: Json, 11;
    case_12_1_12_json_16384_frag_256: Json, 12;
    case_12_1_13_json_32768_frag_256: Json, 13;
    case_12_1_14_json_65536_frag_256: Json, 14;
    case_12_1_15_json_131072_frag_256: Json, 15;
    case_12_1_16_json_131072_frag_1024: Json, 16;
    case_12_1_17_json_131072_frag_4096: Json, 17;
    case_12_1_18_json_131072_frag_32768: Json, 18;

    case_12_2_1_bitmap_16: Bitmap, 1;
    case_12_2_2_bitmap_64: Bitmap, 2;
    case_12_2_3_bitmap_256: Bitmap, 3;
    case_12_2_4_bitmap_1024: Bitmap, 4;
    case_12_2_5_bitmap_4096: Bitmap, 5;
    case_12_2_6_bitmap_8192: Bitmap, 6;
    case_12_2_7_bitmap_16384: Bitmap, 7;
    case_12_2_8_bitmap_32768: Bitmap, 8;
    case_12_2_9_bitmap_65536: Bitmap, 9;
    case_12_2_10_bitmap_131072: Bitmap, 10;
    case_12_2_11_bitmap_8192_frag_256: Bitmap, 11;
    case_12_2_12_bitmap_16384_frag_256: Bitmap, 12;
    case_12_2_13_bitmap_32768_frag_256: Bitmap, 13;
    case_12_2_14_bitmap_65536_frag_256: Bitmap, 14;
    case_12_2_15_bitmap_131072_frag_256: Bitmap, 15;
    case_12_2_16_bitmap_131072_frag_1024: Bitmap, 16;
    case_12_2_17_bitmap_131072_frag_4096: Bitmap, 17;
    case_12_2_18_bitmap_131072_frag_32768: Bitmap, 18;

    case_12_3_1_german_text_16: GermanText, 1;
    case_12_3_2_german_text_64: GermanText, 2;
    case_12_3_3_german_text_256: GermanText, 3;
    case_12_3_4_german_text_1024: GermanText, 4;
    case_12_3_5_german_text_4096: GermanText, 5;
    case_12_3_6_german_text_8192: GermanText, 6;
    case_12_3_7_german_text_16384: GermanText, 7;
    case_12_3_8_german_text_32768: GermanText, 8;
    case_12_3_9_german_text_65536: GermanText, 9;
    case_12_3_10_german_text_131072: GermanText, 10;
    case_12_3_11_german_text_8192_frag_256: GermanText, 11;
    case_12_3_12_german_text_16384_frag_256: GermanText, 12;
    case_12_3_13_german_text_32768_frag_256: GermanText, 13;
    case_12_3_14_german_text_65536_frag_256: GermanText, 14;
    case_12_3_15_german_text_131072_frag_256: GermanText, 15;
    case_12_3_16_german_text_131072_frag_1024: GermanText, 16;
    case_12_3_17_german_text_131072_frag_4096: GermanText, 17;
    case_12_3_18_german_text_131072_frag_32768: GermanText, 18;

    case_12_4_1_html_16: Html, 1;
    case_12_4_2_html_64: Html, 2;
    case_12_4_3_html_256: Html, 3;
    case_12_4_4_html_1024: Html, 4;
    case_12_4_5_html_4096: Html, 5;
    case_12_4_6_html_8192: Html, 6;
    case_12_4_7_html_16384: Html, 7;
    case_12_4_8_html_32768: Html, 8;
    case_12_4_9_html_65536: Html, 9;
    case_12_4_10_html_131072: Html, 10;
    case_12_4_11_html_8192_frag_256: Html, 11;
    case_12_4_12_html_16384_frag_256: Html, 12;
    case_12_4_13_html_32768_frag_256: Html, 13;
    case_12_4_14_html_65536_frag_256: Html, 14;
    case_12_4_15_html_131072_frag_256: Html, 15;
    case_12_4_16_html_131072_frag_1024: Html, 16;
    case_12_4_17_html_131072_frag_4096: Html, 17;
    case_12_4_18_html_131072_frag_32768: Html, 18;

    case_12_5_1_pdf_16: Pdf, 1;
    case_12_5_2_pdf_64: Pdf, 2;
    case_12_5_3_pdf_256: Pdf, 3;
    case_12_5_4_pdf_1024: Pdf, 4;
    case_12_5_5_pdf_4096: Pdf, 5;
    case_12_5_6_pdf_8192: Pdf, 6;
    case_12_5_7_pdf_16384: Pdf, 7;
    case_12_5_8_pdf_32768: Pdf, 8;
    case_12_5_9_pdf_65536: Pdf, 9;
    case_12_5_10_pdf_131072: Pdf, 10;
    case_12_5_11_pdf_8192_frag_256: Pdf, 11;
    case_12_5_12_pdf_16384_frag_256: Pdf, 12;
    case_12_5_13_pdf_32768_frag_256: Pdf, 13;
    case_12_5_14_pdf_65536_frag_256: Pdf, 14;
    case_12_5_15_pdf_131072_frag_256: Pdf, 15;
    case_12_5_16_pdf_131072_frag_1024: Pdf, 16;
    case_12_5_17_pdf_131072_frag_4096: Pdf, 17;
    case_12_5_18_pdf_131072_frag_32768: Pdf, 18;
}
