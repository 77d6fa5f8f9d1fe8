"""What the detector expected, minute by minute, beside what it saw: written once per finished
minute by the detector role, read by charts and status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from panne.store.schema import expectations


@dataclass(frozen=True, slots=True)
class Expectation:
    service_id: int
    minute: int
    observed: int
    expected: float
    score: float
    alert: bool


def record(conn: Connection, rows: Sequence[Expectation]) -> None:
    """Store finished minutes; a minute already stored is left alone (a restart may replay)."""
    if not rows:
        return
    keys = {(r.service_id, r.minute) for r in rows}
    lo = min(m for _, m in keys)
    present = {
        (int(a), int(b))
        for a, b in conn.execute(
            select(expectations.c.service_id, expectations.c.minute).where(
                expectations.c.minute >= lo
            )
        )
    }
    fresh = [r for r in rows if (r.service_id, r.minute) not in present]
    if fresh:
        conn.execute(
            expectations.insert(),
            [
                {
                    "service_id": r.service_id,
                    "minute": r.minute,
                    "observed": r.observed,
                    "expected": r.expected,
                    "score": r.score,
                    "alert": r.alert,
                }
                for r in fresh
            ],
        )


def series(engine: Engine, service_id: int, start: int, end: int) -> list[Expectation]:
    """Stored minutes in [start, end), in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(expectations)
            .where(
                expectations.c.service_id == service_id,
                expectations.c.minute >= start,
                expectations.c.minute < end,
            )
            .order_by(expectations.c.minute)
        )
        return [
            Expectation(r.service_id, r.minute, r.observed, r.expected, r.score, r.alert)
            for r in rows
        ]
