//! Interop with headless Chromium (Debian's /usr/bin/chromium driven by
//! interop/browser/run.js): the browser's `WebSocket` is a client of our
//! server. Needs `scripts/install-deps.sh`; `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod interop_support;

use interop_support::{deflate, run_exclusive, scenarios, skip_requested, PeerKind};
use switchboard::DeflateConfig;

#[test]
fn chromium_runs_script_against_our_server_and_closes_4000() {
    if skip_requested("chromium_runs_script_against_our_server_and_closes_4000") {
        return;
    }
    run_exclusive(scenarios::peer_client_against_our_server(
        PeerKind::Chromium,
    ));
}

#[test]
fn our_server_drives_chromium_with_big_fragmented_messages_and_closes_4002() {
    if skip_requested("our_server_drives_chromium_with_big_fragmented_messages_and_closes_4002") {
        return;
    }
    run_exclusive(scenarios::our_server_drives_peer_client(PeerKind::Chromium));
}

#[test]
fn chromium_and_our_server_agree_on_subprotocol() {
    if skip_requested("chromium_and_our_server_agree_on_subprotocol") {
        return;
    }
    run_exclusive(scenarios::subprotocol_chosen_by_our_server(
        PeerKind::Chromium,
    ));
}

#[test]
fn deflate_chromium_with_our_default_server() {
    if skip_requested("deflate_chromium_with_our_default_server") {
        return;
    }
    run_exclusive(deflate::peer_deflate_client_against_our_server(
        PeerKind::Chromium,
        &[],
        DeflateConfig::default(),
        "permessage-deflate",
    ));
}

#[test]
fn deflate_chromium_with_our_low_memory_server() {
    if skip_requested("deflate_chromium_with_our_low_memory_server") {
        return;
    }
    run_exclusive(deflate::peer_deflate_client_against_our_server(
        PeerKind::Chromium,
        &[],
        DeflateConfig::low_memory(),
        // Chromium offers no client_no_context_takeover, so it is not answered.
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10",
    ));
}
