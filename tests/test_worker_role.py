"""Workers store the report stream: on the real NATS server, into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from pathlib import Path

import nats
import pytest
from sqlalchemy import Engine, func, select
from tests.nats_servers import NatsCluster

from panne.bus import LogUnavailable
from panne.bus.jetstream import Publisher, Stream
from panne.catalog import default_catalog
from panne.clock import ManualClock
from panne.metrics import Metrics
from panne.signals.reports import Report, new_report_id
from panne.store import catalog as catalog_store
from panne.store import migrate
from panne.store.engine import make_engine
from panne.store.schema import counts, reports, services
from panne.worker_role import Drained, Worker

pytestmark = pytest.mark.nats
T0_MS = 1_709_650_800_000
WINDOW_MS = 900_000


def service_id(engine: Engine, slug: str) -> int:
    catalog_store.merge(engine, default_catalog())
    with engine.connect() as conn:
        return int(conn.execute(select(services.c.id).where(services.c.slug == slug)).scalar_one())


def made(
    sid: int, n: int, *, at_ms: int = T0_MS, counted: bool = True, who: str = "r"
) -> list[Report]:
    """``n`` reports a millisecond apart, by reporters ``who0``, ``who1``…"""
    return [
        Report(
            new_report_id(at_ms + i),
            sid,
            "login",
            "FR",
            at_ms + i,
            at_ms + i,
            f"{who}{i}",
            counted,
            "api",
        )
        for i in range(n)
    ]


def publish(stream: Stream, *messages: list[Report]) -> None:
    pub = Publisher(stream)
    pub.start()
    try:
        for m in messages:
            pub.write_sync(m)
    finally:
        pub.stop()


def stored(engine: Engine) -> tuple[int, dict[tuple[int, str], int]]:
    """(reports stored, counts by (minute, country))."""
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(reports)).scalar_one())
        rows = conn.execute(select(counts.c.minute, counts.c.country, counts.c.count)).all()
    return n, {(m, c): k for m, c, k in rows}


def drain(worker: Worker, *, until: int) -> list[Drained]:
    """Connect, drain until ``until`` messages were taken (or 10 s), close."""

    async def run() -> list[Drained]:
        await worker.connect()
        out: list[Drained] = []
        deadline = time.monotonic() + 10
        try:
            while sum(d.messages for d in out) < until and time.monotonic() < deadline:
                out.append(await worker.drain_once(timeout=0.5))
        finally:
            await worker.close()
        return out

    return asyncio.run(run())


def test_reports_are_stored_and_counted_once_committed(
    engine: Engine, nats_url: str, nats_stream: str
) -> None:
    sid = service_id(engine, "facebook")
    stream = Stream((nats_url,), nats_stream)
    first = made(sid, 3)
    second = made(sid, 2, at_ms=T0_MS + 60_000, who="s") + made(
        sid, 1, at_ms=T0_MS + 60_100, counted=False, who="t"
    )
    publish(stream, first, second)
    done = drain(Worker(engine, stream), until=2)
    assert sum(d.stored for d in done) == 6 and sum(d.duplicates for d in done) == 0
    minute = T0_MS // 1000
    assert stored(engine) == (6, {(minute, "FR"): 3, (minute + 60, "FR"): 2})
    assert asyncio.run(left_in(nats_url, stream)) == 0  # acked: the stream let them go


async def left_in(url: str, stream: Stream) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream.name)).state.messages)
    finally:
        await nc.close()


def test_a_message_delivered_again_is_not_counted_twice(
    engine: Engine, nats_url: str, nats_stream: str
) -> None:
    """A worker that committed and died before its ack: the message comes back after the ack
    wait, and the next worker finds its reports stored."""
    sid = service_id(engine, "instagram")
    stream = Stream((nats_url,), nats_stream)
    rows = made(sid, 4)
    publish(stream, rows)

    async def commit_without_ack() -> None:
        w = Worker(engine, stream, ack_wait=1.0)
        await w.connect()
        assert w._sub is not None
        assert len(await w._sub.fetch(1, timeout=5)) == 1
        assert w.writer.commit_new(rows).stored == 4  # then the process "dies"
        await w.close()

    asyncio.run(commit_without_ack())
    time.sleep(1.5)
    done = drain(Worker(engine, stream, ack_wait=1.0), until=1)
    assert (sum(d.stored for d in done), sum(d.duplicates for d in done)) == (0, 4)
    assert stored(engine) == (4, {(T0_MS // 1000, "FR"): 4})


def test_a_message_that_is_not_panne_s_is_dropped_and_the_rest_stored(
    engine: Engine, nats_url: str, nats_stream: str
) -> None:
    sid = service_id(engine, "threads")
    stream = Stream((nats_url,), nats_stream)
    publish(stream, made(sid, 1))  # creates the stream

    async def garbage() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.publish(stream.subject, b"hello", stream=stream.name)
        await js.publish(stream.subject, zlib.compress(b'[["x"]]'), stream=stream.name)
        await nc.close()

    asyncio.run(garbage())
    publish(stream, made(sid, 2, at_ms=T0_MS + 60_000))
    done = drain(Worker(engine, stream), until=4)
    assert sum(d.dropped for d in done) == 2 and sum(d.stored for d in done) == 3
    assert stored(engine)[0] == 3
    assert asyncio.run(left_in(nats_url, stream)) == 0  # dropped for good, not redelivered


def test_a_failed_commit_leaves_the_reports_in_the_stream(
    tmp_path: object, nats_url: str, nats_stream: str
) -> None:
    """A database without the schema fails the commit: nothing is acked, and once the schema
    is there the same messages are stored."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    engine = make_engine(f"sqlite:///{tmp_path / 'later.db'}")
    stream = Stream((nats_url,), nats_stream)
    publish(stream, made(1, 2))

    async def fail_once() -> None:
        w = Worker(engine, stream)
        await w.connect()
        try:
            with pytest.raises(Exception, match="no such table"):
                await w.drain_once(timeout=5)
        finally:
            await w.close()

    asyncio.run(fail_once())
    assert asyncio.run(left_in(nats_url, stream)) == 1
    migrate.upgrade(engine)
    sid = service_id(engine, "facebook")
    assert sid == 1  # the reports were made for the first service
    time.sleep(2.5)  # the nak's delay
    done = drain(Worker(engine, stream), until=1)
    assert sum(d.stored for d in done) == 2
    engine.dispose()


