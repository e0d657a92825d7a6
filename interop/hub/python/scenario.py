#!/usr/bin/env python3
"""centrifuge-python (PyPI, pinned in interop/python/requirements.txt) driven against a
Centrifugo-protocol hub. Same command line, stdin commands and stdout events as
interop/hub/js/scenario.mjs (see interop/hub/README.md); diagnostics go to stderr.

    interop/.venv/bin/python interop/hub/python/scenario.py \
        --url ws://127.0.0.1:8080/connection/websocket [--format json|protobuf] \
        [--lifetime 120] [--min-reconnect-ms 50] [--max-reconnect-ms 300]

Commands arrive on stdin, one JSON object per line, and run one after another. The
script exits after `exit`, at the end of stdin, or after --lifetime seconds.
"""

import argparse
import asyncio
import json
import logging
import sys
from importlib.metadata import version as package_version
from typing import Any, Dict, Optional

from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    ConnectingContext,
    DisconnectedContext,
    ErrorContext,
    JoinContext,
    LeaveContext,
    PublicationContext,
    ReplyError,
    StreamPosition,
    SubscribedContext,
    SubscribingContext,
    SubscriptionErrorContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class Codec:
    """Publication data is a JSON object in both formats: embedded JSON in the JSON
    protocol, its UTF-8 bytes in Protobuf."""

    def __init__(self, protobuf: bool) -> None:
        self.protobuf = protobuf

    def encode(self, value: Any) -> Any:
        if self.protobuf:
            return json.dumps(value, separators=(",", ":")).encode()
        return value

    def describe(self, data: Any) -> Dict[str, Any]:
        """Small payloads whole; big ones by their sequence number and size."""
        if self.protobuf:
            raw = data if isinstance(data, (bytes, bytearray)) else bytes(data or b"")
            length = len(raw)
            try:
                value = json.loads(raw.decode())
            except ValueError:
                value = raw.decode(errors="replace")
        else:
            value = data
            length = len(json.dumps(data, separators=(",", ":")))
        out: Dict[str, Any] = {"len": length}
        if isinstance(value, dict) and "n" in value:
            out["n"] = value["n"]
        if length <= 256:
            out["data"] = value
        return out

    def publication(self, pub: Any) -> Dict[str, Any]:
        out = {"offset": pub.offset or 0, **self.describe(pub.data)}
        if pub.info is not None:
            out["client"] = pub.info.client
        return out


def error_fields(err: BaseException) -> Dict[str, Any]:
    if isinstance(err, ReplyError):
        return {"code": err.code, "message": err.message}
    return {"code": getattr(err, "code", 0) or 0, "message": f"{type(err).__name__}: {err}"}


class ClientEvents(ClientEventHandler):
    async def on_connecting(self, ctx: ConnectingContext) -> None:
        emit("connecting", code=ctx.code, reason=ctx.reason)

    async def on_connected(self, ctx: ConnectedContext) -> None:
        emit("connected", client=ctx.client, transport="websocket")

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        emit("disconnected", code=ctx.code, reason=ctx.reason)

    async def on_error(self, ctx: ErrorContext) -> None:
        emit("client_error", type="client", code=ctx.code, message=str(ctx.error))


class SubscriptionEvents(SubscriptionEventHandler):
    def __init__(self, channel: str, codec: Codec) -> None:
        self.channel = channel
        self.codec = codec

    async def on_subscribing(self, ctx: SubscribingContext) -> None:
        emit("subscribing", channel=self.channel, code=ctx.code, reason=ctx.reason)

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        position = ctx.stream_position
        emit(
            "subscribed",
            channel=self.channel,
            recoverable=ctx.recoverable,
            positioned=ctx.positioned,
            wasRecovering=ctx.was_recovering,
            recovered=ctx.recovered,
            offset=position.offset if position else None,
            epoch=position.epoch if position else None,
        )

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        emit("unsubscribed", channel=self.channel, code=ctx.code, reason=ctx.reason)

    async def on_publication(self, ctx: PublicationContext) -> None:
        emit("publication", channel=self.channel, **self.codec.publication(ctx.pub))

    async def on_join(self, ctx: JoinContext) -> None:
        emit("join", channel=self.channel, client=ctx.info.client, user=ctx.info.user)

    async def on_leave(self, ctx: LeaveContext) -> None:
        emit("leave", channel=self.channel, client=ctx.info.client, user=ctx.info.user)

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        emit(
            "subscription_error",
            channel=self.channel,
            type="subscription",
            code=ctx.code,
            message=str(ctx.error),
        )


def payload(n: int, size: int) -> Dict[str, Any]:
    value: Dict[str, Any] = {"n": n}
    if size > 0:
        value["pad"] = "x" * size
    return value


