"""Gathering an incident's evidence from the store, for :func:`panne.fusion.fuse`.

The window is the incident's, widened ten minutes back: probes often fail before people notice
and report. Every table is read once for all of the incident's services (probes joined to their
state; results aggregated by probe and error class on the ``(probe_id, at)`` index; transitions
by probe; vendor state and events by service; mention counts joined to their judgements), never
once per probe, because the incident page and API call this on every view. ``mentions`` is None
when no post mentioned the incident's services in the window.

Evidence is public (the incident API, pages, feeds): a probe's target is shown as everywhere
else, without the ``user:password@`` an http target may carry (``probes.public_target``).
Paused probes are left out: the probe role no longer runs them, so their state is frozen where
they were paused and a "down" would count until the window ends, for ever.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from panne.clock import iso_utc, minute_of
from panne.detect.kernels import WARM_UP_MINUTES
from panne.fusion import (
    Fusion,
    MentionEvidence,
    ProbeEvidence,
    ReportEvidence,
    VendorEvidence,
    fuse,
    probe_cause,
)
from panne.mention_role import STATE_KEY as MENTION_STATE_KEY
from panne.signals.probes import public_target
from panne.store import mentions as mention_store
from panne.store.incidents import IncidentRecord
from panne.store.schema import (
    groups,
    probe_events,
    probe_results,
    probe_state,
    probes,
    services,
    vendor_events,
    vendor_states,
)

LEAD_SECONDS = 600  # probes often fail before people report


@dataclass(frozen=True, slots=True)
class Evidence:
    """What every signal said about one incident over ``[start, end]`` (epoch seconds)."""

    start: float
    end: float
    reports: ReportEvidence
    probes: list[ProbeEvidence]
    vendor: VendorEvidence | None
    mentions: MentionWindow | None  # None: no mention of the services in the window

    def fuse(self) -> Fusion:
        return fuse(self.reports, self.probes, self.vendor, self.mentions)


@dataclass(frozen=True, slots=True)
class MentionWindow(MentionEvidence):
    """Mentions as fusion weighs them, plus what the mention detector said of the window."""

    alert_minutes: int = 0  # minutes the mention detector alerted on
    total: int = 0  # posts in the window


def _mentions(engine: Engine, slugs: list[str], start: float, end: float) -> MentionWindow | None:
    """The peak minute of the services' summed mentions against what the detector expected of
    it; a peak minute not judged yet (the current one) is set against the window's highest
    expectation, so an ongoing burst still compares with the usual level. The usual level is
    a baseline only once the detector had learned its warm-up of every service mentioned."""
    rows = mention_store.window(engine, slugs, minute_of(start), int(end))
    if not rows:
        return None
    count: dict[int, int] = defaultdict(int)
    expected: dict[int, float] = {}
    alerts: set[int] = set()
    for r in rows:
        count[r.minute] += r.count
        if r.expected is not None:
            expected[r.minute] = expected.get(r.minute, 0.0) + r.expected
        if r.alert:
            alerts.add(r.minute)
    peak = max(count, key=lambda m: (count[m], m))
    usual = expected.get(peak, max(expected.values(), default=0.0))
    mentioned = sorted({r.service for r in rows})
    state = mention_store.load_state(engine, MENTION_STATE_KEY)
    return MentionWindow(
        peak_per_minute=float(count[peak]),
        usual_per_minute=round(usual, 3),
        baseline=_warm(state, mentioned, peak),
        alert_minutes=len(alerts),
        total=sum(count.values()),
    )


def _warm(state: dict[str, Any] | None, slugs: list[str], minute: int) -> bool:
    """Whether the mention detector had learned from ``WARM_UP_MINUTES`` minutes of each of
    ``slugs`` before judging ``minute``. Its saved state says how many it has learned from now
    (``seen``); a series learns from one minute at most per minute judged, so that count less
    the minutes judged since ``minute`` is a lower bound: a claim of warmth is never wrong."""
    if state is None:
        return False
    services = state.get("services") or {}
    since = max(0, (int(state.get("judged_until") or 0) - minute) // 60)
    return all(
        int((services.get(slug) or {}).get("seen", 0)) - since >= WARM_UP_MINUTES for slug in slugs
    )


def incident_services(incident: IncidentRecord) -> list[str]:
    """The services an incident covers: its own, or a group incident's members."""
    found = [incident.service] if incident.service else []
    return list(dict.fromkeys([*found, *incident.members]))


