"""The `cent` client (PyPI, unmodified) against switchboard's server API.

Usage: cent_client.py --api http://ADDR/api --key KEY --ws ws://ADDR/connection/websocket
                      --metrics http://ADDR/metrics

Runs every server API method through `cent.Client` while a plain
Centrifugo JSON WebSocket client (the `websockets` package) watches what
subscribers receive, then parses /metrics with `prometheus_client`'s
parser. Prints one JSON report on stdout; the Rust test asserts on it.
Any failure raises (non-zero exit, traceback on stderr).
"""

import argparse
import contextlib
import json
import sys
import urllib.request

from cent import (
    BatchRequest,
    BroadcastRequest,
    ChannelsRequest,
    Client,
    Disconnect,
    DisconnectRequest,
    HistoryRemoveRequest,
    HistoryRequest,
    InfoRequest,
    PresenceRequest,
    PresenceStatsRequest,
    PublishRequest,
    RefreshRequest,
    SubscribeRequest,
    UnsubscribeRequest,
)
from cent.exceptions import CentApiResponseError, CentUnauthorizedError
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect as ws_connect

TIMEOUT = 20


class Subscriber:
    """A minimal Centrifugo JSON protocol client: connect, subscribe, pushes."""

    def __init__(self, url):
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(ws_connect(url, open_timeout=TIMEOUT))
        self.next_id = 1
        self.pushes = []
        self.connected = self.request({"connect": {"name": "cent-test"}})["connect"]

    def send(self, command):
        command["id"] = self.next_id
        self.next_id += 1
        self.ws.send(json.dumps(command))
        return command["id"]

    def _read(self):
        for line in self.ws.recv(timeout=TIMEOUT).split("\n"):
            message = json.loads(line)
            if message == {}:
                self.ws.send("{}")  # pong
            elif "push" in message:
                self.pushes.append(message["push"])
            else:
                yield message

    def request(self, command):
        wanted = self.send(command)
        while True:
            for reply in self._read():
                if reply.get("id") == wanted:
                    return reply

    def next_push(self, kind):
        """The next push carrying `kind` (pub, subscribe, unsubscribe...);
        join and leave pushes in between are skipped."""
        while True:
            while not self.pushes:
                for reply in self._read():
                    raise AssertionError(f"unexpected reply {reply}")
            push = self.pushes.pop(0)
            if kind in push:
                return push
            if "join" not in push and "leave" not in push:
                raise AssertionError(f"expected a {kind} push, got {push}")

    def close_code(self):
        try:
            while True:
                list(self._read())
        except Exception:  # the connection closed
            return self.ws.close_code, self.ws.close_reason


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ws", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    report = {}

    try:
        Client(args.api, "wrong-key").info(InfoRequest())
        report["wrong_key"] = "accepted"
    except CentUnauthorizedError:
        report["wrong_key"] = "unauthorized"

    client = Client(args.api, args.key, timeout=TIMEOUT)
    watcher = Subscriber(args.ws)
    client_id = watcher.connected["client"]
    subscribed = watcher.request({"subscribe": {"channel": "news"}})["subscribe"]

    first = client.publish(PublishRequest(channel="news", data={"text": "hello"}, idempotency_key="once"))
    repeat = client.publish(PublishRequest(channel="news", data={"text": "again"}, idempotency_key="once"))
    publication = watcher.next_push("pub")
    report["publish"] = {"offset": first.offset, "epoch": first.epoch, "subscribe_epoch": subscribed["epoch"]}
    report["idempotent_repeat"] = {"offset": repeat.offset, "epoch": repeat.epoch}
    report["received"] = publication["pub"]

    broadcast = client.broadcast(BroadcastRequest(channels=["news", "other"], data={"all": True}))
    report["broadcast"] = [
        {"offset": r.result.offset if r.result else None, "error": r.error.code if r.error else None}
        for r in broadcast.responses
    ]
    report["received_broadcast"] = watcher.next_push("pub")["pub"]

    history = client.history(HistoryRequest(channel="news", limit=-1))
    report["history"] = {"offsets": [p.offset for p in history.publications], "offset": history.offset, "epoch": history.epoch}
    client.history_remove(HistoryRemoveRequest(channel="news"))
    after = client.history(HistoryRequest(channel="news", limit=-1))
    report["history_after_remove"] = {"count": len(after.publications), "offset": after.offset}

    presence = client.presence(PresenceRequest(channel="news"))
    report["presence_clients"] = sorted(presence.presence.keys())
    stats = client.presence_stats(PresenceStatsRequest(channel="news"))
    report["presence_stats"] = {"num_clients": stats.num_clients, "num_users": stats.num_users}
    channels = client.channels(ChannelsRequest(pattern="ne*"))
    report["channels"] = {name: info.num_clients for name, info in channels.channels.items()}
    info = client.info(InfoRequest())
    node = info.nodes[0]
    report["info"] = {"num_clients": node.num_clients, "num_subs": node.num_subs, "num_channels": node.num_channels, "version": node.version, "name": node.name}

    batch = client.batch(BatchRequest(requests=[
        PublishRequest(channel="news", data={"n": 1}),
        PresenceStatsRequest(channel="news"),
    ]))
    report["batch"] = {"publish_offset": batch.replies[0].offset, "presence_clients": batch.replies[1].num_clients}
    watcher.next_push("pub")  # the batch's publication

    try:
        client.publish(PublishRequest(channel="missing:ns", data={}))
        report["unknown_namespace"] = None
    except CentApiResponseError as error:
        report["unknown_namespace"] = error.code

    # Server-side subscription of one connection (anonymous: by client id).
    client.subscribe(SubscribeRequest(user="", client=client_id, channel="alerts"))
    push = watcher.next_push("subscribe")
    report["server_subscribe"] = {"channel": push["channel"], "subscribe": push.get("subscribe")}
    client.publish(PublishRequest(channel="alerts", data="ring"))
    report["server_subscribed_received"] = watcher.next_push("pub")["pub"]
    client.unsubscribe(UnsubscribeRequest(user="", client=client_id, channel="alerts"))
    push = watcher.next_push("unsubscribe")
    report["server_unsubscribe"] = {"channel": push["channel"], "code": push["unsubscribe"].get("code")}
    client.refresh(RefreshRequest(user="", client=client_id))
    client.disconnect(DisconnectRequest(user="", client=client_id, disconnect=Disconnect(code=4100, reason="maintenance")))
    code, reason = watcher.close_code()
    report["disconnect"] = {"code": code, "reason": reason}

    with urllib.request.urlopen(args.metrics, timeout=TIMEOUT) as response:
        page = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    report["metrics"] = samples

    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
