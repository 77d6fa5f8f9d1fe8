"""Webhooks: signed JSON to a real receiver on loopback, retries, permanent errors, the guard."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import settings_for
from tests.notify.conftest import SECRET, Receiver, subscribe
from tests.web.incident_rows import T0, store

from panne.clock import ManualClock
from panne.node import Node
from panne.notify.dispatch import MAX_ATTEMPTS, backoff_seconds
from panne.store import notifications as notify_store
from panne.store.schema import incident_events, subscriptions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


def documented_verify() -> Callable[..., bool]:
    """The verification recipe of docs/notifications.md, run verbatim."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?def verify.*?)```", text, re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def test_a_new_incident_is_posted_as_signed_json_the_documented_recipe_verifies(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    sub = subscribe(notify_node, receiver.url)
    store(notify_node, "facebook-1", severity="major")

    summary = notify_node.notify_once()

    assert (summary.claimed, summary.delivered) == (1, 1)
    [got] = receiver.received
    body = got.json()
    assert body["incident_id"] == "facebook-1"
    assert body["kind"] == "opened"
    assert (body["service"], body["services"], body["group"]) == ("facebook", ["facebook"], "meta")
    assert body["severity"] == "major"
    assert body["since"] == "2024-03-05T15:10:00Z"
    assert body["countries"][0] == {"country": "US", "reports": 600}
    assert body["top_problems"][0] == {"problem": "login", "percent": 76.0}
    assert body["link"] == "http://127.0.0.1:8080/incidents/facebook-1"
    assert body["subject"] == "[panne] Facebook is having problems"
    assert "surge of problem reports for Facebook" in body["text"]
    assert "United States" in body["text"] and body["link"] in body["text"]
    verify = documented_verify()
    assert got.headers["Panne-Timestamp"] == str(int(clock.now()))
    assert verify(SECRET, got.headers, got.body, now=clock.now())
    assert not verify(SECRET, got.headers, got.body + b" ", now=clock.now())
    assert not verify("another secret", got.headers, got.body, now=clock.now())
    assert not verify(SECRET, got.headers, got.body, now=clock.now() + 3600)  # a replay
    [row] = notify_store.deliveries_list(notify_node.engine, sub.id)
    assert (row.ok, row.outcome, row.attempt, row.kind) == (True, "delivered", 1, "opened")


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    sub = subscribe(notify_node, receiver.url)
    receiver.statuses = [500, 503]
    store(notify_node, "facebook-1")

    assert notify_node.notify_once().failed == 1
    assert notify_node.notify_once().failed == 0  # not due yet: the back-off holds
    clock.advance(backoff_seconds(1))
    assert notify_node.notify_once().failed == 1
    clock.advance(backoff_seconds(2))
    assert notify_node.notify_once().delivered == 1

    assert len(receiver.received) == 1
    rows = notify_store.deliveries_list(notify_node.engine, sub.id)[::-1]
    assert [(r.attempt, r.ok, r.outcome) for r in rows] == [
        (1, False, "failed"),
        (2, False, "failed"),
        (3, True, "delivered"),
    ]
    assert rows[0].detail.startswith("HTTP 500")


def test_a_gone_receiver_disables_the_subscription_at_once(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    sub = subscribe(notify_node, receiver.url)
    receiver.statuses = [410]
    store(notify_node, "facebook-1")
    notify_node.notify_once()
    store(notify_node, "facebook-2", started_at=T0 + 60)
    clock.advance(600)
    notify_node.notify_once()

    with notify_node.engine.connect() as conn:
        now = notify_store.get_subscription(conn, sub.id)
    assert now is not None and now.disabled_at is not None
    assert now.disabled_reason is not None and "HTTP 410" in now.disabled_reason
    [row] = notify_store.deliveries_list(notify_node.engine, sub.id)
    assert (row.outcome, row.ok) == ("refused", False)
    assert receiver.received == []


def test_every_event_given_up_counts_and_marks_the_subscription_failing(
    sqlite_url: str, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(T0 + 200)
    node = Node(
        settings_for(sqlite_url, notify_allow_private=True, notify_max_failures=1),
        clock=clock,
        background=False,
    )
    node.start()
    try:
        sub = subscribe(node, receiver.url)
        receiver.statuses = [500] * MAX_ATTEMPTS
        store(node, "facebook-1")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            node.notify_once()
            clock.advance(backoff_seconds(attempt))
        rows = notify_store.deliveries_list(node.engine, sub.id)
        assert len(rows) == MAX_ATTEMPTS and rows[0].outcome == "gave_up"
        with node.engine.connect() as conn:
            after = notify_store.get_subscription(conn, sub.id)
        assert after is not None and after.failing and after.consecutive_failures == 1
        assert after.disabled_at is None  # failing is a mark, not a stop
    finally:
        node.stop()


def test_a_restart_resumes_the_attempt_count(
    sqlite_url: str, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(T0 + 200)
    settings = settings_for(sqlite_url, notify_allow_private=True)
    first = Node(settings, clock=clock, background=False)
    first.start()
    sub = subscribe(first, receiver.url)
    receiver.statuses = [500]
    store(first, "facebook-1")
    first.notify_once()
    first.stop()

    second = Node(settings, clock=clock, background=False)
    second.start()
    try:
        clock.advance(backoff_seconds(1))
        assert second.notify_once().delivered == 1
        rows = notify_store.deliveries_list(second.engine, sub.id)
        assert [r.attempt for r in rows] == [2, 1]
    finally:
        second.stop()


def test_loopback_webhooks_are_refused_without_notify_allow_private(
    node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(T0 + 200)
    sub = subscribe(node, receiver.url)
    store(node, "facebook-1")
    node.notify_once()

    assert receiver.received == []
    with node.engine.connect() as conn:
        reason = conn.execute(
            select(subscriptions.c.disabled_reason).where(subscriptions.c.id == sub.id)
        ).scalar_one()
        claimed = conn.execute(select(incident_events.c.notified_at)).scalar_one()
    assert "127.0.0.1 is a loopback address" in reason and "notify_allow_private" in reason
    assert claimed is not None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:99999/hook", "Port out of range"),
        ("http://127.0.0.1:abc/hook", "Port could not be cast"),
        ("http://127.0.0.1:0/hook", "port 0 is not from 1 to 65535"),
        ("http://[::1/hook", "Invalid IPv6 URL"),
        ("http://127.0.0.1\x00/hook", "control character (U+0000)"),
    ],
)
def test_a_stored_url_that_cannot_be_sent_to_is_refused_once_not_retried(
    notify_node: Node, caplog: pytest.LogCaptureFixture, url: str, why: str
) -> None:
    """A row stored before URLs were checked on creation: one refusal, the subscription
    disabled with the reason, no traceback and no eight attempts at a URL that cannot work."""
    sub = subscribe(notify_node, url)
    store(notify_node, "facebook-1")
    with caplog.at_level(logging.WARNING):
        notify_node.notify_once()
    [row] = notify_store.deliveries_list(notify_node.engine, sub.id)
    assert (row.outcome, row.attempt) == ("refused", 1) and why in row.detail
    with notify_node.engine.connect() as conn:
        now = notify_store.get_subscription(conn, sub.id)
    assert now is not None and now.disabled_at is not None and why in (now.disabled_reason or "")
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a bad URL"
    assert notify_store.due_jobs(notify_node.engine, int(notify_node.clock.now()) + 10**6) == []


class _Odd(BaseHTTPRequestHandler):
    """Receivers that misbehave: ``/trickle`` answers a byte a second, ``/huge`` 200 MB of
    error, ``/moved`` a redirect."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "https://elsewhere.example/hook")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(500)
        if self.path == "/huge":
            self.send_header("Content-Length", str(200 << 20))
            self.end_headers()
            chunk = b"x" * (1 << 20)
            with contextlib.suppress(OSError):  # the client hangs up after the start
                for _ in range(200):
                    self.wfile.write(chunk)
            return
        self.send_header("Content-Length", "100")
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def odd() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_trickling_receiver_is_given_up_on_and_does_not_hold_the_others(
    sqlite_url: str, clock: ManualClock, receiver: Receiver, odd: str
) -> None:
    """The client's timeout is per read, which a byte a second never reaches: the whole send
    has a deadline (twice notify_timeout_seconds), so the round ends and others get theirs."""
    clock.set(T0 + 200)
    settings = settings_for(sqlite_url, notify_allow_private=True, notify_timeout_seconds=1.5)
    node = Node(settings, clock=clock, background=False)
    node.start()
    try:
        slow = subscribe(node, odd + "/trickle")
        subscribe(node, receiver.url)
        store(node, "facebook-1")
        started = time.monotonic()
        node.notify_once()
        assert time.monotonic() - started < 10
        assert [r.json()["kind"] for r in receiver.received] == ["opened"]
        [row] = notify_store.deliveries_list(node.engine, slow.id)
        assert (row.outcome, row.detail) == ("failed", "not done after 3 s")
    finally:
        node.stop()


def test_a_huge_error_body_is_not_read_and_a_redirect_is_not_retried(
    notify_node: Node, odd: str
) -> None:
    huge = subscribe(notify_node, odd + "/huge")
    moved = subscribe(notify_node, odd + "/moved")
    store(notify_node, "facebook-1")
    notify_node.notify_once()
    [row] = notify_store.deliveries_list(notify_node.engine, huge.id)
    assert row.outcome == "failed" and row.detail == "HTTP 500: " + "x" * 200
    [row] = notify_store.deliveries_list(notify_node.engine, moved.id)
    assert row.outcome == "refused"
    assert "HTTP 302 to https://elsewhere.example/hook" in row.detail
    with notify_node.engine.connect() as conn:
        gone = notify_store.get_subscription(conn, moved.id)
    assert gone is not None and gone.disabled_at is not None
