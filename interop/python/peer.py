#!/usr/bin/env python3
"""Interop peer built on the Python `websockets` library (asyncio API).

Switchboard's Rust interop tests spawn this program and read the JSON lines it
prints on stdout. The scripted exchange, the command protocol and every event
line are specified in interop/README.md; keep this file in step with it.

    peer.py server --port 0 [options]      # prints "LISTENING <port>", echoes, obeys commands
    peer.py client --url ws://127.0.0.1:PORT/ [options]   # runs the scripted exchange

Exit status (client): 0 when every step matched, 1 on a mismatch, 2 on a
timeout or connection failure.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

# ----------------------------------------------------------------- shared data

TEXT_UNIT = "ab\u2713\U0001f389cdefghi"  # 16 UTF-8 bytes: a b ✓ 🎉 c..i
assert len(TEXT_UNIT.encode()) == 16


def binary_pattern(length: int) -> bytes:
    """Byte i = (i*31 + 7) & 0xff (the pattern is periodic with period 256)."""
    period = bytes((i * 31 + 7) & 0xFF for i in range(256))
    return (period * (length // 256 + 1))[:length]


def text_pattern(length: int) -> str:
    """TEXT_UNIT repeated; `length` counts UTF-8 bytes and must be a multiple of 16."""
    if length % 16:
        raise ValueError(f"text length {length} is not a multiple of 16 bytes")
    return TEXT_UNIT * (length // 16)


def script_steps(with_ping: bool) -> list[tuple[str, object]]:
    """The scripted exchange, in order (README "Scripted exchange")."""
    steps: list[tuple[str, object]] = [
        ("message", "hello"),
        ("message", "h\u00e9llo w\u00f6rld \u2713 \U0001f389"),
        ("message", bytes(range(256))),
        ("message", binary_pattern(4 * 1024 * 1024)),
        ("message", text_pattern(2 * 1024 * 1024)),
        # Python fragments are str objects, so text splits on character boundaries.
        ("fragments", ["fragmented ", "text \u2713 ", "message \U0001f389"]),
        ("fragments", [bytes(range(0, 100)), bytes(range(100, 200)), bytes(range(200, 256))]),
    ]
    if with_ping:
        steps.append(("ping", "ping-1"))
    return steps


# ---------------------------------------------------------------------- events

def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}, ensure_ascii=False, separators=(",", ":")), flush=True)


def describe(message: str | bytes) -> dict[str, object]:
    """Fields of a message event: type, byte length, sha256, and short text verbatim."""
    if isinstance(message, str):
        raw = message.encode()
        fields: dict[str, object] = {"type": "text", "len": len(raw)}
        if len(raw) <= 1024:
            fields["text"] = message
    else:
        raw = bytes(message)
        fields = {"type": "binary", "len": len(raw)}
    fields["sha256"] = hashlib.sha256(raw).hexdigest()
    return fields


def emit_close(ws, initiator: str) -> None:
    received = ws.protocol.close_rcvd
    sent = ws.protocol.close_sent
    emit(
        "close",
        # 1006: no close frame arrived (RFC 6455 §7.1.5); 1005: one arrived without a code.
        code=received.code if received else 1006,
        reason=received.reason if received else "",
        sent_code=sent.code if sent else None,
        sent_reason=sent.reason if sent else None,
        initiator=initiator,
    )


# ------------------------------------------------------------------- commands

async def run_command(ws, text: str, state: dict) -> bool:
    """Obey a "__" command; returns False when the text is not a command (echo it)."""
    parts = text.split(" ", 2)
    name = parts[0]
    if name == "__close" and len(parts) >= 2:
        code = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        state["initiator"] = "local"
        emit("closing", code=code, reason=reason)
        await ws.close(code, reason)
    elif name == "__ping":
        data = text[len("__ping "):] if len(text) > len("__ping") else ""
        waiter = await ws.ping(data)
        emit("ping_sent", data=data)
        state["tasks"].add(asyncio.ensure_future(report_pong(waiter, data)))
    elif name in ("__send", "__fragment") and len(parts) >= 3:
        kind, sizes = parts[1], parts[2].split()
        length = int(sizes[0])
        payload: str | bytes = text_pattern(length) if kind == "text" else binary_pattern(length)
        if name == "__send":
            await ws.send(payload)
            emit("sent", fragments=1, **describe(payload))
        else:
            count = max(1, int(sizes[1]) if len(sizes) > 1 else 3)
            step = -(-len(payload) // count)
            chunks = [payload[i:i + step] for i in range(0, len(payload), step)] or [payload]
            await ws.send(chunks)
            emit("sent", fragments=len(chunks), **describe(payload))
    else:
        return False
    return True


async def report_pong(waiter, data: str) -> None:
    try:
        await waiter
        emit("pong", data=data)
    except ConnectionClosed:
        pass


async def echo_and_obey(ws, state: dict) -> None:
    """Echo every message and obey commands until the connection closes."""
    try:
        async for message in ws:
            emit("message", **describe(message))
            if isinstance(message, str) and message.startswith("__"):
                if await run_command(ws, message, state):
                    continue
            await ws.send(message)
    except ConnectionClosed:
        pass


# ---------------------------------------------------------------------- server

def server_extensions(args) -> list | None:
    if not args.deflate:
        return None
    return [
        ServerPerMessageDeflateFactory(
            server_no_context_takeover=args.server_no_context_takeover,
            client_no_context_takeover=args.client_no_context_takeover,
            server_max_window_bits=args.server_max_window_bits,
            client_max_window_bits=(
                int(args.client_max_window_bits) if args.client_max_window_bits else None
            ),
        )
    ]


async def run_server(args) -> int:
    counter = {"next": 0}
    done = asyncio.Event()

    async def handler(ws) -> None:
        counter["next"] += 1
        emit(
            "open",
            conn=counter["next"],
            path=ws.request.path,
            extensions=ws.response.headers.get("Sec-WebSocket-Extensions", ""),
            subprotocol=ws.subprotocol,
        )
        state = {"initiator": "remote", "tasks": set()}
        await echo_and_obey(ws, state)
        await ws.wait_closed()
        emit_close(ws, state["initiator"])
        if args.once:
            done.set()

    async with serve(
        handler,
        args.host,
        args.port,
        compression=None,
        extensions=server_extensions(args),
        subprotocols=args.subprotocol or None,
        max_size=args.max_size,
        max_queue=None,
        ping_interval=None,
        close_timeout=5,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"LISTENING {port}", flush=True)
        try:
            await asyncio.wait_for(done.wait(), timeout=args.lifetime)
        except asyncio.TimeoutError:
            emit("error", error=f"lifetime of {args.lifetime}s elapsed; exiting")
    return 0


# ---------------------------------------------------------------------- client

def client_extensions(args) -> list | None:
    # None, not []: websockets sends an empty Sec-WebSocket-Extensions header for [].
    if not args.deflate:
        return None
    cmwb = args.client_max_window_bits
    return [
        ClientPerMessageDeflateFactory(
            server_no_context_takeover=args.server_no_context_takeover,
            client_no_context_takeover=args.client_no_context_takeover,
            server_max_window_bits=args.server_max_window_bits,
            client_max_window_bits=True if cmwb in (None, "offer") else int(cmwb),
        )
    ]


async def run_script(ws, args, errors: list[str]) -> None:
    for index, (kind, payload) in enumerate(script_steps(args.script == "full"), start=1):
        if kind == "ping":
            waiter = await ws.ping(payload)
            emit("ping_sent", step=index, data=payload)
            await waiter
            emit("pong", step=index, data=payload)
            continue
        if kind == "fragments":
            joined = "".join(payload) if isinstance(payload[0], str) else b"".join(payload)
            await ws.send(payload)
            emit("sent", step=index, fragments=len(payload), **describe(joined))
        else:
            joined = payload
            await ws.send(payload)
            emit("sent", step=index, fragments=1, **describe(joined))
        echo = await ws.recv()
        emit("message", step=index, **describe(echo))
        if echo != joined:
            errors.append(f"step {index}: echo differs from what was sent")
            emit("mismatch", step=index, expected=describe(joined), got=describe(echo))


async def run_client(args) -> int:
    errors: list[str] = []
    async with connect(
        args.url,
        compression=None,
        extensions=client_extensions(args),
        subprotocols=args.subprotocol or None,
        max_size=args.max_size,
        max_queue=None,
        ping_interval=None,
        close_timeout=5,
        open_timeout=10,
    ) as ws:
        emit(
            "open",
            extensions=ws.response.headers.get("Sec-WebSocket-Extensions", ""),
            subprotocol=ws.subprotocol,
        )
        state = {"initiator": "remote", "tasks": set()}
        if args.script != "none":
            await run_script(ws, args, errors)
        if args.after == "close":
            state["initiator"] = "local"
            emit("closing", code=args.close_code, reason=args.close_reason)
            await ws.close(args.close_code, args.close_reason)
        else:
            await echo_and_obey(ws, state)
        await ws.wait_closed()
        emit_close(ws, state["initiator"])
    emit("done", ok=not errors, errors=errors)
    return 0 if not errors else 1


# ------------------------------------------------------------------------- cli

def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)

    def common(p) -> None:
        p.add_argument("--deflate", action="store_true", help="negotiate permessage-deflate")
        p.add_argument("--server-no-context-takeover", action="store_true")
        p.add_argument("--client-no-context-takeover", action="store_true")
        p.add_argument("--server-max-window-bits", type=int, default=None)
        p.add_argument("--client-max-window-bits", default=None,
                       help="8..15, or 'offer' (client: offer the parameter without a value)")
        p.add_argument("--subprotocol", action="append", default=[])
        p.add_argument("--max-size", type=int, default=64 * 1024 * 1024, help="max message bytes")

    s = sub.add_parser("server", help="echo server obeying __ commands")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--once", action="store_true", help="exit after the first connection closes")
    s.add_argument("--lifetime", type=float, default=300, help="exit after this many seconds")
    common(s)

    c = sub.add_parser("client", help="run the scripted exchange against --url")
    c.add_argument("--url", required=True)
    c.add_argument("--script", choices=["full", "no-ping", "none"], default="full")
    c.add_argument("--after", choices=["close", "serve"], default="close",
                   help="close with --close-code/--close-reason, or echo and obey commands until closed")
    c.add_argument("--close-code", type=int, default=4000)
    c.add_argument("--close-reason", default="bye-interop")
    c.add_argument("--timeout", type=float, default=60, help="give up after this many seconds")
    common(c)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.mode == "server":
        return asyncio.run(run_server(args))
    try:
        return asyncio.run(asyncio.wait_for(run_client(args), timeout=args.timeout))
    except asyncio.TimeoutError:
        emit("done", ok=False, errors=[f"timed out after {args.timeout}s"])
        return 2
    except (OSError, ConnectionClosed) as error:
        emit("done", ok=False, errors=[f"{type(error).__name__}: {error}"])
        return 2
    except Exception as error:  # handshake rejections, invalid URIs, protocol errors
        emit("done", ok=False, errors=[f"{type(error).__name__}: {error}"])
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
