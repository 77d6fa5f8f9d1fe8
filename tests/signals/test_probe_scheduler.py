"""The scheduler against real loopback servers: rhythm, jitter, bounds, retries, batching, and
the whole path into the store."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
from collections.abc import Sequence
from typing import Any

from tests.signals.probe_servers import aio, http_server, wait_for

from panne.clock import SystemClock
from panne.config import load
from panne.signals.probe_kinds import Prober
from panne.signals.probe_scheduler import ProbeScheduler, phase
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store import migrate
from panne.store import probes as probe_store
from panne.store.engine import make_engine


def spec(probe_id: str, target: str, **kw: Any) -> ProbeSpec:
    kw.setdefault("kind", "http")
    kw.setdefault("interval_seconds", 0.2)
    kw.setdefault("timeout_ms", 150)
    return ProbeSpec(id=probe_id, service="acme", target=target, **kw)


class Collect:
    """A sink that keeps what it is given (called from the scheduler's worker thread)."""

    def __init__(self) -> None:
        self.batches: list[list[ProbeResult]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[ProbeResult]) -> None:
        with self.lock:
            self.batches.append(list(batch))

    def results(self, probe_id: str | None = None) -> list[ProbeResult]:
        with self.lock:
            every = [r for b in self.batches for r in b]
        return [r for r in every if probe_id is None or r.probe_id == probe_id]


def prober() -> Prober:
    return Prober.from_settings(load(environ={}, probe_allow_private=True))


def test_phase_is_stable_and_spread() -> None:
    assert phase("api") == phase("api") != phase("web")
    deciles = [0] * 10
    for i in range(2000):
        p = phase(f"probe-{i}")
        assert 0 <= p < 1
        deciles[int(p * 10)] += 1
    assert min(deciles) > 140 and max(deciles) < 260


@aio
async def test_each_probe_runs_at_its_interval_from_its_phase_without_drift() -> None:
    sink = Collect()
    async with http_server() as srv, prober() as p:
        srv.delay = 0.05  # each run takes a quarter of the interval: no drift all the same
        ids = ["alpha", "beta", "gamma"]
        started = SystemClock().now()
        scheduler = ProbeScheduler(
            p, sink, specs=[spec(i, srv.url) for i in ids], flush_interval_seconds=0.05
        )
        async with scheduler:
            await wait_for(lambda: all(len(sink.results(i)) >= 7 for i in ids))
    for probe_id in ids:
        at = [r.at for r in sink.results(probe_id)]
        assert all(r.ok for r in sink.results(probe_id))
        assert abs((at[0] - started) - 0.2 * phase(probe_id)) < 0.06, probe_id
        gaps = [b - a for a, b in itertools.pairwise(at)]
        assert all(0.1 < g < 0.3 for g in gaps), gaps
        assert abs((at[6] - at[0]) / 6 - 0.2) < 0.02, gaps  # the mean spacing: no drift
    assert statistics.median(scheduler.lateness) < 0.02


@aio
async def test_concurrency_is_bounded_by_the_semaphore() -> None:
    sink = Collect()
    async with http_server() as srv, prober() as p:
        srv.delay = 0.2
        specs = [spec(f"p{i}", srv.url, interval_seconds=0.5, timeout_ms=400) for i in range(10)]
        async with ProbeScheduler(p, sink, specs=specs, concurrency=3) as scheduler:
            await wait_for(lambda: len(sink.results()) >= 12)
        assert scheduler.max_in_flight == 3
        assert srv.max_active == 3
    assert all(r.ok for r in sink.results())


@aio
async def test_retries_happen_within_a_run_and_only_on_failure() -> None:
    sink = Collect()
    async with http_server() as srv, prober() as p:
        srv.mode = "503"
        s = spec("flaky-api", srv.url, interval_seconds=5.0, retries=2)  # phase 0.02
        async with ProbeScheduler(p, sink, specs=[s], flush_interval_seconds=0.05):
            await wait_for(lambda: len(sink.results()) == 1, timeout=8)
        assert srv.requests == 3
        (result,) = sink.results()
        assert (result.ok, result.error_class) == (False, "http_5xx")
        assert result.detail.endswith("(3 attempts)")
        srv.mode = "ok"
        async with ProbeScheduler(p, sink, specs=[s], flush_interval_seconds=0.05):
            await wait_for(lambda: len(sink.results()) == 2, timeout=8)
        assert srv.requests == 4


@aio
async def test_probes_added_and_removed_while_running() -> None:
    sink = Collect()
    async with http_server() as srv, prober() as p:
        scheduler = ProbeScheduler(p, sink, specs=[spec("a", srv.url)], flush_interval_seconds=0.05)
        async with scheduler:
            await wait_for(lambda: len(sink.results("a")) >= 1)
            scheduler.set_specs([spec("b", srv.url)])
            await wait_for(lambda: len(sink.results("b")) >= 2)
            count_a = len(sink.results("a"))
            await asyncio.sleep(0.25)
            assert len(sink.results("a")) == count_a
        assert not scheduler.running


@aio
async def test_a_failing_sink_keeps_its_batch_and_stop_flushes() -> None:
    calls: list[int] = []
    good = Collect()

    def sink(batch: Sequence[ProbeResult]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("database away")
        good(batch)

    async with http_server() as srv, prober() as p:
        specs = [spec("a", srv.url), spec("b", srv.url)]
        async with ProbeScheduler(p, sink, specs=specs, flush_interval_seconds=0.1) as scheduler:
            await wait_for(lambda: len(calls) >= 2)
        runs = scheduler.runs
    assert len(good.results()) == runs  # nothing lost, nothing twice


@aio
async def test_outage_and_recovery_reach_the_store(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'probes.db'}")
    migrate.upgrade(engine)
    async with http_server() as srv, prober() as p:
        s = spec("api", srv.url, interval_seconds=0.1, timeout_ms=100)
        probe_store.upsert_specs(engine, [s], now=SystemClock().now())
        recorder = probe_store.ProbeRecorder(engine, [s])

        def status() -> str:
            state = probe_store.load_states(engine).get("api")
            return state.status if state else "unknown"

        async with ProbeScheduler(p, recorder, specs=[s], flush_interval_seconds=0.05):
            await wait_for(lambda: status() == "up")
            srv.mode = "503"
            await wait_for(lambda: status() == "down")
            srv.mode = "ok"
            await wait_for(lambda: status() == "up")
    moves = [(t.from_status, t.to_status) for t in probe_store.load_transitions(engine)]
    assert moves == [("unknown", "up"), ("up", "down"), ("down", "up")]
    (today,) = probe_store.uptime_by_day(engine, "api", 1, now=SystemClock().now())
    assert today.checks >= 5 and today.uptime_percent is not None
    assert 0 < today.uptime_percent < 100
    engine.dispose()