def test_a_worker_says_how_far_behind_it_is(
    engine: Engine, nats_url: str, nats_stream: str
) -> None:
    from panne.worker_role import FETCH_MESSAGES

    sid = service_id(engine, "facebook")
    stream = Stream((nats_url,), nats_stream)
    publish(stream, *([r] for r in made(sid, FETCH_MESSAGES + 44)))
    metrics = Metrics(engine, ManualClock(T0_MS / 1000))
    worker = Worker(engine, stream, metrics=metrics)

    async def twice() -> list[float | None]:
        await worker.connect()
        seen: list[float | None] = []
        try:
            for _ in range(2):
                await worker.drain_once(timeout=2)
                seen.append(metrics.registry.get_sample_value("panne_worker_stream_pending"))
        finally:
            await worker.close()
        return seen

    assert asyncio.run(twice()) == [44, 0]
    stored = metrics.registry.get_sample_value("panne_worker_reports_total", {"outcome": "stored"})
    assert stored == FETCH_MESSAGES + 44


def test_a_person_whose_reports_reach_two_ingest_processes_counts_once(
    engine: Engine, nats_url: str, nats_stream: str
) -> None:
    """Each process's own dedupe memory counted its report; the worker counts the first, and
    the same person's report a window later counts again."""
    sid = service_id(engine, "facebook")
    stream = Stream((nats_url,), nats_stream)
    publish(stream, made(sid, 1, who="p"))  # through one process
    publish(stream, made(sid, 1, at_ms=T0_MS + 30_000, who="p"))  # through another
    publish(stream, made(sid, 1, at_ms=T0_MS + WINDOW_MS, who="p"))
    metrics = Metrics(engine, ManualClock(T0_MS / 1000))
    done = drain(Worker(engine, stream, dedupe_window_seconds=900, metrics=metrics), until=3)
    assert sum(d.stored for d in done) == 3 and sum(d.uncounted for d in done) == 1
    minute = T0_MS // 1000
    assert stored(engine) == (3, {(minute, "FR"): 1, (minute + 900, "FR"): 1})
    assert metrics.registry.get_sample_value("panne_worker_reports_uncounted_total") == 1


async def stream_leader(urls: tuple[str, ...], name: str) -> str:
    nc = await nats.connect(list(urls))
    try:
        info = await nc.jetstream().stream_info(name)
        assert info.cluster is not None and info.cluster.leader is not None
        return info.cluster.leader
    finally:
        await nc.close()


@pytest.mark.slow
def test_a_three_server_cluster_loses_no_acked_report_when_a_server_dies(
    tmp_path: Path,
) -> None:
    """The stream on three servers with three copies: the one leading it is killed while
    reports are published and a worker stores them; publishes go on after the election, and
    every report acked, before or after, is stored and counted once."""
    cluster = NatsCluster(tmp_path / "nats")
    cluster.start()
    engine = make_engine(f"sqlite:///{tmp_path / 'panne.db'}")
    migrate.upgrade(engine)
    sid = service_id(engine, "facebook")
    stream = Stream(cluster.urls, "PANNE_REPORTS", replicas=3)
    pub = Publisher(stream)
    stop = threading.Event()
    worker = threading.Thread(target=lambda: asyncio.run(Worker(engine, stream).serve(stop)))
    acked: list[Report] = []
    refused = 0
    try:
        pub.start()
        worker.start()
        for i in range(120):
            rows = made(sid, 5, at_ms=T0_MS + i * 1000, who=f"m{i}-")
            if i == 40:
                cluster.server(asyncio.run(stream_leader(cluster.urls, stream.name))).kill()
            deadline = time.monotonic() + 30
            while True:  # as a client does on 503: the same reports again
                try:
                    pub.write_sync(rows)
                    break
                except LogUnavailable:
                    refused += 1
                    assert time.monotonic() < deadline, "the stream did not come back"
                    time.sleep(0.2)
            acked += rows
        deadline = time.monotonic() + 30
        while stored(engine)[0] < len(acked) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        if worker.ident is not None:
            worker.join(timeout=30)
        pub.stop()
        cluster.stop()
    with engine.connect() as conn:
        ids = set(conn.execute(select(reports.c.id)).scalars())
    assert ids == {r.id for r in acked}
    assert sum(stored(engine)[1].values()) == len(acked) == 600  # each counted once
    engine.dispose()
