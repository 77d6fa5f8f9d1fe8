"""Incidents and their timelines in the database: written by the detector role, read by the
API, the pages, the feeds and the notifiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, or_, select

from panne.store.schema import incident_events, incidents


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    id: str
    kind: str  # service | group
    service: str | None
    group: str | None
    parent_id: str | None
    status: str  # open | resolved
    severity: str
    title: str
    started_at: int
    detected_at: int
    ended_at: int | None
    peak_per_minute: float
    peak_ratio: float
    countries: list[tuple[str, int]]
    problems: dict[str, float]
    members: list[str]
    detail: dict[str, Any] = field(default_factory=dict)
    updated_at: int = 0

    @property
    def duration_seconds(self) -> int | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    id: int
    incident_id: str
    kind: str
    at: int
    snapshot: dict[str, Any]


def _record(row: Any) -> IncidentRecord:
    return IncidentRecord(
        id=row.id,
        kind=row.kind,
        service=row.service,
        group=row.group_slug,
        parent_id=row.parent_id,
        status=row.status,
        severity=row.severity,
        title=row.title,
        started_at=row.started_at,
        detected_at=row.detected_at,
        ended_at=row.ended_at,
        peak_per_minute=row.peak_per_minute,
        peak_ratio=row.peak_ratio,
        countries=[(str(c), int(n)) for c, n in row.countries],
        problems={str(k): float(v) for k, v in row.problems.items()},
        members=list(row.members),
        detail=dict(row.detail),
        updated_at=row.updated_at,
    )


def save(conn: Connection, record: IncidentRecord) -> None:
    """Insert or replace an incident's current state (inside the caller's transaction)."""
    values = {
        "kind": record.kind,
        "service": record.service,
        "group_slug": record.group,
        "parent_id": record.parent_id,
        "status": record.status,
        "severity": record.severity,
        "title": record.title,
        "started_at": record.started_at,
        "detected_at": record.detected_at,
        "ended_at": record.ended_at,
        "peak_per_minute": record.peak_per_minute,
        "peak_ratio": record.peak_ratio,
        "countries": [list(c) for c in record.countries],
        "problems": record.problems,
        "members": record.members,
        "detail": record.detail,
        "updated_at": record.updated_at,
    }
    done = conn.execute(incidents.update().where(incidents.c.id == record.id).values(**values))
    if done.rowcount == 0:
        conn.execute(incidents.insert().values(id=record.id, **values))


def add_event(
    conn: Connection, incident_id: str, kind: str, at: int, snapshot: dict[str, Any]
) -> None:
    conn.execute(
        incident_events.insert().values(
            incident_id=incident_id, kind=kind, at=at, snapshot=snapshot
        )
    )


def query(
    engine: Engine,
    *,
    active: bool | None = None,
    service: str | None = None,
    group: str | None = None,
    country: str | None = None,
    start: int | None = None,
    end: int | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[IncidentRecord], int]:
    """Incidents newest first, and how many match in all (for pagination).

    ``start``/``end`` select incidents that overlap the range; ``service`` also finds the group
    incidents the service is a member of; ``country`` matches the affected countries.
    """
    conds = []
    if active is not None:
        conds.append(incidents.c.status == ("open" if active else "resolved"))
    if service is not None:
        conds.append(or_(incidents.c.service == service, incidents.c.kind == "group"))
    if group is not None:
        conds.append(incidents.c.group_slug == group)
    if kind is not None:
        conds.append(incidents.c.kind == kind)
    if start is not None:
        conds.append(or_(incidents.c.ended_at.is_(None), incidents.c.ended_at >= start))
    if end is not None:
        conds.append(incidents.c.started_at < end)
    stmt = select(incidents).where(*conds).order_by(incidents.c.started_at.desc())
    with engine.connect() as conn:
        rows = [_record(r) for r in conn.execute(stmt)]
    # Membership in a group and countries live in JSON: filter those here, portably.
    if service is not None:
        rows = [r for r in rows if r.service == service or service in r.members]
    if country is not None:
        rows = [r for r in rows if any(c == country for c, _ in r.countries)]
    return rows[offset : offset + limit], len(rows)


def get(engine: Engine, incident_id: str) -> IncidentRecord | None:
    with engine.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return None if row is None else _record(row)


def children(engine: Engine, parent_id: str) -> list[IncidentRecord]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents)
            .where(incidents.c.parent_id == parent_id)
            .order_by(incidents.c.started_at)
        )
        return [_record(r) for r in rows]


def timeline(engine: Engine, incident_id: str) -> list[IncidentEvent]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(incident_events)
            .where(incident_events.c.incident_id == incident_id)
            .order_by(incident_events.c.id)
        )
        return [IncidentEvent(r.id, r.incident_id, r.kind, r.at, dict(r.snapshot)) for r in rows]
