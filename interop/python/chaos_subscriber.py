#!/usr/bin/env python3
"""Subscribers for the chaos tests (crates/cli/tests/hub_chaos.rs): N centrifuge-python
0.7.0 clients in one process, each connected to --url (HAProxy in front of the hub
nodes) and subscribed with recovery to --channel. Every event that matters for the
"nothing lost, nothing twice" assertion goes to --out as one JSON object per line,
tagged with the client's index:

    {"sub": 0, "event": "subscribed", "recovered": true, "wasRecovering": true,
     "offset": 41, "epoch": "..."}
    {"sub": 0, "event": "publication", "offset": 42, "n": 41}
    {"sub": 0, "event": "connecting", "code": 3001, "reason": "shutdown"}

Events: start (per client: format), connecting / connected / disconnected (code,
reason), subscribing / unsubscribed (code, reason), subscribed (recoverable,
wasRecovering, recovered, offset, epoch), publication (offset, n), client_error and
subscription_error (code, message). Publication data is the publisher's JSON object
{"n": N, ...}: embedded JSON for JSON clients, its UTF-8 bytes for Protobuf ones.

    interop/.venv/bin/python interop/python/chaos_subscriber.py \
        --url ws://127.0.0.1:PORT/connection/websocket --channel chaos:stream \
        --clients 4 --formats json,protobuf --out events.jsonl [--lifetime 120]

Clients alternate through --formats. The process runs until its stdin closes (the
test dropping it), or --lifetime seconds, so an orphan never outlives its test; a
test makes it stop reading its sockets with SIGSTOP (the slow-consumer case).
"""

import argparse
import asyncio
import json
import logging
import sys
from typing import Any, Dict, List, TextIO

from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    ConnectingContext,
    DisconnectedContext,
    ErrorContext,
    PublicationContext,
    SubscribedContext,
    SubscribingContext,
    SubscriptionErrorContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)


class Log:
    """One JSON line per event, flushed at once: the test reads the file while we run."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, sub: int, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"sub": sub, "event": event, **fields}) + "\n")
        self.out.flush()


def sequence_number(data: Any) -> Any:
    """The publisher's `n`, from embedded JSON (JSON clients) or bytes (Protobuf)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = json.loads(bytes(data).decode())
        except ValueError:
            return None
    if isinstance(data, dict):
        return data.get("n")
    return None


class ClientEvents(ClientEventHandler):
    def __init__(self, log: Log, sub: int) -> None:
        self.log = log
        self.sub = sub

    async def on_connecting(self, ctx: ConnectingContext) -> None:
        self.log.write(self.sub, "connecting", code=ctx.code, reason=ctx.reason)

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.log.write(self.sub, "connected", client=ctx.client)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        self.log.write(self.sub, "disconnected", code=ctx.code, reason=ctx.reason)

    async def on_error(self, ctx: ErrorContext) -> None:
        self.log.write(self.sub, "client_error", code=ctx.code, message=str(ctx.error))


class SubscriptionEvents(SubscriptionEventHandler):
    def __init__(self, log: Log, sub: int) -> None:
        self.log = log
        self.sub = sub

    async def on_subscribing(self, ctx: SubscribingContext) -> None:
        self.log.write(self.sub, "subscribing", code=ctx.code, reason=ctx.reason)

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        position = ctx.stream_position
        self.log.write(
            self.sub,
            "subscribed",
            recoverable=ctx.recoverable,
            wasRecovering=ctx.was_recovering,
            recovered=ctx.recovered,
            offset=position.offset if position else None,
            epoch=position.epoch if position else None,
        )

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        self.log.write(self.sub, "unsubscribed", code=ctx.code, reason=ctx.reason)

    async def on_publication(self, ctx: PublicationContext) -> None:
        self.log.write(
            self.sub,
            "publication",
            offset=ctx.pub.offset or 0,
            n=sequence_number(ctx.pub.data),
        )

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        self.log.write(self.sub, "subscription_error", code=ctx.code, message=str(ctx.error))


async def start_client(args: argparse.Namespace, log: Log, sub: int, fmt: str) -> Client:
    min_delay = args.min_reconnect_ms / 1000
    max_delay = args.max_reconnect_ms / 1000
    client = Client(
        args.url,
        events=ClientEvents(log, sub),
        use_protobuf=fmt == "protobuf",
        timeout=5.0,
        min_reconnect_delay=min_delay,
        max_reconnect_delay=max_delay,
        name="switchboard-chaos",
        proxy=None,
    )
    log.write(sub, "start", format=fmt)
    subscription = client.new_subscription(
        args.channel,
        events=SubscriptionEvents(log, sub),
        min_resubscribe_delay=min_delay,
        max_resubscribe_delay=max_delay,
    )
    await client.connect()
    await subscription.subscribe()
    return client


async def stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--formats", default="json")
    parser.add_argument("--out", required=True)
    parser.add_argument("--lifetime", type=float, default=120)
    parser.add_argument("--min-reconnect-ms", type=float, default=100)
    parser.add_argument("--max-reconnect-ms", type=float, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    formats = args.formats.split(",")

    with open(args.out, "a", encoding="utf-8") as out:
        log = Log(out)
        clients: List[Client] = []
        for sub in range(args.clients):
            clients.append(await start_client(args, log, sub, formats[sub % len(formats)]))
        try:
            await asyncio.wait_for(stdin_closed(), timeout=args.lifetime)
        except asyncio.TimeoutError:
            print("chaos_subscriber.py: lifetime over", file=sys.stderr)
        for client in clients:
            try:
                await asyncio.wait_for(client.disconnect(), timeout=2)
            except Exception as e:  # leaving anyway; say why on stderr
                print(f"chaos_subscriber.py: disconnect at exit: {e!r}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