class Scenario:
    def __init__(self, args: argparse.Namespace) -> None:
        self.codec = Codec(args.format == "protobuf")
        self.min_delay = args.min_reconnect_ms / 1000
        self.max_delay = args.max_reconnect_ms / 1000
        self.client = Client(
            args.url,
            events=ClientEvents(),
            use_protobuf=self.codec.protobuf,
            timeout=10.0,
            min_reconnect_delay=self.min_delay,
            max_reconnect_delay=self.max_delay,
            name="switchboard-interop",
            proxy=None,
        )
        self.subscriptions: Dict[str, Any] = {}

    async def run(self, cmd: Dict[str, Any]) -> None:
        ident = cmd.get("id")
        channel = cmd.get("channel")
        name = cmd.get("cmd")
        client = self.client
        if name == "connect":
            await client.connect()
            await client.ready(timeout=10)
            emit("ready", id=ident)
        elif name == "subscribe":
            sub = self.subscriptions.get(channel)
            if sub is None:
                sub = client.new_subscription(
                    channel,
                    events=SubscriptionEvents(channel, self.codec),
                    # Join and leave pushes come only to subscriptions that ask.
                    join_leave=True,
                    min_resubscribe_delay=self.min_delay,
                    max_resubscribe_delay=self.max_delay,
                )
                self.subscriptions[channel] = sub
                await sub.subscribe()
            await sub.ready(timeout=10)
            emit("subscribe_done", id=ident, channel=channel)
        elif name == "unsubscribe":
            sub = self.subscriptions.pop(channel, None)
            if sub is not None:
                await sub.unsubscribe()
                client.remove_subscription(sub)
            emit("unsubscribe_done", id=ident, channel=channel)
        elif name == "publish":
            await client.publish(channel, self.codec.encode(cmd["data"]))
            emit("published", id=ident, channel=channel)
        elif name == "publish_many":
            # Sequential: each publish waits for its reply, so data n lands at offset start+n.
            start = cmd.get("start", 0)
            size = cmd.get("size", 0)
            interval = cmd.get("interval_ms", 0) / 1000
            for n in range(start, start + cmd["count"]):
                await client.publish(channel, self.codec.encode(payload(n, size)))
                if interval:
                    await asyncio.sleep(interval)
            emit("published_many", id=ident, channel=channel, count=cmd["count"], start=start)
        elif name == "history":
            since = None
            if cmd.get("since"):
                since = StreamPosition(offset=cmd["since"]["offset"], epoch=cmd["since"]["epoch"])
            result = await client.history(
                channel,
                limit=cmd.get("limit", 0),
                since=since,
                reverse=cmd.get("reverse", False),
            )
            emit(
                "history",
                id=ident,
                channel=channel,
                offset=result.offset,
                epoch=result.epoch,
                publications=[self.codec.publication(p) for p in result.publications],
            )
        elif name == "presence":
            result = await client.presence(channel)
            clients = sorted(
                ({"key": k, "client": v.client, "user": v.user} for k, v in result.clients.items()),
                key=lambda c: c["client"],
            )
            emit("presence", id=ident, channel=channel, clients=clients)
        elif name == "presence_stats":
            result = await client.presence_stats(channel)
            emit(
                "presence_stats",
                id=ident,
                channel=channel,
                num_clients=result.num_clients,
                num_users=result.num_users,
            )
        elif name == "sleep":
            await asyncio.sleep(cmd["ms"] / 1000)
            emit("slept", id=ident)
        elif name == "disconnect":
            await client.disconnect()
            emit("disconnect_done", id=ident)
        else:
            raise ValueError(f"unknown command {name!r}")

    async def commands(self) -> str:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return "stdin closed"
            text = line.decode().strip()
            if not text:
                continue
            try:
                cmd = json.loads(text)
            except ValueError as e:
                emit("command_error", command=text, code=0, message=f"not JSON: {e}")
                continue
            if cmd.get("cmd") == "exit":
                return "exit"
            try:
                await self.run(cmd)
            except Exception as e:  # every failure is reported, the script goes on
                emit("command_error", id=cmd.get("id"), command=cmd.get("cmd"), **error_fields(e))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--format", choices=["json", "protobuf"], default="json")
    parser.add_argument("--lifetime", type=float, default=120)
    parser.add_argument("--min-reconnect-ms", type=float, default=50)
    parser.add_argument("--max-reconnect-ms", type=float, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    scenario = Scenario(args)
    emit(
        "start",
        sdk="centrifuge-python",
        version=package_version("centrifuge-python"),
        format=args.format,
    )
    try:
        reason = await asyncio.wait_for(scenario.commands(), timeout=args.lifetime)
    except asyncio.TimeoutError:
        reason = "lifetime"
    emit("done", reason=reason)
    try:
        await asyncio.wait_for(scenario.client.disconnect(), timeout=2)
    except Exception as e:  # leaving anyway; say why on stderr
        print(f"scenario.py: disconnect at exit: {e!r}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
