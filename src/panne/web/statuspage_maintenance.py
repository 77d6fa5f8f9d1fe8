"""Planned maintenance in the Statuspage shape: the operators' maintenance windows of a page's
services, scheduled, in progress or completed as the clock stands.

A real page's maintenance (``tests/web/fixtures/statuspage/payfast-scheduled-maintenances.json``)
has the impact ``maintenance`` and at least one update, each moving its components: scheduled
(operational to operational), in progress (to ``under_maintenance``), completed (back to
operational), worded as Statuspage's own defaults. panne's windows have no operator text beyond
their title, so those are the updates they get, at the times the window was planned, began and
ended. ``verifying`` (an operator checking the work) has no counterpart in panne and never
appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from panne.store.maintenance import Maintenance
from panne.web.statuspage_shapes import (
    Component,
    ComponentStatus,
    MaintenanceStatus,
    MaintenanceUpdate,
    ScheduledMaintenance,
    short_id,
    stamp,
)

Which = Literal["all", "upcoming", "active"]
RECENT = 50  # as many as Statuspage lists
# Statuspage's default words for each step, as real pages publish them.
BODIES: dict[MaintenanceStatus, str] = {
    "scheduled": "We will be undergoing scheduled maintenance during this time.",
    "in_progress": "Scheduled maintenance is currently in progress. We will provide updates as "
    "necessary.",
    "completed": "The scheduled maintenance has been completed.",
}
_MOVES: dict[MaintenanceStatus, tuple[ComponentStatus, ComponentStatus]] = {
    "scheduled": ("operational", "operational"),
    "in_progress": ("operational", "under_maintenance"),
    "completed": ("under_maintenance", "operational"),
}


def status_of(window: Maintenance, now: float) -> MaintenanceStatus:
    if now < window.starts_at:
        return "scheduled"
    return "in_progress" if now < window.ends_at else "completed"


def in_progress(windows: list[Maintenance], now: float) -> dict[str, Maintenance]:
    """The window in progress of each service that has one (the earliest begun, if several)."""
    out: dict[str, Maintenance] = {}
    for w in sorted(windows, key=lambda w: (w.starts_at, w.id)):
        if status_of(w, now) == "in_progress":
            out.setdefault(w.service, w)
    return out


def steps(window: Maintenance, now: float) -> list[tuple[MaintenanceStatus, int]]:
    """The window's updates so far, oldest first, with their times: planned (unless it was
    recorded once begun), begun, ended. No step is dated before the window was recorded."""
    planned = window.created_at
    out: list[tuple[MaintenanceStatus, int]] = []
    if planned < window.starts_at or now < window.starts_at:
        out.append(("scheduled", min(planned, window.starts_at)))
    if now >= window.starts_at:
        out.append(("in_progress", max(window.starts_at, planned)))
    if now >= window.ends_at:
        out.append(("completed", max(window.ends_at, planned)))
    return out


def entries(
    windows: list[Maintenance],
    components: Mapping[str, Component],
    labels: Mapping[str, str],
    *,
    page_id: str,
    base_url: str,
    now: float,
    which: Which,
) -> list[ScheduledMaintenance]:
    """``upcoming``: scheduled; ``active``: in progress; ``all``: the most recent 50, newest
    first. Only windows of the page's services (``components`` and ``labels``, the name an
    update gives a component, are keyed by service slug)."""
    wanted = {"all": None, "upcoming": "scheduled", "active": "in_progress"}[which]
    out: list[ScheduledMaintenance] = []
    for w in sorted(windows, key=lambda w: (w.starts_at, w.id), reverse=True):
        status = status_of(w, now)
        if w.service not in components or (wanted is not None and status != wanted):
            continue
        mid = short_id("maintenance", str(w.id))
        comp = components[w.service]
        done = steps(w, now)
        updates: list[MaintenanceUpdate] = []
        for step, at in reversed(done):  # newest first, as Statuspage
            old, new = _MOVES[step]
            when = stamp(at)
            updates.append(
                {
                    "id": short_id("maintenance", str(w.id), step),
                    "status": step,
                    "body": BODIES[step],
                    "incident_id": mid,
                    "created_at": when,
                    "updated_at": when,
                    "display_at": when,
                    "affected_components": [
                        {
                            "code": comp["id"],
                            "name": labels.get(w.service, comp["name"]),
                            "old_status": old,
                            "new_status": new,
                        }
                    ],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            )
        out.append(
            {
                "id": mid,
                "name": w.title,
                "status": status,
                "created_at": stamp(w.created_at),
                "updated_at": stamp(done[-1][1]) if done else stamp(w.created_at),
                "monitoring_at": None,
                "resolved_at": stamp(done[-1][1]) if status == "completed" else None,
                "impact": "maintenance",
                "shortlink": f"{base_url}/services/{w.service}",
                "started_at": stamp(w.created_at),  # as real pages: when it was published
                "page_id": page_id,
                "incident_updates": updates,
                "components": [comp],
                "scheduled_for": stamp(w.starts_at),
                "scheduled_until": stamp(w.ends_at),
            }
        )
    return out[:RECENT]
