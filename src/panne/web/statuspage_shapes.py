"""The JSON shapes of Statuspage v2 (``/api/v2/*.json``), as vendors' pages answer today, and
the conventions of its values: ids, times, and panne's severities in its words.

Declared once so that FastAPI checks every answer against them (an enum value Statuspage clients
do not know cannot leave panne) and OpenAPI shows them. Keys and their order follow real captured
payloads (see ``tests/web/fixtures/statuspage/``): ``components`` appears only on a group
component, and fields panne has no use for (``custom_tweet``, ``reminder_intervals``) are kept as
null because clients decode them.
"""

from __future__ import annotations

import hashlib
from typing import Literal, NotRequired

from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from 3.12

from panne.clock import utc

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
Impact = Literal["none", "minor", "major", "critical"]
MaintenanceStatus = Literal["scheduled", "in_progress", "verifying", "completed"]
MaintenanceImpact = Literal["none", "minor", "major", "critical", "maintenance"]


class Page(TypedDict):
    id: str
    name: str
    url: str
    time_zone: str
    updated_at: str


class PageStatus(TypedDict):
    indicator: Impact
    description: str


class Component(TypedDict):
    id: str
    name: str
    status: ComponentStatus
    created_at: str
    updated_at: str
    position: int
    description: str | None
    showcase: bool
    start_date: str | None
    group_id: str | None
    page_id: str
    group: bool
    only_show_if_degraded: bool
    components: NotRequired[list[str]]  # only on a group: its members' ids


class AffectedComponent(TypedDict):
    code: str
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


class IncidentUpdate(TypedDict):
    id: str
    status: IncidentStatus
    body: str
    incident_id: str
    created_at: str
    updated_at: str
    display_at: str
    affected_components: list[AffectedComponent] | None
    deliver_notifications: bool
    custom_tweet: str | None
    tweet_id: str | None


class Incident(TypedDict):
    id: str
    name: str
    status: IncidentStatus
    created_at: str
    updated_at: str
    monitoring_at: str | None
    resolved_at: str | None
    impact: Impact
    shortlink: str
    started_at: str
    page_id: str
    incident_updates: list[IncidentUpdate]
    components: list[Component]
    reminder_intervals: str | None


class MaintenanceUpdate(TypedDict):
    """An incident update, with a maintenance's words for its status."""

    id: str
    status: MaintenanceStatus
    body: str
    incident_id: str
    created_at: str
    updated_at: str
    display_at: str
    affected_components: list[AffectedComponent] | None
    deliver_notifications: bool
    custom_tweet: str | None
    tweet_id: str | None


class ScheduledMaintenance(TypedDict):
    id: str
    name: str
    status: MaintenanceStatus
    created_at: str
    updated_at: str
    monitoring_at: str | None
    resolved_at: str | None
    impact: MaintenanceImpact  # real pages say "maintenance"
    shortlink: str
    started_at: str
    page_id: str
    incident_updates: list[MaintenanceUpdate]
    components: list[Component]
    scheduled_for: str
    scheduled_until: str


class StatusResponse(TypedDict):
    page: Page
    status: PageStatus


class ComponentsResponse(TypedDict):
    page: Page
    components: list[Component]


class IncidentsResponse(TypedDict):
    page: Page
    incidents: list[Incident]


class MaintenancesResponse(TypedDict):
    page: Page
    scheduled_maintenances: list[ScheduledMaintenance]


class Summary(TypedDict):
    page: Page
    components: list[Component]
    incidents: list[Incident]
    scheduled_maintenances: list[ScheduledMaintenance]
    status: PageStatus


_IMPACTS: dict[str, Impact] = {"minor": "minor", "major": "major", "critical": "critical"}


def short_id(*parts: str) -> str:
    """A 12-character base-36 id, like Statuspage's, that depends only on ``parts``."""
    n = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")
    out = []
    for _ in range(12):
        n, r = divmod(n, 36)
        out.append("0123456789abcdefghijklmnopqrstuvwxyz"[r])
    return "".join(out)


def stamp(ts: float) -> str:
    """ISO 8601 with milliseconds and a zone, as Statuspage writes times."""
    return utc(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outage_status(severity: str) -> ComponentStatus:
    """A service in an open incident: a minor one is a partial outage, a major or critical one a
    major outage (the impact, not the component, tells major from critical)."""
    return "partial_outage" if severity == "minor" else "major_outage"


def impact_of(severity: str) -> Impact:
    """panne's severities are Statuspage's impact words (see ``panne.incidents.Severity``)."""
    return _IMPACTS.get(severity, "minor")
