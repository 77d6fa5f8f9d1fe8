"""The hot statements, as plain driver SQL, and the one whose syntax differs by backend.

The writer sends thousands of rows a second; going through SQLAlchemy's per-row parameter
processing costs several times the database's own work, so these two statements are written
once per dialect and executed with ``exec_driver_sql`` on tuples.
"""

from __future__ import annotations

from sqlalchemy import Engine

from panne.store.schema import counts, reports

REPORT_COLUMNS = tuple(c.name for c in reports.columns)


def _placeholders(engine: Engine, n: int) -> str:
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def insert_reports_sql(engine: Engine) -> str:
    """Insert reports, parameters in the order of ``REPORT_COLUMNS``."""
    cols = ", ".join(REPORT_COLUMNS)
    marks = _placeholders(engine, len(REPORT_COLUMNS))
    return f"INSERT INTO {reports.name} ({cols}) VALUES ({marks})"


def add_counts_sql(engine: Engine) -> str:
    """Add to a count, creating it if absent: (service_id, minute, country, problem, count).

    ``INSERT … ON CONFLICT … DO UPDATE`` is spelt the same by SQLite (3.24+) and PostgreSQL.
    """
    t = counts.name
    return (
        f"INSERT INTO {t} (service_id, minute, country, problem, count) "
        f"VALUES ({_placeholders(engine, 5)}) "
        "ON CONFLICT (service_id, minute, country, problem) "
        f"DO UPDATE SET count = {t}.count + excluded.count"
    )


def insert_reports_json_sql(engine: Engine) -> str | None:
    """On SQLite, insert reports from one JSON array of rows (``REPORT_COLUMNS`` order).

    ``executemany`` releases Python's GIL around every row's ``sqlite3_step`` and must take it
    back for the next row's parameters: while the event loop is busy (parsing the next batch,
    answering requests), each row waits for a GIL switch, and a 10,000-row insert that takes
    25 ms alone took seconds. One ``INSERT … SELECT FROM json_each(?)`` runs in a single step,
    without the GIL. ``None`` where unavailable (PostgreSQL, SQLite before 3.38's ``->>``):
    there the writer uses ``executemany``.
    """
    if engine.dialect.name != "sqlite":
        return None
    import sqlite3

    if sqlite3.sqlite_version_info < (3, 38, 0):  # pragma: no cover - old system SQLite
        return None
    cols = ", ".join(REPORT_COLUMNS)
    values = ", ".join(f"value ->> {i}" for i in range(len(REPORT_COLUMNS)))
    return f"INSERT INTO {reports.name} ({cols}) SELECT {values} FROM json_each(?)"
