#!/usr/bin/env python3
"""centrifuge-python against a hub that verifies HS256 tokens: the SDK's own
`get_token` callbacks (connection and subscription) fetch short-lived tokens that
this script signs like an application backend would, so the refresh paths
(`refresh`, `sub_refresh`) run for real. Same command line and events as
interop/hub/js/auth.mjs: one JSON event per line on stdout, then `done` with the
counts.

    interop/.venv/bin/python interop/hub/python/auth.py \
        --url ws://127.0.0.1:8080/connection/websocket --secret S --user alice \
        --channel private:room [--format json|protobuf] [--ttl 2] [--duration 7] \
        [--first-token-expired 1]
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time
from typing import Any

from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    ConnectingContext,
    DisconnectedContext,
    ErrorContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionErrorContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Backend:
    """Signs HS256 tokens as an application backend would, counting them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.connection_tokens = 0
        self.subscription_tokens = 0

    def sign(self, claims: dict) -> str:
        part = lambda value: b64url(json.dumps(value, separators=(",", ":")).encode())
        unsigned = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
        digest = hmac.new(self.args.secret.encode(), unsigned.encode(), hashlib.sha256).digest()
        return f"{unsigned}.{b64url(digest)}"

    async def connection_token(self) -> str:
        self.connection_tokens += 1
        expired = self.args.first_token_expired == "1" and self.connection_tokens == 1
        now = int(time.time())
        exp = now - 60 if expired else now + self.args.ttl
        emit("token", kind="connection", n=self.connection_tokens, expired=expired)
        return self.sign({"sub": self.args.user, "exp": exp, "info": {"name": self.args.user}})

    async def subscription_token(self, channel: str) -> str:
        self.subscription_tokens += 1
        emit("token", kind="subscription", n=self.subscription_tokens, channel=channel)
        exp = int(time.time()) + self.args.ttl
        return self.sign({"sub": self.args.user, "channel": channel, "exp": exp})


class ClientEvents(ClientEventHandler):
    async def on_connecting(self, ctx: ConnectingContext) -> None:
        emit("connecting", code=ctx.code, reason=ctx.reason)

    async def on_connected(self, ctx: ConnectedContext) -> None:
        emit("connected", client=ctx.client)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        emit("disconnected", code=ctx.code, reason=ctx.reason)

    async def on_error(self, ctx: ErrorContext) -> None:
        emit("client_error", type="client", code=ctx.code, message=str(ctx.error))


class SubscriptionEvents(SubscriptionEventHandler):
    def __init__(self, protobuf: bool) -> None:
        self.protobuf = protobuf

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        emit("subscribed")

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        emit("unsubscribed", code=ctx.code, reason=ctx.reason)

    async def on_publication(self, ctx: PublicationContext) -> None:
        data = ctx.pub.data
        if self.protobuf:
            data = json.loads(bytes(data).decode())
        user = ctx.pub.info.user if ctx.pub.info is not None else None
        emit("publication", n=data["n"], user=user)

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        emit("subscription_error", type="subscription", code=ctx.code, message=str(ctx.error))


async def main(args: argparse.Namespace) -> None:
    protobuf = args.format == "protobuf"
    backend = Backend(args)
    client = Client(
        args.url,
        events=ClientEvents(),
        get_token=backend.connection_token,
        use_protobuf=protobuf,
        timeout=10.0,
        min_reconnect_delay=0.05,
        max_reconnect_delay=0.3,
        name="switchboard-interop-auth",
        proxy=None,
    )
    sub = client.new_subscription(
        args.channel,
        events=SubscriptionEvents(protobuf),
        get_token=backend.subscription_token,
        min_resubscribe_delay=0.05,
        max_resubscribe_delay=0.3,
    )
    await client.connect()
    await sub.subscribe()
    await sub.ready(timeout=15)
    # Publish once a second while the tokens expire and get refreshed under us.
    published = 0
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        published += 1
        data = {"n": published}
        payload = json.dumps(data, separators=(",", ":")).encode() if protobuf else data
        await sub.publish(payload)
        await asyncio.sleep(1)
    # Give the last publication time to come back.
    await asyncio.sleep(0.5)
    emit(
        "done",
        published=published,
        connectionTokens=backend.connection_tokens,
        subscriptionTokens=backend.subscription_tokens,
    )
    await client.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--format", choices=["json", "protobuf"], default="json")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--ttl", type=int, default=2)
    parser.add_argument("--duration", type=int, default=7)
    parser.add_argument("--first-token-expired", default="0")
    arguments = parser.parse_args()
    asyncio.run(asyncio.wait_for(main(arguments), timeout=arguments.duration + 60))
