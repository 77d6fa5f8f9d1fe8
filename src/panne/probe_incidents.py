"""Incidents opened on probes alone, as a pure state machine: ``(state, facts) -> (state, made)``.

Crowd reports lag an outage, and a small service may have too few users to report at all; its
probes may still fail clearly. When they do (:func:`panne.fusion.probes_alone_warrant_incident`:
two probes down, or one down for three minutes) and the service has no open report incident,
the detector role opens a *probe incident*: severity minor, no countries or problems, peak 0,
its onset the earliest ``since`` of the probes down, its id ``<service>-p<onset epoch>`` (the
``p`` keeps it apart from the report machine's ``<service>-<onset>``).

- It **resolves** once no probe of the service has been down for the incident policy's
  ``resolve_after_seconds``; its end is the first tick that saw none down.
- It is **superseded** when the report machine opens (or reopens) an incident for the same
  service: at that same tick it resolves with ``superseded_by`` naming the report incident, so a
  service never has two open incidents, and the outage continues as the report incident (with
  its countries, problems and severity). Keeping two ids, rather than renaming the report
  incident, leaves the report machine and its stable ids untouched; the probe incident's
  timeline says where the story went on.
- While a report incident is open no probe incident opens. A new one never starts before the
  last tick a report or probe incident covered the service, so the same failing run cannot open
  an incident that duplicates what was already told, and an id is never reused.

Nothing here reads a clock or the store; the state is small and JSON-able (``to_dict``), saved
with the watcher's, so a restart neither repeats nor loses an opening or a resolution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from panne.fusion import ProbeEvidence, probes_alone_warrant_incident
from panne.incidents import Incident, Policy

ProbeIncidentKind = Literal["opened", "resolved"]


@dataclass(frozen=True, slots=True)
class ProbeFact:
    """One probe of the service as its stored state says now."""

    probe_id: str
    state: str  # up | down | unknown
    since: float | None  # when that state began (epoch seconds)

    @property
    def down(self) -> bool:
        return self.state == "down"


@dataclass(frozen=True, slots=True)
class ProbeIncidentTransition:
    kind: ProbeIncidentKind
    at: float
    incident: Incident
    probes: tuple[str, ...]  # the probes down when it opened
    superseded_by: str | None = None  # the report incident that took over


@dataclass(frozen=True)
class ProbeIncidentState:
    """One service's probe incident (None when there is none open) and what it remembers."""

    incident: Incident | None = None
    probes: tuple[str, ...] = ()  # the probes down when it opened
    quiet_since: float | None = None  # the first tick with no probe down, while open
    covered_until: float | None = None  # the last tick an incident covered the service
    last_id: str | None = None  # the last probe incident's id, never to be reused
    last_at: float | None = None  # the last tick seen

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident.to_dict() if self.incident else None,
            "probes": list(self.probes),
            "quiet_since": self.quiet_since,
            "covered_until": self.covered_until,
            "last_id": self.last_id,
            "last_at": self.last_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProbeIncidentState:
        inc = d.get("incident")
        return cls(
            incident=Incident.from_dict(inc) if inc else None,
            probes=tuple(d.get("probes", ())),
            quiet_since=d.get("quiet_since"),
            covered_until=d.get("covered_until"),
            last_id=d.get("last_id"),
            last_at=d.get("last_at"),
        )


def evidence(service: str, facts: Sequence[ProbeFact], now: float) -> list[ProbeEvidence]:
    """The facts as fusion weighs them: a probe down now has been down since its ``since``."""
    return [
        ProbeEvidence(
            probe_id=f.probe_id,
            service=service,
            kind="",
            target="",
            state=f.state,
            since=f.since,
            down_seconds=max(now - (f.since if f.since is not None else now), 0.0)
            if f.down
            else 0.0,
        )
        for f in facts
    ]


def probe_step(
    state: ProbeIncidentState,
    facts: Sequence[ProbeFact],
    report_incident: str | None,
    now: float,
    *,
    service: str,
    group: str | None = None,
    policy: Policy | None = None,
) -> tuple[ProbeIncidentState, list[ProbeIncidentTransition]]:
    """Advance one service's probe incident by one tick.

    ``facts`` are the service's probes now, ``report_incident`` the id of its open (or
    recovering) report incident, if any. A tick not newer than the last one changes nothing.
    """
    if state.last_at is not None and now <= state.last_at:
        return state, []
    policy = policy or Policy()
    down = [f for f in facts if f.down]
    inc = state.incident

    if report_incident is not None:  # the crowd has it: nothing to open, anything open ends
        after = replace(state, incident=None, probes=(), quiet_since=None, last_at=now)
        after = replace(after, covered_until=now)
        if inc is None:
            return after, []
        done = _end(inc, now)
        return after, [
            ProbeIncidentTransition("resolved", now, done, state.probes, report_incident)
        ]

    if inc is not None:
        if down:
            grown = replace(inc, duration_seconds=now - inc.started_at)
            return replace(state, incident=grown, quiet_since=None, last_at=now), []
        quiet_since = state.quiet_since if state.quiet_since is not None else now
        if now - quiet_since < policy.resolve_after_seconds:
            grown = replace(inc, duration_seconds=now - inc.started_at)
            return replace(state, incident=grown, quiet_since=quiet_since, last_at=now), []
        done = _end(inc, quiet_since)
        after = replace(
            state, incident=None, probes=(), quiet_since=None, covered_until=now, last_at=now
        )
        return after, [ProbeIncidentTransition("resolved", now, done, state.probes)]

    if not down or not probes_alone_warrant_incident(evidence(service, facts, now)):
        return replace(state, last_at=now), []
    onset = min(f.since if f.since is not None else now for f in down)
    if state.covered_until is not None:
        onset = max(onset, state.covered_until)
    onset = min(onset, now)
    iid = f"{service}-p{int(onset)}"
    if iid == state.last_id:
        onset = float(int(onset) + 1)
        iid = f"{service}-p{int(onset)}"
    opened = Incident(
        id=iid,
        service=service,
        group=group,
        status="open",
        severity="minor",
        started_at=onset,
        detected_at=now,
        ended_at=None,
        duration_seconds=now - onset,
        peak_per_minute=0.0,
        peak_ratio=0.0,
        peak_at=now,
        reports=0,
        countries=(),
        alert_countries=(),
        problems={},
    )
    ids = tuple(f.probe_id for f in down)
    after = ProbeIncidentState(opened, ids, None, state.covered_until, last_id=iid, last_at=now)
    return after, [ProbeIncidentTransition("opened", now, opened, ids)]


def _end(inc: Incident, at: float) -> Incident:
    return replace(inc, status="resolved", ended_at=at, duration_seconds=at - inc.started_at)
