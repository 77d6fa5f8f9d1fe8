"""The vendor role of a node: ``vendor_once``, the background thread (polls, stops), the
metrics, and ``panne vendor`` run as a subprocess against the same database, all against a
loopback server serving a recorded real Statuspage summary."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import START, settings_for
from tests.signals.vendor_servers import (
    Answer,
    VendorServer,
    summary_with,
    threaded_vendor_server,
)

from panne.clock import ManualClock, SystemClock
from panne.node import Node
from panne.signals.vendor_status import VendorSource
from panne.store import vendor_status as store

PATH = "/api/v2/summary.json"
UP = summary_with(components={"Canvas": "operational"})
DEGRADED = summary_with(components={"Canvas": "degraded_performance"})


@pytest.fixture
def page() -> Iterator[VendorServer]:
    with threaded_vendor_server() as srv:
        srv.answers[PATH] = Answer(200, UP)
        yield srv


def source(page: VendorServer, service: str = "discord", **kw: object) -> VendorSource:
    return VendorSource(service, "statuspage", page.url("/"), ("Canvas",), **kw)  # type: ignore[arg-type]


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PANNE_VENDOR_ALLOW_PRIVATE": "true"}
    return subprocess.run(
        [sys.executable, "-m", "panne", "vendor", *args, "--database", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_vendor_once_records_changes_and_the_cli_reports_a_failed_poll(
    tmp_path: Path, clock: ManualClock, page: VendorServer
) -> None:
    url = f"sqlite:///{tmp_path / 'panne.db'}"
    node = Node(settings_for(url, vendor_allow_private=True), clock=clock, background=False)
    node.start()
    try:
        assert node.vendor_once() == []
        store.upsert_source(node.engine, source(page), now=clock.now())
        [first] = node.vendor_once()
        assert (first.service, first.state, first.stale, first.fetched_at) == (
            "discord",
            "up",
            False,
            START,
        )
        page.answers[PATH] = Answer(200, DEGRADED)
        clock.advance(10)  # not due for 120 s: polled all the same
        [second] = node.vendor_once()
        assert (second.state, second.description) == ("warn", "Warn: Canvas")
        events = store.load_events(node.engine, service="discord")
        assert [(e.from_state, e.to_state, e.at) for e in events] == [
            (None, "up", START),
            ("up", "warn", START + 10),
        ]
        metrics = node.metrics.render().decode()
        assert 'panne_vendor_polls_total{outcome="ok"} 2.0' in metrics
        assert "panne_vendor_pages_stale 0.0" in metrics

        listed = cli(url, "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split()[:2] == ["discord", "statuspage"] and " warn " in listed.stdout

        polled = cli(url, "poll")
        assert polled.returncode == 0, polled.stdout + polled.stderr
        assert polled.stdout.split()[:3] == ["discord", "warn", "fresh"]

        page.answers[PATH] = Answer(500, b"oops")
        failed = cli(url, "poll")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        (line,) = failed.stdout.splitlines()
        assert line.split()[:3] == ["discord", "warn", "stale"] and "HTTP 500" in line
        assert "1 vendor sources polled, 1 failed" in failed.stderr
        assert "panne_vendor_pages_stale 1.0" in node.metrics.render().decode()
    finally:
        node.stop()


def test_the_background_role_polls_due_sources_and_stops(
    tmp_path: Path, page: VendorServer
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'panne.db'}", vendor_allow_private=True)
    node = Node(settings, clock=SystemClock(), background=True)
    node.vendors.tick_seconds = 3600  # only a change wakes it: the test proves the wake-up
    node.start()
    try:
        assert "panne-vendors" in [t.name for t in node._threads]
        time.sleep(0.2)  # the first tick, over no sources, is done
        store.upsert_source(node.engine, source(page), now=time.time())
        node.vendors.changed()  # what the admin API does
        eventually(lambda: store.load_state(node.engine, "discord") is not None)
        state = store.load_state(node.engine, "discord")
        assert state is not None and state.state == "up"
        assert [path for path, _ in page.requests] == [PATH]  # not due again for 120 s
        eventually(lambda: 'outcome="ok"} 1.0' in node.metrics.render().decode())
    finally:
        started = time.monotonic()
        node.stop()
    assert time.monotonic() - started < 10  # woken, not left to finish its hour
