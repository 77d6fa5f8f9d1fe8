"""Which reports count when several processes take them: the dedupe memory, shared.

An ingest process remembers who reported what within ``dedupe_window_minutes``
(:class:`~panne.signals.reports.Deduper`), and that is the whole answer while one process takes
every report. Behind a load balancer a person's second report may reach another ``panne ingest``
or ``panne web``, which has not seen the first and would count it again. So the workers of the
report stream settle it once more in the transaction that stores the reports, against one row
per (reporter, service) holding when that reporter last counted: an upsert that moves the time
only for a report a whole window away from it and returns the rows it inserted or moved, which
are the reports that count. Two workers committing the same reporter's reports at once take
turns on its row (the second waits for the first's commit, then finds the time moved), so
exactly one of them counts.

An ingest process's "not counted" stands; only its "counted" is checked. The same reporter
under yesterday's salt, just after midnight (``Fingerprinter.yesterdays``), is known only to
the process that saw the address, so across midnight the check is that process's alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, delete

from panne.signals.reports import Report
from panne.store.schema import first_reports

_Key = tuple[str, int]


def repeats(conn: Connection, rows: Sequence[Report], window_ms: int) -> list[int]:
    """The indices in ``rows`` of the reports that must not count after all: their reporter
    counted for the service within ``window_ms``, through another process or earlier in
    ``rows``. Records the others' times, in ``conn``'s transaction."""
    candidates = [i for i, r in enumerate(rows) if r.counted and r.reporter is not None]
    candidates.sort(key=lambda i: rows[i].occurred_ms)
    # One statement may not touch a row twice, so the n-th report of a reporter in ``rows``
    # goes in the n-th round, after the earlier ones have moved its time.
    rounds: list[dict[_Key, int]] = []
    seen: dict[_Key, int] = {}
    for i in candidates:
        r = rows[i]
        key = (r.reporter or "", r.service_id)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append({})
        rounds[n][key] = i
    out: list[int] = []
    for batch in rounds:
        won = _upsert(conn, {k: rows[i].occurred_ms for k, i in batch.items()}, window_ms)
        out.extend(i for key, i in batch.items() if key not in won)
    return out


def _upsert(conn: Connection, times: dict[_Key, int], window_ms: int) -> set[_Key]:
    # In key order: workers committing at once lock the rows they share in the same order,
    # so they wait for each other instead of deadlocking.
    items = sorted(times.items())
    if conn.dialect.name == "postgresql":
        params: tuple[object, ...] = (
            [r for (r, _), _ in items],
            [s for (_, s), _ in items],
            [ms for _, ms in items],
            window_ms,
            window_ms,
        )
    else:
        params = (orjson.dumps([(r, s, ms) for (r, s), ms in items]).decode(), window_ms, window_ms)
    rows = conn.exec_driver_sql(_upsert_sql(conn.dialect.name), params).all()
    return {(r, s) for r, s in rows}


def _upsert_sql(dialect: str) -> str:
    """The upsert as one statement over all the rows: a SQLAlchemy multi-row ``VALUES`` cost
    several times the database's own work. PostgreSQL reads the rows from three arrays,
    SQLite from one JSON document (the ``WHERE true`` keeps its parser from reading the
    ``ON`` of ``ON CONFLICT`` as a join's)."""
    if dialect == "postgresql":
        rows = "SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[])"
        mark = "%s"
    else:
        rows = "SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true"
        mark = "?"
    t = first_reports.name
    return (
        f"INSERT INTO {t} (reporter, service_id, counted_ms) {rows} "
        "ON CONFLICT (reporter, service_id) DO UPDATE SET counted_ms = "
        f"CASE WHEN excluded.counted_ms > {t}.counted_ms THEN excluded.counted_ms "
        f"ELSE {t}.counted_ms END "
        f"WHERE excluded.counted_ms >= {t}.counted_ms + {mark} "
        f"OR excluded.counted_ms <= {t}.counted_ms - {mark} "
        "RETURNING reporter, service_id"
    )


def prune(conn: Connection, before_ms: int) -> int:
    """Forget reporters who last counted before ``before_ms`` (a window ago: they count
    again anyway); return how many."""
    return conn.execute(
        delete(first_reports).where(first_reports.c.counted_ms < before_ms)
    ).rowcount
