"""Reading the per-minute counts back, bucketed by the database."""

from __future__ import annotations

from collections.abc import Sequence
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


def totals_by(
    engine: Engine, by: By, start_minute: int, end_minute: int, service_id: int | None = None
) -> dict[str, int]:
    """Reports per country or problem over [start_minute, end_minute), most first; one service
    or all of them (the world map)."""
    key = counts.c[by]
    conds = [counts.c.minute >= start_minute, counts.c.minute < end_minute]
    if service_id is not None:
        conds.append(counts.c.service_id == service_id)
    total = func.sum(counts.c.count)
    stmt = select(key, total).where(*conds).group_by(key).order_by(total.desc())
    with engine.connect() as conn:
        return {str(k): int(n) for k, n in conn.execute(stmt)}


def services_bucketed(
    engine: Engine,
    start_minute: int,
    end_minute: int,
    step_seconds: int,
    service_ids: Sequence[int] | None = None,
) -> dict[int, dict[int, int]]:
    """Reports per bucket over [start_minute, end_minute) of each service (all, or those
    given): the sparklines of a page of services in one query. {service_id: {bucket: n}}."""
    bucket = (counts.c.minute - counts.c.minute % step_seconds).label("bucket")
    conds = [counts.c.minute >= start_minute, counts.c.minute < end_minute]
    if service_ids is not None:
        conds.append(counts.c.service_id.in_(service_ids))
    stmt = (
        select(counts.c.service_id, bucket, func.sum(counts.c.count))
        .where(*conds)
        .group_by(counts.c.service_id, bucket)
    )
    out: dict[int, dict[int, int]] = {}
    with engine.connect() as conn:
        for sid, b, n in conn.execute(stmt):
            out.setdefault(int(sid), {})[int(b)] = int(n)
    return out
