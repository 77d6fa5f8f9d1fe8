"""Notification fixtures: a node whose webhooks may reach loopback, a real HTTP receiver, a real
SMTP server, and incidents stored as the detector stores them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.conftest import settings_for
from tests.web.incident_rows import T0

from panne.clock import ManualClock
from panne.node import Node
from panne.store import incidents as incident_store
from panne.store import notifications as store
from panne.store.notifications import Subscription

SECRET = "whsec_test_0123456789abcdef"


@dataclass
class Received:
    path: str
    headers: Any  # email.message.Message: case-insensitive, as a web framework's would be
    body: bytes

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A webhook receiver on loopback answering the scripted statuses in turn, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = rec.next_status()
            if status < 300:
                with rec.lock:
                    rec.received.append(Received(self.path, self.headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # two notifiers send 16 messages each at once

    server = Server(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def notify_node(sqlite_url: str, clock: ManualClock) -> Iterator[Node]:
    """A node (no background threads) whose webhooks may reach the loopback receiver."""
    clock.set(T0 + 200)
    n = Node(settings_for(sqlite_url, notify_allow_private=True), clock=clock, background=False)
    n.start()
    yield n
    n.stop()


def subscribe(node: Node, url: str, *, channel: str = "webhook", **kw: Any) -> Subscription:
    values: dict[str, Any] = {
        "id": 0,
        "name": "ops",
        "services": ["facebook"],
        "groups": [],
        "countries": [],
        "min_severity": "minor",
        "language": "en",
        "channel": channel,
        "url": url,
        "secret": SECRET if channel == "webhook" else None,
        "created_at": int(node.clock.now()),
    }
    values.update(kw)
    return store.create_subscription(node.engine, Subscription(**values))


def add_event(node: Node, incident_id: str, kind: str, at: int, **changes: Any) -> None:
    """A later transition of a stored incident, its row updated as the detector would."""
    rec = incident_store.get(node.engine, incident_id)
    assert rec is not None
    status = "resolved" if kind == "resolved" else "open"
    fields = {"status": status, "ended_at": at - 900 if kind == "resolved" else None}
    fields.update(changes)
    rec = replace(rec, updated_at=at, **fields)
    snapshot = {
        "title": rec.title,
        "status": rec.status,
        "severity": rec.severity,
        "peak_per_minute": rec.peak_per_minute,
        "peak_ratio": rec.peak_ratio,
        "countries": [list(c) for c in rec.countries[:5]],
        "problems": rec.problems,
        "members": rec.members,
    }
    with node.engine.begin() as conn:
        incident_store.save(conn, rec)
        incident_store.add_event(conn, rec.id, kind, at, snapshot)