def _down_seconds(
    events: list[Any], state: str | None, since_ms: int | None, start_ms: int, end_ms: int
) -> float:
    """How long a probe was down inside the window, from its transitions in the window and its
    current state (a down that began before the window and is still on has no event in it)."""
    total = 0
    opened: int | None = None
    for ev in events:  # in order
        if ev.to_state == "down":
            opened = max(ev.since, start_ms)
        elif ev.from_state == "down":
            total += max(0, min(ev.since, end_ms) - (start_ms if opened is None else opened))
            opened = None
    if opened is not None:
        total += max(0, end_ms - opened)
    elif not events and state == "down" and since_ms is not None and since_ms <= end_ms:
        total += end_ms - max(since_ms, start_ms)
    return total / 1000


def _probes(engine: Engine, slugs: list[str], start_ms: int, end_ms: int) -> list[ProbeEvidence]:
    with engine.connect() as conn:
        defs = conn.execute(
            select(probes, probe_state.c.state, probe_state.c.since)
            .outerjoin(probe_state, probe_state.c.probe_id == probes.c.id)
            .where(probes.c.service.in_(slugs), probes.c.enabled.is_(True))
            .order_by(probes.c.id)
        ).all()
        ids = [d.id for d in defs]
        if not ids:
            return []
        in_window = probe_results.c.at.between(start_ms, end_ms)
        groups = conn.execute(
            select(
                probe_results.c.probe_id,
                probe_results.c.ok,
                probe_results.c.error_class,
                func.count().label("n"),
                func.min(probe_results.c.at).label("first"),
                func.max(probe_results.c.at).label("last"),
                func.max(probe_results.c.detail).label("sample"),
            )
            .where(probe_results.c.probe_id.in_(ids), in_window)
            .group_by(probe_results.c.probe_id, probe_results.c.ok, probe_results.c.error_class)
        ).all()
        events = conn.execute(
            select(probe_events)
            .where(probe_events.c.probe_id.in_(ids), probe_events.c.at.between(start_ms, end_ms))
            .order_by(probe_events.c.probe_id, probe_events.c.id)
        ).all()
    by_probe: dict[str, list[Any]] = defaultdict(list)
    for g in groups:
        by_probe[g.probe_id].append(g)
    events_of: dict[str, list[Any]] = defaultdict(list)
    for ev in events:
        events_of[ev.probe_id].append(ev)
    out: list[ProbeEvidence] = []
    for d in defs:
        rows = by_probe.get(d.id, [])
        fails = [g for g in rows if not g.ok]
        last = max(rows, key=lambda g: g.last, default=None)
        out.append(
            ProbeEvidence(
                probe_id=d.id,
                service=d.service,
                kind=d.kind,
                target=public_target(d.kind, d.target),
                state=d.state or "unknown",
                since=None if d.since is None else d.since / 1000,
                down_seconds=_down_seconds(
                    events_of.get(d.id, []), d.state, d.since, start_ms, end_ms
                ),
                checks=sum(int(g.n) for g in rows),
                failures={g.error_class or "other": int(g.n) for g in fails},
                sample={g.error_class or "other": str(g.sample) for g in fails},
                first_failure_at=min((g.first / 1000 for g in fails), default=None),
                last_at=None if last is None else last.last / 1000,
                last_ok=None if last is None else bool(last.ok),
                last_error=None if last is None else last.error_class,
            )
        )
    return out


