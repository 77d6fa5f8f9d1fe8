"""Probes in the database: definitions, results, up/down state and its transitions.

:class:`ProbeRecorder` is the scheduler's sink: for each batch it steps every probe's
hysteresis (signals/probe_state.py) and commits the results, the new states and the
transitions in one transaction, so the stored state always matches the stored results and a
restart neither repeats nor loses a transition. A result not newer than its probe's last one is
skipped, not stored: a batch delivered twice (a sink retried after a commit whose answer was
lost) changes nothing. Times are epoch milliseconds in the tables, seconds in the dataclasses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import BigInteger, Connection, Engine, case, func, literal_column, select, text

from panne.clock import utc
from panne.signals.probe_state import ProbeState, ProbeStatus, ProbeTransition, step
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store.schema import probe_events, probe_results, probe_state, probes

DAY_MS = 86_400_000


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _s(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def upsert_specs(engine: Engine, specs: Iterable[ProbeSpec], *, now: float) -> tuple[int, int]:
    """Add or replace definitions by id; returns (added, updated). Never deletes; new
    definitions are enabled, and defined through the admin API."""
    with engine.begin() as conn:
        return write_specs(conn, specs, now=now)


def write_specs(
    conn: Connection, specs: Iterable[ProbeSpec], *, now: float, origin: str | None = None
) -> tuple[int, int]:
    """:func:`upsert_specs` in the caller's transaction. ``origin`` ("admin" or "catalog")
    is written when given; unset, new rows are "admin" and replaced ones keep theirs."""
    known = set(conn.execute(select(probes.c.id)).scalars())
    rows: list[dict[str, Any]] = [
        {
            "id": s.id,
            "service": s.service,
            "kind": s.kind,
            "target": s.target,
            "interval_seconds": s.interval_seconds,
            "spec": s.to_dict(),
            "enabled": True,
            "updated_at": _ms(now),
            **({} if origin is None else {"origin": origin}),
        }
        for s in specs
    ]
    new = [r for r in rows if r["id"] not in known]
    old = [r for r in rows if r["id"] in known]
    if new:
        conn.execute(probes.insert(), new)
    for row in old:
        del row["enabled"]  # a definition replaced stays paused if it was
        conn.execute(probes.update().where(probes.c.id == row["id"]).values(**row))
    return len(new), len(old)


def load_specs(engine: Engine, *, enabled_only: bool = True) -> list[ProbeSpec]:
    query = select(probes.c.spec).order_by(probes.c.id)
    if enabled_only:
        query = query.where(probes.c.enabled.is_(True))
    with engine.connect() as conn:
        return [ProbeSpec.from_dict(spec) for spec in conn.execute(query).scalars()]


def record_results(conn: Connection, results: Sequence[ProbeResult]) -> None:
    """Insert results in one executemany."""
    if results:
        conn.execute(
            probe_results.insert(),
            [
                {
                    "probe_id": r.probe_id,
                    "at": _ms(r.at),
                    "ok": r.ok,
                    "latency_ms": r.latency_ms,
                    "error_class": r.error_class,
                    "detail": r.detail[:500],
                }
                for r in results
            ],
        )


def load_states(engine: Engine) -> dict[str, ProbeState]:
    with engine.connect() as conn:
        rows = conn.execute(select(probe_state)).all()
    return {
        row.probe_id: ProbeState(
            row.probe_id,
            cast(ProbeStatus, row.state),
            row.fail_streak,
            row.ok_streak,
            _s(row.streak_since),
            _s(row.since),
            _s(row.last_at),
        )
        for row in rows
    }


# `INSERT … ON CONFLICT … DO UPDATE` is spelt the same by SQLite (3.24+) and PostgreSQL.
_SAVE_STATE = text(
    f"INSERT INTO {probe_state.name} "
    "(probe_id, state, fail_streak, ok_streak, streak_since, since, last_at) "
    "VALUES (:probe_id, :state, :fail_streak, :ok_streak, :streak_since, :since, :last_at) "
    "ON CONFLICT (probe_id) DO UPDATE SET state = excluded.state, "
    "fail_streak = excluded.fail_streak, ok_streak = excluded.ok_streak, "
    "streak_since = excluded.streak_since, since = excluded.since, last_at = excluded.last_at"
)


def save_states(conn: Connection, states: Iterable[ProbeState]) -> None:
    def ms(seconds: float | None) -> int | None:
        return None if seconds is None else _ms(seconds)

    rows = [
        {
            "probe_id": s.probe_id,
            "state": s.status,
            "fail_streak": s.fail_streak,
            "ok_streak": s.ok_streak,
            "streak_since": ms(s.streak_since),
            "since": ms(s.since),
            "last_at": ms(s.last_at),
        }
        for s in states
    ]
    if rows:
        conn.execute(_SAVE_STATE, rows)


def save_transitions(conn: Connection, transitions: Sequence[ProbeTransition]) -> None:
    if transitions:
        conn.execute(
            probe_events.insert(),
            [
                {
                    "probe_id": t.probe_id,
                    "at": _ms(t.at),
                    "since": _ms(t.since),
                    "from_state": t.from_status,
                    "to_state": t.to_status,
                    "error_class": t.error_class,
                    "detail": t.detail[:500],
                }
                for t in transitions
            ],
        )


def load_transitions(engine: Engine, probe_id: str | None = None) -> list[ProbeTransition]:
    """Stored transitions in order, of one probe or of all."""
    query = select(probe_events).order_by(probe_events.c.id)
    if probe_id is not None:
        query = query.where(probe_events.c.probe_id == probe_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        ProbeTransition(
            r.probe_id,
            r.at / 1000,
            r.since / 1000,
            cast(ProbeStatus, r.from_state),
            cast(ProbeStatus, r.to_state),
            r.error_class,
            r.detail,
        )
        for r in rows
    ]


class ProbeRecorder:
    """The scheduler's sink (see the module's docstring). Thread-safe; one per database and
    probe process, since it keeps the states it last committed in memory."""

    def __init__(self, engine: Engine, specs: Iterable[ProbeSpec] = ()) -> None:
        self.engine = engine
        self._policies: dict[str, tuple[int, int]] = {}
        self.set_specs(specs)
        self.states = load_states(engine)
        self._lock = threading.Lock()

    def set_specs(self, specs: Iterable[ProbeSpec]) -> None:
        """Each probe's ``fail_after`` and ``recover_after``; unknown probes use 2 and 2."""
        self._policies = {s.id: (s.fail_after, s.recover_after) for s in specs}

    def __call__(self, results: Sequence[ProbeResult]) -> list[ProbeTransition]:
        with self._lock:
            changed: dict[str, ProbeState] = {}
            accepted: list[ProbeResult] = []
            transitions: list[ProbeTransition] = []
            for r in sorted(results, key=lambda r: r.at):
                r = replace(r, at=_ms(r.at) / 1000)  # the precision the table keeps
                state = changed.get(r.probe_id) or self.states.get(r.probe_id)
                state = state or ProbeState(r.probe_id)
                fail_after, recover_after = self._policies.get(r.probe_id, (2, 2))
                new, transition = step(state, r, fail_after=fail_after, recover_after=recover_after)
                if new is state:
                    continue  # not newer than what was already recorded
                accepted.append(r)
                changed[r.probe_id] = new
                if transition is not None:
                    transitions.append(transition)
            with self.engine.begin() as conn:
                record_results(conn, accepted)
                save_states(conn, changed.values())
                save_transitions(conn, transitions)
            self.states.update(changed)
        return transitions


