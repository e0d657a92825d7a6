//! Interop with Node `ws` (interop/node/peer.js), both roles: our client against its
//! echo server, its client against our server. Needs `scripts/install-deps.sh`;
//! `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod interop_support;

use interop_support::{deflate, run, scenarios, skip_requested, PeerKind};
use switchboard::DeflateConfig;

#[test]
fn our_client_exchanges_script_pings_big_and_fragmented_messages_with_node_server() {
    if skip_requested(
        "our_client_exchanges_script_pings_big_and_fragmented_messages_with_node_server",
    ) {
        return;
    }
    run(scenarios::our_client_against_peer_server(PeerKind::Node));
}

#[test]
fn node_server_initiated_close_reaches_our_client_with_code_and_reason() {
    if skip_requested("node_server_initiated_close_reaches_our_client_with_code_and_reason") {
        return;
    }
    run(scenarios::peer_server_initiated_close(PeerKind::Node));
}

#[test]
fn node_client_runs_script_against_our_server_and_closes_4000() {
    if skip_requested("node_client_runs_script_against_our_server_and_closes_4000") {
        return;
    }
    run(scenarios::peer_client_against_our_server(PeerKind::Node));
}

#[test]
fn our_server_drives_node_client_with_big_fragmented_messages_pings_and_closes_4002() {
    if skip_requested(
        "our_server_drives_node_client_with_big_fragmented_messages_pings_and_closes_4002",
    ) {
        return;
    }
    run(scenarios::our_server_drives_peer_client(PeerKind::Node));
}

#[test]
fn our_client_and_node_server_agree_on_subprotocol() {
    if skip_requested("our_client_and_node_server_agree_on_subprotocol") {
        return;
    }
    run(scenarios::subprotocol_chosen_by_peer_server(PeerKind::Node));
}

#[test]
fn node_client_and_our_server_agree_on_subprotocol() {
    if skip_requested("node_client_and_our_server_agree_on_subprotocol") {
        return;
    }
    run(scenarios::subprotocol_chosen_by_our_server(PeerKind::Node));
}

#[test]
fn deflate_our_default_client_with_node_server_window_8_no_context_takeover() {
    if skip_requested("deflate_our_default_client_with_node_server_window_8_no_context_takeover") {
        return;
    }
    run(deflate::our_deflate_client_against_peer_server(
        PeerKind::Node,
        &[
            "--server-no-context-takeover",
            "--client-no-context-takeover",
            "--server-max-window-bits",
            "8",
            "--client-max-window-bits",
            "8",
        ],
        DeflateConfig::default(),
        "permessage-deflate; client_max_window_bits=8; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8",
    ));
}

#[test]
fn deflate_our_low_memory_client_with_node_default_server() {
    if skip_requested("deflate_our_low_memory_client_with_node_default_server") {
        return;
    }
    run(deflate::our_deflate_client_against_peer_server(
        PeerKind::Node,
        &[],
        DeflateConfig::low_memory(),
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=10",
    ));
}

#[test]
fn deflate_node_default_client_with_our_balanced_server() {
    if skip_requested("deflate_node_default_client_with_our_balanced_server") {
        return;
    }
    run(deflate::peer_deflate_client_against_our_server(
        PeerKind::Node,
        &["--deflate"],
        DeflateConfig::balanced(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    ));
}

#[test]
fn deflate_node_no_context_takeover_client_with_our_low_memory_server() {
    if skip_requested("deflate_node_no_context_takeover_client_with_our_low_memory_server") {
        return;
    }
    run(deflate::peer_deflate_client_against_our_server(
        PeerKind::Node,
        &[
            "--deflate",
            "--client-no-context-takeover",
            "--server-no-context-takeover",
            "--client-max-window-bits",
            "10",
        ],
        DeflateConfig::low_memory(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10",
    ));
}

/// Regression: a `low_memory()` server used to answer
/// `client_no_context_takeover` unasked, and Node's `ws` client (default
/// options from `--deflate`, i.e. `clientNoContextTakeover: false`) then
/// failed the handshake with "Invalid Sec-WebSocket-Extensions header".
/// The server now answers it only when offered, so here the client keeps
/// its context and our decompressor keeps it too.
#[test]
fn deflate_node_default_client_with_our_low_memory_server() {
    if skip_requested("deflate_node_default_client_with_our_low_memory_server") {
        return;
    }
    run(deflate::peer_deflate_client_against_our_server(
        PeerKind::Node,
        &["--deflate"],
        DeflateConfig::low_memory(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10",
    ));
}
