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
