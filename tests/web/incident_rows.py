"""Incidents stored as the detector role stores them (a row and its timeline events), for the tests
of what reads them: quicker than a day of simulated traffic, and every field under control."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from panne.node import Node
from panne.store import incidents as incident_store
from panne.store.incidents import IncidentRecord

T0 = 1_709_651_400  # 2024-03-05 15:10 UTC


def store(
    node: Node,
    incident_id: str,
    *,
    service: str | None = "facebook",
    group: str | None = "meta",
    kind: str = "service",
    title: str | None = None,
    severity: str = "major",
    started_at: int = T0,
    events: Sequence[tuple[str, int] | tuple[str, int, list[str]]] = (("opened", T0 + 180),),
    members: Sequence[str] = (),
    countries: Sequence[tuple[str, int]] = (("US", 600), ("GB", 250), ("TN", 150)),
    problems: dict[str, float] | None = None,
) -> IncidentRecord:
    """Store an incident whose status follows its last event (``resolved`` or not). An event
    may carry the members a group incident had then; ``members`` is where they end."""
    resolved = events[-1][0] == "resolved"
    rec = IncidentRecord(
        id=incident_id,
        kind=kind,
        service=service if kind == "service" else None,
        group=group,
        parent_id=None,
        status="resolved" if resolved else "open",
        severity=severity,
        title=title or (service or group or incident_id).capitalize(),
        started_at=started_at,
        detected_at=events[0][1],
        ended_at=events[-1][1] - 900 if resolved else None,
        peak_per_minute=120.0,
        peak_ratio=8.0,
        countries=list(countries),
        problems=problems if problems is not None else {"login": 76.0, "app": 16.0, "website": 8.0},
        members=list(members),
        updated_at=events[-1][1],
    )
    with node.engine.begin() as conn:
        incident_store.save(conn, rec)
        for kind_, at, *then in events:
            snapshot: dict[str, Any] = {
                "title": rec.title,
                "status": "resolved" if kind_ == "resolved" else "open",
                "severity": severity,
                "peak_per_minute": rec.peak_per_minute,
                "peak_ratio": rec.peak_ratio,
                "countries": [list(c) for c in rec.countries[:5]],
                "problems": rec.problems,
                "members": then[0] if then else rec.members,
            }
            incident_store.add_event(conn, rec.id, kind_, at, snapshot)
    return rec
