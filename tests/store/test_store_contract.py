"""One contract for the store, run on an SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from panne import counts
from panne.catalog import default_catalog, parse
from panne.signals.reports import Report, new_report_id
from panne.store import catalog as catalog_store
from panne.store import counts as count_store
from panne.store import keys, migrate
from panne.store.engine import make_engine
from panne.store.schema import api_keys, reports
from panne.store.schema import counts as counts_table
from panne.store.writer import ReportWriter

T0 = 1_709_650_800  # 2024-03-05 15:00 UTC


pytestmark = pytest.mark.usefixtures("default_services")


@pytest.fixture
def writer(engine: Engine) -> Iterator[ReportWriter]:
    w = ReportWriter(engine, max_batch=64)
    w.start()
    yield w
    w.stop()


def ids(engine: Engine) -> dict[str, int]:
    return {s.slug: s.id for s in catalog_store.load(engine).services.values()}  # type: ignore[misc]


def report(
    service_id: int,
    at: float,
    *,
    country: str = "US",
    problem: str = "login",
    counted: bool = True,
    reporter: str | None = None,
) -> Report:
    ms = int(at * 1000)
    return Report(new_report_id(ms), service_id, problem, country, ms, ms, reporter, counted, "api")


def test_migrations_reach_head(engine: Engine) -> None:
    assert migrate.current(engine) == migrate.head() is not None
    migrate.upgrade(engine)  # a second run is a no-op
    assert migrate.current(engine) == migrate.head()


def test_catalog_round_trips_and_merge_is_idempotent(engine: Engine) -> None:
    shipped = default_catalog()
    loaded = catalog_store.load(engine)
    assert set(loaded.services) == set(shipped.services)
    assert loaded.services["facebook"].problems == shipped.services["facebook"].problems
    assert all(s.id is not None for s in loaded.services.values())
    before = catalog_store.version(engine)
    assert before is not None
    assert catalog_store.merge(engine, shipped) == (0, 0, len(shipped.services))
    assert catalog_store.version(engine) == before  # nothing changed: the same stamp
    extra = parse(
        {
            "problems": {"login": {"en": "Login", "fr": "Connexion"}},
            "default_problems": ["login"],
            "groups": [{"slug": "acme", "name": "Acme"}],
            "services": [
                {
                    "slug": "acme-mail",
                    "name": "Acme Mail",
                    "group": "acme",
                    "url": "https://mail.acme.example",
                    "aliases": ["acmemail"],
                }
            ],
        }
    )
    assert catalog_store.merge(engine, extra) == (1, 0, 0)
    after = catalog_store.load(engine)
    assert after.services["acme-mail"].group == "acme"
    assert "facebook" in after.services  # merge never deletes
    assert catalog_store.version(engine) not in (None, before)
    renamed = parse({**extra.to_dict(), "groups": [{"slug": "acme", "name": "Acme Inc"}]})
    stamp = catalog_store.version(engine)
    assert catalog_store.merge(engine, renamed) == (0, 0, 1)  # only the group changed
    assert catalog_store.version(engine) != stamp
    assert catalog_store.load(engine).groups["acme"].name == "Acme Inc"


def test_catalog_limits_are_the_columns_sizes() -> None:
    """parse() refuses what the columns cannot hold, so PostgreSQL never says "value too long"
    and SQLite never stores it silently."""
    from panne import catalog
    from panne.store.schema import groups, services

    def length(column: Any) -> int:
        return int(column.type.length)

    assert catalog.SLUG_MAX == length(services.c.slug) == length(groups.c.slug)
    assert catalog.NAME_MAX == length(services.c.name) == length(groups.c.name)
    assert length(services.c.url) == catalog.URL_MAX


def test_writer_commits_reports_and_counts_together(engine: Engine, writer: ReportWriter) -> None:
    fb = ids(engine)["facebook"]
    batch = [report(fb, T0 + i) for i in range(5)]
    batch += [report(fb, T0 + 10, country="FR", problem="app")]
    batch += [report(fb, T0 + 20, counted=False)]
    writer.write_sync(batch)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar() == 7
        rows = conn.execute(
            select(counts_table.c.country, counts_table.c.problem, counts_table.c.count)
            .where(counts_table.c.service_id == fb)
            .order_by(counts_table.c.country)
        ).all()
    assert [tuple(r) for r in rows] == [("FR", "app", 1), ("US", "login", 5)]


def test_the_writer_stores_each_report_as_it_is(engine: Engine, writer: ReportWriter) -> None:
    """Every column round-trips, whichever statement the backend's writer uses (SQLite inserts
    a JSON array of rows, PostgreSQL binds each row)."""
    fb = ids(engine)["facebook"]
    key, _ = keys.create(engine, "w", trusted=False, now_ms=0)
    rows = [
        report(fb, T0, reporter="ab" * 16),
        report(fb, T0 + 1, counted=False, country="ZZ", problem="app"),
        Report(
            new_report_id(2**47), fb, "login", "FR", 2**47, T0 * 1000, None, True, "batch", key.id
        ),
    ]
    many = [report(fb, T0 + 60 + i % 7, reporter=f"{i:032x}") for i in range(300)]
    writer.write_sync(rows)  # a few rows: bound one by one
    writer.write_sync(many)  # a batch: one JSON document on SQLite
    rows += many
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(select(reports).order_by(reports.c.id))]
    assert got == sorted(tuple(r) for r in rows)
    assert [type(v) for v in got[0]] == [type(v) for v in sorted(rows)[0]]


def test_a_given_tally_is_what_the_counts_receive(engine: Engine, writer: ReportWriter) -> None:
    """A batch hands its own per-minute counts with its reports: they are added as given."""
    fb = ids(engine)["facebook"]
    rows = [report(fb, T0 + i) for i in range(3)]
    minute = rows[0].minute

    async def send() -> None:
        await writer.write(rows, {(fb, minute, "US", "login"): 3})

    asyncio.run(send())
    writer.write_sync([report(fb, T0 + 5)])
    with engine.connect() as conn:
        total = conn.execute(
            select(func.sum(counts_table.c.count)).where(counts_table.c.service_id == fb)
        ).scalar()
    assert total == 4


def test_concurrent_writers_share_commits_and_lose_nothing(
    engine: Engine, writer: ReportWriter
) -> None:
    fb = ids(engine)["facebook"]

    def send(k: int) -> None:
        for i in range(25):
            writer.write_sync([report(fb, T0 + k * 60 + i % 60)])

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        total = conn.execute(
            select(func.sum(counts_table.c.count)).where(counts_table.c.service_id == fb)
        ).scalar()
    assert total == 200
    assert writer.written == 200
    assert writer.commits <= 200


def test_a_failing_request_does_not_fail_the_others(engine: Engine, writer: ReportWriter) -> None:
    fb = ids(engine)["facebook"]
    good = report(fb, T0)
    writer.write_sync([good])
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError, any backend
        writer.write_sync([report(fb, T0 + 1), good])  # duplicate id: the whole request fails
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar() == 1
        assert conn.execute(select(func.sum(counts_table.c.count))).scalar() == 1


def test_counts_bucket_by_step_and_split(engine: Engine, writer: ReportWriter) -> None:
    fb = ids(engine)["facebook"]
    writer.write_sync([report(fb, T0 + 60 * m, country="US" if m % 2 else "TN") for m in range(30)])
    first, last, step = counts.plan(T0, T0 + 1800, "15m")
    rows = count_store.bucketed(engine, fb, first, last, step)
    assert counts.densify(rows, first, last, step).total == [15, 15]
    rows = count_store.bucketed(engine, fb, first, last, step, "country")
    series = counts.densify(rows, first, last, step)
    assert series.by == {"TN": [8, 7], "US": [7, 8]} or series.by == {"US": [7, 8], "TN": [8, 7]}
    assert count_store.minutes_since(engine, T0 + 1740) == [(fb, T0 + 1740, "US", "login", 1)]


def test_counts_are_exact_after_a_restart(db_url: str, engine: Engine) -> None:
    fb = ids(engine)["facebook"]
    w = ReportWriter(engine)
    w.start()
    w.write_sync([report(fb, T0 + i) for i in range(40)])
    w.stop()
    engine.dispose()
    again = make_engine(db_url)
    first, last, step = counts.plan(T0, T0 + 60, "1m")
    assert counts.densify(
        count_store.bucketed(again, fb, first, last, step), first, last, step
    ).total == [40]
    again.dispose()


def test_api_keys_are_stored_only_as_hashes(engine: Engine) -> None:
    key, plain = keys.create(engine, "importer", trusted=True, now_ms=T0 * 1000)
    assert plain.startswith("pk_") and len(plain) > 40
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(api_keys))]
    assert plain not in repr(stored)
    found = keys.verify(engine, plain)
    assert found is not None and found.trusted and found.name == "importer"
    assert keys.verify(engine, plain + "x") is None
    assert keys.revoke(engine, key.id)
    assert keys.verify(engine, plain) is None
    assert not keys.revoke(engine, 9999)
    assert [k.revoked for k in keys.list_keys(engine)] == [True]


def test_revoke_tells_a_revocation_from_one_already_done(engine: Engine) -> None:
    key, _ = keys.create(engine, "ops", trusted=False, now_ms=T0 * 1000)
    first = keys.revoke(engine, key.id)
    assert first is not None and (first.id, first.name, first.revoked) == (key.id, "ops", False)
    again = keys.revoke(engine, key.id)
    assert again is not None and again.revoked  # it already was
    assert keys.revoke(engine, 9999) is None


def test_key_names_are_refused_alike_on_both_databases(engine: Engine) -> None:
    for name in ("", " ", "a\nb", "a\x00b", "é" * 201):
        with pytest.raises(ValueError, match="an API key name"):
            keys.create(engine, name, trusted=False, now_ms=0)
    assert keys.list_keys(engine) == []
    key, _ = keys.create(engine, "é" * keys.NAME_MAX_CHARS, trusted=False, now_ms=0)
    assert [k.name for k in keys.list_keys(engine)] == ["é" * 200] == [key.name]


def test_salts_are_daily_and_old_ones_deleted(engine: Engine) -> None:
    day = T0 // 86_400
    a = keys.salt_for_day(engine, day)
    assert keys.salt_for_day(engine, day) == a and len(a) == 32
    b = keys.salt_for_day(engine, day + 1)
    assert b != a
    keys.salt_for_day(engine, day + 3)
    from panne.store.schema import salts

    with engine.connect() as conn:
        days = sorted(r[0] for r in conn.execute(select(salts.c.day)))
    assert days == [day + 3]


def test_report_fields_are_the_reports_columns_in_order() -> None:
    from panne.store.upsert import REPORT_COLUMNS

    assert Report._fields == REPORT_COLUMNS


def test_a_postgresql_url_must_name_its_database() -> None:
    from sqlalchemy.exc import ArgumentError

    with pytest.raises(ArgumentError, match="names no database"):
        make_engine("postgresql+psycopg://postgres:secret@127.0.0.1:5432")
    make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/panne").dispose()  # lazily