def _vendor(engine: Engine, slugs: list[str], start_ms: int, end_ms: int) -> VendorEvidence | None:
    """The vendor page of the incident's first service that has one (a group's services share
    their company's page in practice, and one voice is enough for the cause)."""
    with engine.connect() as conn:
        states = {
            r.service: r
            for r in conn.execute(select(vendor_states).where(vendor_states.c.service.in_(slugs)))
        }
        chosen = next((s for s in slugs if s in states), None)
        if chosen is None:
            return None
        events = select(vendor_events.c.to_state, vendor_events.c.stale).where(
            vendor_events.c.service == chosen
        )
        # What the page showed as the window began: a page read "down" before the window
        # and gone stale inside it said "down" during the window, with no event to show it.
        before = conn.execute(
            events.where(vendor_events.c.at < start_ms).order_by(vendor_events.c.id.desc()).limit(1)
        ).all()
        window = conn.execute(
            events.where(vendor_events.c.at.between(start_ms, end_ms)).order_by(vendor_events.c.id)
        ).all()
        # The page speaks for the company ("Meta's status page"), else for the service.
        names = conn.execute(
            select(services.c.name, groups.c.name.label("company"))
            .outerjoin(groups, groups.c.slug == services.c.group_slug)
            .where(services.c.slug == chosen)
        ).first()
    row = states[chosen]
    return VendorEvidence(
        service=chosen,
        name=chosen if names is None else str(names.company or names.name),
        state=row.state,
        description=row.description,
        incidents=tuple(str(i.get("name", "")) for i in row.incidents if i.get("name")),
        stale=bool(row.stale),
        states_in_window=tuple(e.to_state for e in [*before, *window] if not e.stale),
        fetched_at=None if row.fetched_at is None else row.fetched_at / 1000,
    )


def evidence_for(engine: Engine, incident: IncidentRecord, now: float) -> Evidence:
    """Every signal's evidence for ``incident`` over ``[started_at − 10 min, ended_at or now]``."""
    start = float(incident.started_at - LEAD_SECONDS)
    end = float(incident.ended_at if incident.ended_at is not None else now)
    start_ms, end_ms = round(start * 1000), round(end * 1000)
    slugs = incident_services(incident)
    reports = ReportEvidence(
        incident.peak_per_minute, incident.peak_ratio, tuple(incident.countries)
    )
    return Evidence(
        start,
        end,
        reports,
        _probes(engine, slugs, start_ms, end_ms) if slugs else [],
        _vendor(engine, slugs, start_ms, end_ms) if slugs else None,
        _mentions(engine, slugs, start, end) if slugs else None,
    )


def probe_incident_cause(
    engine: Engine, service: str, start: float, end: float
) -> tuple[str, str] | None:
    """The cause, in English and French, that the text of an incident opened on probes alone
    gives (``incident_text``, notifications), from the service's probes over the incident's
    window as :func:`evidence_for` reads it: what the detector role stores in the incident's
    ``detail`` and its events' snapshots as ``cause`` and ``cause_fr``."""
    start_ms, end_ms = round((start - LEAD_SECONDS) * 1000), round(end * 1000)
    return probe_cause(_probes(engine, [service], start_ms, end_ms))


def evidence_json(evidence: Evidence) -> dict[str, Any]:
    """The ``evidence`` member of ``GET /api/v1/incidents/{id}`` (documented in docs/api.md)."""
    fusion = evidence.fuse()
    vendor, mentions = evidence.vendor, evidence.mentions
    return {
        "confidence": fusion.confidence,
        "cause": fusion.cause,
        "cause_fr": fusion.cause_fr,
        "signals": fusion.signals,
        "reports": {
            "peak_per_minute": evidence.reports.peak_per_minute,
            "peak_ratio": evidence.reports.peak_ratio,
            "countries": len(evidence.reports.countries),
        },
        "probes": [
            {
                "id": p.probe_id,
                "service": p.service,
                "kind": p.kind,
                "target": p.target,
                "state": p.state,
                "failing": p.failing,
                "down_seconds": p.down_seconds,
                "checks": p.checks,
                "failures": p.failures,
                "last_error": p.last_error,
            }
            for p in evidence.probes
        ],
        "vendor": None
        if vendor is None
        else {
            "service": vendor.service,
            "state": vendor.state,
            "worst_in_window": vendor.worst,
            "acknowledges": vendor.acknowledges,
            "stale": vendor.stale,
            "fetched_at": None if vendor.fetched_at is None else iso_utc(vendor.fetched_at),
            "description": vendor.description,
            "incidents": list(vendor.incidents),
        },
        "mentions": None
        if mentions is None
        else {
            "peak_per_minute": mentions.peak_per_minute,
            "usual_per_minute": mentions.usual_per_minute,
            "baseline": mentions.baseline,
            "elevated": mentions.elevated,
            "alert_minutes": mentions.alert_minutes,
            "posts": mentions.total,
        },
    }