@dataclass(frozen=True, slots=True)
class DayUptime:
    day: date  # a UTC day
    uptime_percent: float | None  # None when the probe did not run that day
    checks: int


def uptime_by_day(engine: Engine, probe_id: str, days: int, *, now: float) -> list[DayUptime]:
    """The share of successful runs of each of the last ``days`` UTC days, today included,
    oldest first: the bars of a service page's uptime strip."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = _ms(now) // DAY_MS
    first = today - days + 1
    # A literal, not a parameter: PostgreSQL matches the GROUP BY to the SELECT by its text.
    day_col = (probe_results.c.at // literal_column(str(DAY_MS), BigInteger)).label("day")
    query = (
        select(
            day_col,
            func.count().label("checks"),
            func.sum(case((probe_results.c.ok, 1), else_=0)).label("oks"),
        )
        .where(
            probe_results.c.probe_id == probe_id,
            probe_results.c.at >= first * DAY_MS,
            probe_results.c.at < (today + 1) * DAY_MS,
        )
        .group_by(day_col)
    )
    with engine.connect() as conn:
        found: dict[int, Any] = {int(r.day): r for r in conn.execute(query)}
    start = utc(first * 86_400).date()
    out: list[DayUptime] = []
    for i in range(days):
        row = found.get(first + i)
        checks = int(row.checks) if row is not None else 0
        percent = 100.0 * int(row.oks) / checks if row is not None and checks else None
        out.append(DayUptime(start + timedelta(days=i), percent, checks))
    return out
