#!/usr/bin/env python3
"""Idle RSS per WebSocket connection of `switchboard serve` (a measurement,
not a pass/fail test).

Starts BINARY serve on a free loopback port, opens a warm-up batch of idle
WebSocket connections to PATH (default /echo), reads the server's RSS,
opens COUNT more from this (separate) process, waits for the server to
settle and reports the RSS growth per connection. On
/connection/websocket every connection also sends the Centrifugo
`connect` command and waits for its reply (an idle, connected client);
with a CHANNELS count above 0 it then subscribes to one of CHANNELS
channels (`idle0` ... round robin) and waits for that reply too (an idle
subscribed client: the figure issue 10 asks for, target 3 KiB).

    cargo build --release -p switchboard-cli
    python3 crates/hub/scripts/idle_rss.py target/release/switchboard 10000
    python3 crates/hub/scripts/idle_rss.py target/release/switchboard 10000 /connection/websocket
    python3 crates/hub/scripts/idle_rss.py target/release/switchboard 10000 /connection/websocket 100
"""

import os
import re
import resource
import socket
import subprocess
import sys
import time

WARM_UP = 200
HUB_PATH = "/connection/websocket"
# {"id":1,"connect":{}} as one masked text frame (mask key 0: payload as is).
CONNECT_FRAME = bytes([0x81, 0x80 | 21, 0, 0, 0, 0]) + b'{"id":1,"connect":{}}'


def subscribe_frame(channel):
    """{"id":2,"subscribe":{"channel":CHANNEL}} as one masked text frame."""
    payload = b'{"id":2,"subscribe":{"channel":"%s"}}' % channel.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload


def read_until(sock, buffered, marker, what):
    while marker not in buffered:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"closed before the {what} reply")
        buffered += chunk
    return buffered.split(marker, 1)[1]


def upgrade_request(path):
    return (
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def raise_fd_limit():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_idle(addr, path, channel=None):
    sock = socket.create_connection(addr, timeout=10)
    sock.sendall(upgrade_request(path))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    if path == HUB_PATH:
        sock.sendall(CONNECT_FRAME)
        rest = read_until(sock, head.split(b"\r\n\r\n", 1)[1], b'"connect"', "connect")
        if channel is not None:
            sock.sendall(subscribe_frame(channel))
            read_until(sock, rest, b'"subscribe"', "subscribe")
    return sock


def settle(pid):
    """Waits until the server's RSS stops moving (at most 10 s)."""
    last = rss_kib(pid)
    for _ in range(20):
        time.sleep(0.5)
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    path = sys.argv[3] if len(sys.argv) > 3 else "/echo"
    channels = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    if channels and path != HUB_PATH:
        sys.exit(f"subscribing needs the path {HUB_PATH}")

    def channel(index):
        return f"idle{index % channels}" if channels else None
    hard = raise_fd_limit()
    if hard < count + WARM_UP + 100:
        sys.exit(f"the file descriptor limit {hard} is below {count + WARM_UP + 100}")
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0",
         "--max-connections", str(count + WARM_UP + 100)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "warn,switchboard_hub=info,switchboard_cli=info"},
        preexec_fn=raise_fd_limit,
    )
    try:
        addr = None
        for line in server.stderr:
            match = re.search(r"listening on ([0-9.]+):([0-9]+)", line)
            if match:
                addr = (match.group(1), int(match.group(2)))
                break
        if addr is None:
            sys.exit("the server did not report its address")
        # Keep draining the log so the server never blocks on it.
        subprocess.Popen(["cat"], stdin=server.stderr, stdout=subprocess.DEVNULL)
        sockets = [open_idle(addr, path, channel(i)) for i in range(WARM_UP)]
        before = settle(server.pid)
        sockets += [open_idle(addr, path, channel(i)) for i in range(count)]
        after = settle(server.pid)
        per = (after - before) * 1024 / count
        mode = f" subscribed over {channels} channels" if channels else ""
        print(f"{binary} {path}{mode}: RSS {before} KiB with {WARM_UP} idle connections, "
              f"{after} KiB with {WARM_UP + count}: {per / 1024:.2f} KiB per idle connection")
        for sock in sockets:
            sock.close()
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
