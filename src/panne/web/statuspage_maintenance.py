"""Planned maintenance in the Statuspage shape: the operators' maintenance windows of a page's
services, scheduled, in progress or completed as the clock stands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from panne.store.maintenance import Maintenance
from panne.web.statuspage_shapes import (
    Component,
    MaintenanceStatus,
    ScheduledMaintenance,
    short_id,
    stamp,
)

Which = Literal["all", "upcoming", "active"]
RECENT = 50  # as many as Statuspage lists


def status_of(window: Maintenance, now: float) -> MaintenanceStatus:
    if now < window.starts_at:
        return "scheduled"
    return "in_progress" if now < window.ends_at else "completed"


def entries(
    windows: list[Maintenance],
    components: Mapping[str, Component],
    *,
    page_id: str,
    base_url: str,
    now: float,
    which: Which,
) -> list[ScheduledMaintenance]:
    """``upcoming``: scheduled; ``active``: in progress; ``all``: the most recent 50, newest
    first. Only windows of the page's services (``components`` is keyed by service slug)."""
    wanted = {"all": None, "upcoming": "scheduled", "active": "in_progress"}[which]
    out: list[ScheduledMaintenance] = []
    for w in sorted(windows, key=lambda w: w.starts_at, reverse=True):
        status = status_of(w, now)
        if w.service not in components or (wanted is not None and status != wanted):
            continue
        at = stamp(w.created_at)
        out.append(
            {
                "id": short_id("maintenance", str(w.id)),
                "name": w.title,
                "status": status,
                "created_at": at,
                "updated_at": at,
                "monitoring_at": None,
                "resolved_at": stamp(w.ends_at) if status == "completed" else None,
                "impact": "none",
                "shortlink": f"{base_url}/services/{w.service}",
                "started_at": stamp(w.starts_at),
                "page_id": page_id,
                "incident_updates": [],
                "components": [components[w.service]],
                "scheduled_for": stamp(w.starts_at),
                "scheduled_until": stamp(w.ends_at),
            }
        )
    return out[:RECENT]
