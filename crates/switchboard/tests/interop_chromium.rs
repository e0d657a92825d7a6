//! Interop with headless Chromium (Debian's /usr/bin/chromium driven by
//! interop/browser/run.js): the browser's `WebSocket` is a client of our
//! server. Needs `scripts/install-deps.sh`; `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod interop_support;

use interop_support::{run, scenarios, skip_requested, PeerKind};

#[test]
fn chromium_runs_script_against_our_server_and_closes_4000() {
    if skip_requested("chromium_runs_script_against_our_server_and_closes_4000") {
        return;
    }
    run(scenarios::peer_client_against_our_server(
        PeerKind::Chromium,
    ));
}

#[test]
fn our_server_drives_chromium_with_big_fragmented_messages_and_closes_4002() {
    if skip_requested("our_server_drives_chromium_with_big_fragmented_messages_and_closes_4002") {
        return;
    }
    run(scenarios::our_server_drives_peer_client(PeerKind::Chromium));
}

#[test]
fn chromium_and_our_server_agree_on_subprotocol() {
    if skip_requested("chromium_and_our_server_agree_on_subprotocol") {
        return;
    }
    run(scenarios::subprotocol_chosen_by_our_server(
        PeerKind::Chromium,
    ));
}
