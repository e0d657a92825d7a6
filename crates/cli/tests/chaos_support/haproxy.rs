//! HAProxy on 127.0.0.1 in front of the nodes: round robin, no stickiness
//! (no cookie, no source hash), a health check on `/ready` every 200 ms
//! that takes a node out after two failures in a row (a draining node or
//! one that lost Redis answers 503 at once; one slow answer under load is
//! not enough), and layer-7 retries on another node when a node refuses a
//! connection or answers 503. This is the configuration docs/scaling.md
//! shows.

use std::net::SocketAddr;
use std::process::Command;

use switchboard_testkit::daemon::{Daemon, DaemonSpec};

/// The configuration for a frontend on `listen_port` and `backends`.
pub fn config(listen_port: u16, backends: &[SocketAddr]) -> String {
    let mut text = format!(
        "global
    maxconn 4096
    nbthread 1
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-request 5s
    # WebSocket connections, once upgraded
    timeout tunnel 1h
    # A request the chosen node refuses (connection refused, 503 while it
    # drains) goes to another node; the body is buffered so a POST can go too.
    option http-buffer-request
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 503

frontend hub
    bind 127.0.0.1:{listen_port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    timeout check 1s
    default-server inter 200ms fastinter 200ms downinter 200ms fall 2 rise 1
"
    );
    for (index, backend) in backends.iter().enumerate() {
        text.push_str(&format!("    server node{} {backend} check\n", index + 1));
    }
    text
}

/// Starts HAProxy in the foreground (`-db`) on a free port.
pub fn start(backends: &[SocketAddr]) -> Daemon {
    let spec = DaemonSpec {
        name: "haproxy",
        ports: 1,
        log_files: &[],
        install_hint: "install it with scripts/install-deps.sh (Debian package haproxy)",
    };
    Daemon::start(&spec, |dir, ports| {
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config(ports[0], backends)).expect("write haproxy.cfg");
        let mut command = Command::new("haproxy");
        command.arg("-db").arg("-f").arg(&path);
        command
    })
}

/// HAProxy's frontend address.
pub fn addr(haproxy: &Daemon) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], haproxy.ports()[0]))
}
