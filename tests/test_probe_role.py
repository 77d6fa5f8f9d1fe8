"""The probe role of a node: ``probe_once``, the background thread (reload, stop), pruning, and
``panne probe`` run as a subprocess against the same database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import START, settings_for
from tests.probe_target import threaded_http_server
from tests.signals.probe_servers import HttpServer

from panne.clock import ManualClock, SystemClock
from panne.node import Node
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store import probe_defs
from panne.store import probes as probe_store
from panne.store.schema import probe_results

DAY = 86_400.0


@pytest.fixture
def target() -> Iterator[HttpServer]:
    with threaded_http_server() as srv:
        yield srv


def spec(target: HttpServer, probe_id: str = "fb-home", **kw: object) -> ProbeSpec:
    fields: dict[str, object] = {"timeout_ms": 2000, **kw}
    return ProbeSpec(
        id=probe_id,
        service="facebook",
        kind="http",
        target=target.url,
        **fields,  # type: ignore[arg-type]
    )


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def stored_results(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(probe_results)).scalar_one())


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PANNE_PROBE_ALLOW_PRIVATE": "true"}
    return subprocess.run(
        [sys.executable, "-m", "panne", "probe", *args, "--database", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_probe_once_records_and_the_cli_reports_the_failing_probe(
    tmp_path: Path, clock: ManualClock, target: HttpServer
) -> None:
    url = f"sqlite:///{tmp_path / 'panne.db'}"
    node = Node(settings_for(url, probe_allow_private=True), clock=clock, background=False)
    node.start()
    try:
        assert node.probe_once() == []
        probe_store.upsert_specs(node.engine, [spec(target)], now=clock.now())
        target.mode = "503"
        states = []
        for _ in range(2):
            clock.advance(60)
            (run,) = node.probe_once()
            assert run.result.error_class == "http_5xx" and run.result.probe_id == "fb-home"
            states.append(run.state)
        assert states == ["unknown", "down"]
        (transition,) = probe_store.load_transitions(node.engine, "fb-home")
        assert (transition.to_status, transition.since) == ("down", START + 60)

        listed = cli(url, "list")
        assert listed.returncode == 0, listed.stderr
        assert "fb-home" in listed.stdout and "down" in listed.stdout

        done = cli(url, "run")
        assert done.returncode == 1, done.stdout + done.stderr
        (line,) = done.stdout.splitlines()
        assert line.split()[:4] == ["fb-home", "facebook", "http", "http_5xx"]
        assert " ms " in line and "status 503" in line
        assert "1 probes run, 1 failed, 1 down" in done.stderr

        target.mode = "ok"
        for expected in (1, 0):  # up again after recover_after (2) successes
            again = cli(url, "run")
            assert again.returncode == expected, again.stdout + again.stderr
            assert again.stdout.split()[3] == "ok"
        assert probe_defs.list_probes(node.engine)[0].state == "up"
    finally:
        node.stop()


def test_the_background_role_follows_the_definitions_and_stops(
    tmp_path: Path, target: HttpServer
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'panne.db'}", probe_allow_private=True, probe_reload_seconds=3600
    )
    node = Node(settings, clock=SystemClock(), background=True)
    node.start()
    try:
        assert "panne-probes" in [t.name for t in node._threads]
        fast = spec(target, interval_seconds=0.2, timeout_ms=200)
        probe_store.upsert_specs(node.engine, [fast], now=time.time())
        node.probes.changed()  # what the admin API does: no wait for the hour-long poll
        eventually(lambda: stored_results(node) >= 3)
        assert probe_defs.list_probes(node.engine)[0].state == "up"
        metrics = node.metrics.render().decode()
        assert 'panne_probe_runs_total{kind="http",outcome="ok"}' in metrics

        assert probe_defs.set_paused(node.engine, "fb-home", True, now=time.time())
        node.probes.changed()
        time.sleep(0.5)  # the reload, and a run that had begun
        requests = target.requests
        time.sleep(0.6)
        assert target.requests == requests
    finally:
        started = time.monotonic()
        node.stop()
    assert time.monotonic() - started < 10  # woken, not left to finish its hour


def test_old_results_are_pruned_once_a_day(tmp_path: Path, clock: ManualClock) -> None:
    node = Node(
        settings_for(f"sqlite:///{tmp_path / 'panne.db'}", probe_results_keep_days=90),
        clock=clock,
        background=False,
    )
    node.start()
    try:
        now = clock.now()
        with node.engine.begin() as conn:
            probe_store.record_results(
                conn,
                [
                    ProbeResult("p", now - 91 * DAY, True, 1.0),
                    ProbeResult("p", now - 89 * DAY, False, 1.0, "timeout", "slow"),
                    ProbeResult("p", now - 60, True, 1.0),
                ],
            )
        assert node.probes.prune_if_due() == 1
        assert stored_results(node) == 2
        clock.advance(DAY - 1)
        assert node.probes.prune_if_due() == 0  # not due yet
        clock.advance(2 * DAY)
        assert node.probes.prune_if_due() == 1
    finally:
        node.stop()
