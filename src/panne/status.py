"""The current state of each service, as the pages, the API and the badges show it.

Read from what the detector role stored (open incidents, the last judged minutes), so any web
process can answer without running a detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select

from panne.store.schema import expectations, incidents

State = Literal["normal", "elevated", "outage"]
STATES: tuple[State, ...] = ("normal", "elevated", "outage")
ELEVATED_SCORE = 0.3  # the incident policy's elevated_score: p ≈ 2.5e-4
RECENT_MINUTES = 5


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    service: str
    state: State
    observed: int  # reports in the last judged minute
    expected: float  # what the baseline expected for it
    minute: int | None  # that minute's start (epoch seconds), None before any judgement
    incident_id: str | None = None
    since: int | None = None  # the open incident's estimated onset


def all_statuses(
    engine: Engine, slugs_by_id: dict[int, str], now: float
) -> dict[str, ServiceStatus]:
    """Every service's status in two queries (the home page shows them all)."""
    horizon = int(now // 60) * 60 - RECENT_MINUTES * 60
    with engine.connect() as conn:
        open_rows = conn.execute(
            select(incidents.c.id, incidents.c.service, incidents.c.started_at).where(
                incidents.c.status == "open", incidents.c.kind == "service"
            )
        ).all()
        recent = conn.execute(
            select(
                expectations.c.service_id,
                expectations.c.minute,
                expectations.c.observed,
                expectations.c.expected,
                expectations.c.score,
            )
            .where(expectations.c.minute >= horizon)
            .order_by(expectations.c.minute)
        ).all()
    latest: dict[int, tuple[int, int, float, float]] = {}
    elevated: set[int] = set()
    for sid, minute, observed, expected, score in recent:
        latest[sid] = (minute, observed, expected, score)
        if score >= ELEVATED_SCORE and observed > expected:
            elevated.add(sid)
    open_by_slug = {slug: (iid, started) for iid, slug, started in open_rows}
    out: dict[str, ServiceStatus] = {}
    for sid, slug in slugs_by_id.items():
        minute, observed, expected, _ = latest.get(sid, (None, 0, 0.0, 0.0))
        if slug in open_by_slug:
            iid, started = open_by_slug[slug]
            out[slug] = ServiceStatus(slug, "outage", observed, expected, minute, iid, started)
        else:
            state: State = "elevated" if sid in elevated else "normal"
            out[slug] = ServiceStatus(slug, state, observed, expected, minute)
    return out
