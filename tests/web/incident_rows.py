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


def store_probe_incident(
    node: Node,
    incident_id: str = "discord-p1709651400",
    *,
    service: str = "discord",
    probes: Sequence[str] = ("discord-dns", "discord-web"),
    cause: tuple[str, str] | None = None,
    resolved_at: int | None = None,
    superseded_by: str | None = None,
) -> IncidentRecord:
    """An incident opened on probes alone, stored as the detector role stores it (watch.py):
    severity minor, no reports, ``opened_by`` and the probes in its detail and snapshots;
    ``cause`` is fusion's (``fusion_store.probe_incident_cause``), in the detail and snapshots
    as ``cause`` and ``cause_fr``."""
    detail: dict[str, Any] = {"opened_by": "probes", "probes": list(probes)}
    if cause is not None:
        detail["cause"], detail["cause_fr"] = cause
    if superseded_by is not None:
        detail["superseded_by"] = superseded_by
    rec = IncidentRecord(
        id=incident_id,
        kind="service",
        service=service,
        group=None,
        parent_id=None,
        status="open" if resolved_at is None else "resolved",
        severity="minor",
        title=service.capitalize(),
        started_at=T0,
        detected_at=T0 + 180,
        ended_at=resolved_at,
        peak_per_minute=0.0,
        peak_ratio=0.0,
        countries=[],
        problems={},
        members=[],
        detail=detail,
        updated_at=resolved_at or T0 + 180,
    )
    events = [("opened", T0 + 180)] + ([("resolved", resolved_at)] if resolved_at else [])
    with node.engine.begin() as conn:
        incident_store.save(conn, rec)
        for kind_, at in events:
            snapshot: dict[str, Any] = {
                "title": rec.title,
                "status": "resolved" if kind_ == "resolved" else "open",
                "severity": "minor",
                "peak_per_minute": 0.0,
                "peak_ratio": 0.0,
                "countries": [],
                "problems": {},
                "members": [],
                **{k: v for k, v in detail.items() if k != "superseded_by"},
            }
            if kind_ == "resolved" and superseded_by is not None:
                snapshot["superseded_by"] = superseded_by
            incident_store.add_event(conn, rec.id, kind_, at, snapshot)
    return rec
