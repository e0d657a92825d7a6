//! Interop with Python `websockets` (interop/python/peer.py), both roles: our client against its
//! echo server, its client against our server. Needs `scripts/install-deps.sh`;
//! `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod interop_support;

use interop_support::{deflate, run, scenarios, skip_requested, PeerKind};
use switchboard::DeflateConfig;

#[test]
fn our_client_exchanges_script_pings_big_and_fragmented_messages_with_python_server() {
    if skip_requested(
        "our_client_exchanges_script_pings_big_and_fragmented_messages_with_python_server",
    ) {
        return;
    }
    run(scenarios::our_client_against_peer_server(PeerKind::Python));
}

#[test]
fn python_server_initiated_close_reaches_our_client_with_code_and_reason() {
    if skip_requested("python_server_initiated_close_reaches_our_client_with_code_and_reason") {
        return;
    }
    run(scenarios::peer_server_initiated_close(PeerKind::Python));
}

#[test]
fn python_client_runs_script_against_our_server_and_closes_4000() {
    if skip_requested("python_client_runs_script_against_our_server_and_closes_4000") {
        return;
    }
    run(scenarios::peer_client_against_our_server(PeerKind::Python));
}

#[test]
fn our_server_drives_python_client_with_big_fragmented_messages_pings_and_closes_4002() {
    if skip_requested(
        "our_server_drives_python_client_with_big_fragmented_messages_pings_and_closes_4002",
    ) {
        return;
    }
    run(scenarios::our_server_drives_peer_client(PeerKind::Python));
}

#[test]
fn our_client_and_python_server_agree_on_subprotocol() {
    if skip_requested("our_client_and_python_server_agree_on_subprotocol") {
        return;
    }
    run(scenarios::subprotocol_chosen_by_peer_server(
        PeerKind::Python,
    ));
}

#[test]
fn python_client_and_our_server_agree_on_subprotocol() {
    if skip_requested("python_client_and_our_server_agree_on_subprotocol") {
        return;
    }
    run(scenarios::subprotocol_chosen_by_our_server(
        PeerKind::Python,
    ));
}

#[test]
fn deflate_our_default_client_with_python_default_server() {
    if skip_requested("deflate_our_default_client_with_python_default_server") {
        return;
    }
    run(deflate::our_deflate_client_against_peer_server(
        PeerKind::Python,
        &[],
        DeflateConfig::default(),
        "permessage-deflate",
    ));
}

#[test]
fn deflate_our_client_with_python_server_no_context_takeover_small_windows() {
    if skip_requested("deflate_our_client_with_python_server_no_context_takeover_small_windows") {
        return;
    }
    run(deflate::our_deflate_client_against_peer_server(
        PeerKind::Python,
        &[
            "--server-no-context-takeover",
            "--client-no-context-takeover",
            "--server-max-window-bits",
            "10",
            "--client-max-window-bits",
            "9",
        ],
        DeflateConfig::default(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
    ));
}

#[test]
fn deflate_python_default_client_with_our_default_server() {
    if skip_requested("deflate_python_default_client_with_our_default_server") {
        return;
    }
    run(deflate::peer_deflate_client_against_our_server(
        PeerKind::Python,
        &["--deflate"],
        DeflateConfig::default(),
        "permessage-deflate",
    ));
}

#[test]
fn deflate_python_small_window_client_with_our_low_memory_server() {
    if skip_requested("deflate_python_small_window_client_with_our_low_memory_server") {
        return;
    }
    run(deflate::peer_deflate_client_against_our_server(
        PeerKind::Python,
        &[
            "--deflate",
            "--client-no-context-takeover",
            "--server-max-window-bits",
            "9",
            "--client-max-window-bits",
            "9",
        ],
        DeflateConfig::low_memory(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
    ));
}
