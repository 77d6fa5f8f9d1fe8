"""Reading the per-minute counts back, bucketed by the database."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine, func, select

from panne.store.schema import counts

By = Literal["country", "problem"]


def bucketed(
    engine: Engine,
    service_id: int,
    start_minute: int,
    end_minute: int,
    step_seconds: int,
    by: By | None = None,
) -> list[tuple[int, str | None, int]]:
    """(bucket start, key or None, count) for minutes in [start_minute, end_minute).

    Buckets are aligned on multiples of the step in epoch seconds (UTC), so the same bucket has
    the same bounds whatever range is asked for.
    """
    bucket = (counts.c.minute - counts.c.minute % step_seconds).label("bucket")
    key = counts.c[by] if by else None
    cols = [bucket, key] if key is not None else [bucket]
    stmt = (
        select(*cols, func.sum(counts.c.count).label("n"))
        .where(
            counts.c.service_id == service_id,
            counts.c.minute >= start_minute,
            counts.c.minute < end_minute,
        )
        .group_by(*cols)
        .order_by(bucket)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        if key is not None:
            return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]
        return [(int(r[0]), None, int(r[1])) for r in rows]


def minutes_since(engine: Engine, since_minute: int) -> list[tuple[int, int, str, str, int]]:
    """Every count row from ``since_minute`` on: (service_id, minute, country, problem, n)."""
    stmt = select(
        counts.c.service_id, counts.c.minute, counts.c.country, counts.c.problem, counts.c.count
    ).where(counts.c.minute >= since_minute)
    with engine.connect() as conn:
        return [(int(a), int(b), str(c), str(d), int(e)) for a, b, c, d, e in conn.execute(stmt)]
