"""The dedupe memory the workers share, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from panne.signals.reports import Report, new_report_id
from panne.store import first_reports
from panne.store.engine import make_engine
from panne.store.schema import first_reports as table
from panne.store.schema import metadata

WINDOW_MS = 900_000
T0_MS = 1_709_650_800_000


def report(
    reporter: str | None, at_ms: int, *, service_id: int = 1, counted: bool = True
) -> Report:
    return Report(
        new_report_id(at_ms), service_id, "login", "FR", at_ms, at_ms, reporter, counted, "web"
    )


def settle(engine: Engine, *rows: Report) -> list[bool]:
    """Whether each of ``rows`` counts, committed as one worker would."""
    with engine.begin() as conn:
        repeats = set(first_reports.repeats(conn, rows, WINDOW_MS))
    return [r.counted and i not in repeats for i, r in enumerate(rows)]


def test_a_reporter_counts_once_per_window_whichever_process_took_the_report(
    engine: Engine,
) -> None:
    assert settle(engine, report("a", T0_MS), report("b", T0_MS)) == [True, True]
    # Another process's reports, a commit later: the same person within the window does not
    # count; on another service, or a window later, they do.
    later = (
        report("a", T0_MS + 60_000),
        report("a", T0_MS + 60_000, service_id=2),
        report("b", T0_MS + WINDOW_MS),
    )
    assert settle(engine, *later) == [False, True, True]
    with engine.connect() as conn:
        rows = sorted(conn.execute(select(table)).all())
    assert rows == [("a", 1, T0_MS), ("a", 2, T0_MS + 60_000), ("b", 1, T0_MS + WINDOW_MS)]


def test_within_one_commit_the_earliest_report_counts_and_the_rest_are_judged_in_turn(
    engine: Engine,
) -> None:
    rows = (
        report("a", T0_MS + 2 * WINDOW_MS),  # a window after the one below: counts
        report("a", T0_MS + 10_000),
        report("a", T0_MS),
        report("a", T0_MS + WINDOW_MS),
    )
    assert settle(engine, *rows) == [True, False, True, True]


def test_what_ingest_did_not_count_stays_uncounted_and_reports_without_a_reporter_count(
    engine: Engine,
) -> None:
    rows = (report("a", T0_MS, counted=False), report(None, T0_MS), report(None, T0_MS))
    assert settle(engine, *rows) == [False, True, True]
    assert settle(engine, report("a", T0_MS + 1)) == [True]  # "a" was never counted


def test_a_report_older_than_the_last_count_by_a_window_counts_and_the_newer_time_is_kept(
    engine: Engine,
) -> None:
    """Batches may carry their own timestamps, so reports do not always come in order."""
    assert settle(engine, report("a", T0_MS + WINDOW_MS)) == [True]
    assert settle(engine, report("a", T0_MS)) == [True]
    assert settle(engine, report("a", T0_MS + 1)) == [False]
    assert settle(engine, report("a", T0_MS + WINDOW_MS + 1000)) == [False]


def test_many_reporters_in_one_commit(engine: Engine) -> None:
    rows = [report(f"r{i}", T0_MS + i) for i in range(1_234)]  # more than one statement's worth
    assert all(settle(engine, *rows))
    assert not any(settle(engine, *(r._replace(id=r.id[:-1] + "x") for r in rows)))


def test_prune_forgets_the_reporters_whose_window_has_passed(engine: Engine) -> None:
    settle(engine, report("a", T0_MS), report("b", T0_MS + WINDOW_MS))
    with engine.begin() as conn:
        assert first_reports.prune(conn, T0_MS + 1) == 1
    assert settle(engine, report("a", T0_MS + 2), report("b", T0_MS + WINDOW_MS + 1)) == [
        True,
        False,
    ]


def test_the_migration_creates_the_table_as_the_schema_declares(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "first_reports" in repr(d)] == []


@pytest.mark.postgres
def test_two_workers_committing_the_same_reporter_at_once_count_it_once(pg_url: str) -> None:
    """The second transaction waits for the first's row, then finds its time moved."""
    from panne.store import migrate

    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    first_in = threading.Event()
    counted: dict[str, bool] = {}
    waited: list[float] = []

    def first() -> None:
        with engine.begin() as conn:
            counted["first"] = not first_reports.repeats(conn, [report("a", T0_MS)], WINDOW_MS)
            first_in.set()
            time.sleep(0.5)  # not committed yet while the other worker settles

    def second() -> None:
        first_in.wait(5)
        started = time.monotonic()
        with engine.begin() as conn:
            later = [report("a", T0_MS + 1_000)]
            counted["second"] = not first_reports.repeats(conn, later, WINDOW_MS)
        waited.append(time.monotonic() - started)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    engine.dispose()
    assert counted == {"first": True, "second": False}
    assert waited[0] > 0.3  # it waited for the first commit rather than count blindly


def test_two_writers_on_one_database_count_a_person_once_batches_and_their_tally_too(
    engine: Engine, default_services: None
) -> None:
    import asyncio

    from sqlalchemy import func

    from panne.store.schema import counts, reports
    from panne.store.writer import ReportWriter

    one, other = (ReportWriter(engine, shared_dedupe_ms=WINDOW_MS) for _ in range(2))
    for w in (one, other):
        w.start()
    try:
        one.write_sync([report("a", T0_MS)])
        batch = [report("a", T0_MS + 5_000), report("b", T0_MS + 5_000), report(None, T0_MS)]
        tally = {(1, T0_MS // 1000, "FR", "login"): 3}  # as a batch sums its own

        async def write() -> None:
            await other.write(batch, tally)

        asyncio.run(write())
    finally:
        for w in (one, other):
            w.stop()
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(reports)).scalar_one()
        kept = conn.execute(select(counts.c.count)).scalars().all()
        flags = sorted(conn.execute(select(reports.c.reporter, reports.c.counted)).all(), key=str)
    assert stored == 4 and kept == [3]  # a, b and the one without a reporter
    assert flags == [("a", False), ("a", True), ("b", True), (None, True)]
    assert tally == {(1, T0_MS // 1000, "FR", "login"): 3}  # the caller's is left as it was
