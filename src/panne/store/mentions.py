"""Social mention counts and their judgements: what the mentions role writes and fusion reads.

Counts are *added*, never set: the role flushes what it counted every few seconds, so one
minute arrives in several pieces (and a second node reading another stream adds its own).
The add is ``INSERT … ON CONFLICT … DO UPDATE``, spelt the same on SQLite and PostgreSQL, as
for the report counts (:mod:`panne.store.upsert`). Judgements are written once per finished
minute; a minute already stored is left alone, because a restart may judge it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, select

from panne.store.schema import detector_state, mention_counts, mention_expectations


@dataclass(frozen=True, slots=True)
class MentionJudgement:
    """The detector's word on one service's mentions in one finished minute."""

    service: str
    minute: int
    observed: int
    expected: float
    score: float
    alert: bool


@dataclass(frozen=True, slots=True)
class MentionMinute:
    """One stored minute of a service: its count, and its judgement once the minute is judged."""

    service: str
    minute: int
    count: int
    expected: float | None
    score: float | None
    alert: bool | None


def _marks(engine: Engine | Connection, n: int) -> str:
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def add_counts(engine: Engine, counts: Mapping[tuple[str, int], int]) -> None:
    """Add ``{(service, minute): posts}`` to the stored counts, creating absent minutes."""
    rows = [(s, m, n) for (s, m), n in counts.items() if n]
    if not rows:
        return
    t = mention_counts.name
    sql = (
        f"INSERT INTO {t} (service, minute, count) VALUES ({_marks(engine, 3)}) "
        f"ON CONFLICT (service, minute) DO UPDATE SET count = {t}.count + excluded.count"
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(sql, rows)


def counts_between(
    engine: Engine, start: int, end: int, services: Iterable[str] | None = None
) -> dict[tuple[str, int], int]:
    """Stored counts of the minutes in ``[start, end)``, of ``services`` (all when None)."""
    c = mention_counts.c
    query = select(c.service, c.minute, c.count.label("n")).where(c.minute >= start, c.minute < end)
    if services is not None:
        query = query.where(c.service.in_(list(services)))
    with engine.connect() as conn:
        return {(r.service, int(r.minute)): int(r.n) for r in conn.execute(query)}


def first_minute(engine: Engine, since: int) -> int | None:
    """The earliest minute with a stored count at or after ``since`` (a warm-up's start)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(mention_counts.c.minute)
            .where(mention_counts.c.minute >= since)
            .order_by(mention_counts.c.minute)
            .limit(1)
        ).scalar()
    return None if rows is None else int(rows)


def record(conn: Connection, rows: Sequence[MentionJudgement]) -> None:
    """Store judgements; a (service, minute) already stored is kept as it was."""
    if not rows:
        return
    t = mention_expectations.name
    sql = (
        f"INSERT INTO {t} (service, minute, observed, expected, score, alert) "
        f"VALUES ({_marks(conn, 6)}) ON CONFLICT (service, minute) DO NOTHING"
    )
    conn.exec_driver_sql(
        sql,
        [(r.service, r.minute, r.observed, r.expected, r.score, r.alert) for r in rows],
    )


def judgements(
    engine: Engine, start: int, end: int, services: Iterable[str] | None = None
) -> list[MentionJudgement]:
    """Stored judgements of the minutes in ``[start, end)``, by service then minute."""
    e = mention_expectations
    query = select(e).where(e.c.minute >= start, e.c.minute < end)
    if services is not None:
        query = query.where(e.c.service.in_(list(services)))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(e.c.service, e.c.minute)).all()
    return [
        MentionJudgement(
            r.service, int(r.minute), int(r.observed), r.expected, r.score, bool(r.alert)
        )
        for r in rows
    ]


def window(engine: Engine, services: Sequence[str], start: int, end: int) -> list[MentionMinute]:
    """Counts of ``services`` over minutes ``[start, end]`` with their judgements where made:
    one query (counts left-joined to judgements), for an incident's evidence."""
    c, e = mention_counts, mention_expectations
    query = (
        select(c.c.service, c.c.minute, c.c.count.label("n"), e.c.expected, e.c.score, e.c.alert)
        .outerjoin(e, and_(e.c.service == c.c.service, e.c.minute == c.c.minute))
        .where(c.c.service.in_(list(services)), c.c.minute.between(start, end))
        .order_by(c.c.minute)
    )
    with engine.connect() as conn:
        return [
            MentionMinute(
                r.service,
                int(r.minute),
                int(r.n),
                r.expected,
                r.score,
                None if r.alert is None else bool(r.alert),
            )
            for r in conn.execute(query)
        ]


def load_state(engine: Engine, key: str) -> dict[str, Any] | None:
    """A saved detector state from ``detector_state`` (None on a first start)."""
    with engine.connect() as conn:
        saved = conn.execute(
            select(detector_state.c.state).where(detector_state.c.key == key)
        ).scalar()
    return dict(saved) if saved else None


def save_state(conn: Connection, key: str, state: dict[str, Any], now: float) -> None:
    """Save a detector state under ``key``, in the caller's transaction."""
    done = conn.execute(
        detector_state.update()
        .where(detector_state.c.key == key)
        .values(state=state, updated_at=int(now))
    )
    if done.rowcount == 0:
        conn.execute(detector_state.insert().values(key=key, state=state, updated_at=int(now)))
