"""The incident life cycle, as a pure state machine: (state, signal) -> (state, transitions).

Every evaluation tick the live loop hands each service's :class:`Signal` to :func:`step`; what
comes back is the new state (saved, so a restart neither repeats nor loses an incident) and
the transitions (stored as rows: the timeline, and what notifiers send).

Hysteresis keeps the story calm: an incident opens once the detector's alert has held for
``open_after_seconds``; it resolves only after ``resolve_after_seconds`` without an alert or an
elevated score, and ends when it went quiet (not when that was confirmed); an alert soon after
resolving reopens the same incident instead of a new one. ``updated`` is emitted only when
something a reader cares about changes: the peak grew by half, the top country or problem
changed, or the severity rose.

Sibling services of one company failing together form a parent incident
(:class:`GroupTracker`): "Meta: Facebook, Instagram, Threads, Messenger".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Phase = Literal["quiet", "pending", "open", "recovering"]
Severity = Literal["minor", "major", "critical"]
SEVERITIES: tuple[Severity, ...] = ("minor", "major", "critical")
TRANSITIONS = ("opened", "updated", "resolved", "reopened")
GROUP_TRANSITIONS = ("opened", "member_added", "resolved")


@dataclass(frozen=True)
class Policy:
    open_after_seconds: float = 20.0  # the alert must hold this long (two ticks)
    elevated_score: float = 0.3  # below it (and without an alert) a service is quiet
    elevated_ratio: float = 1.5
    resolve_after_seconds: float = 900.0
    reopen_within_seconds: float = 900.0  # counted from the resolution, not the end
    expected_floor: float = 1.0  # reports a minute: ratios over tiny expectations mean little


@dataclass(frozen=True)
class Signal:
    service: str
    group: str | None
    at: float
    observed: float  # reports per minute now
    expected: float
    score: float
    alert: bool
    countries: Mapping[str, int] = field(default_factory=dict)  # recent window
    alert_countries: tuple[str, ...] = ()
    problems: Mapping[str, int] = field(default_factory=dict)
    onset: float | None = None  # start of the minute that looked elevated, if before ``at``


@dataclass(frozen=True)
class Incident:
    id: str
    service: str
    group: str | None
    status: Literal["open", "resolved"]
    started_at: float  # estimated onset: the start of the elevated run that led to it
    detected_at: float
    ended_at: float | None
    peak_per_minute: float
    peak_ratio: float
    peak_at: float
    severity: Severity
    countries: dict[str, float]  # accumulated reports per country
    alert_countries: tuple[str, ...]
    problems: dict[str, float]

    def ranked_countries(self) -> list[tuple[str, int]]:
        return [(c, round(n)) for c, n in sorted(self.countries.items(), key=lambda kv: -kv[1])]

    def problem_percent(self) -> dict[str, float]:
        return percentages(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Incident:
        return cls(**{**d, "alert_countries": tuple(d["alert_countries"])})


@dataclass(frozen=True)
class Transition:
    kind: str  # one of TRANSITIONS
    at: float
    incident: Incident


@dataclass(frozen=True)
class ServiceState:
    phase: Phase = "quiet"
    elevated_since: float | None = None
    alert_since: float | None = None
    quiet_since: float | None = None
    incident: Incident | None = None  # open, or the last resolved one (for reopening)
    reported: Incident | None = None  # as last announced: what "material" is measured from

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["incident"] = self.incident.to_dict() if self.incident else None
        d["reported"] = self.reported.to_dict() if self.reported else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ServiceState:
        inc, rep = d.get("incident"), d.get("reported")
        return cls(
            **{
                **d,
                "incident": Incident.from_dict(inc) if inc else None,
                "reported": Incident.from_dict(rep) if rep else None,
            }
        )


def percentages(weights: Mapping[str, float]) -> dict[str, float]:
    """Shares in percent, one decimal, summing to exactly 100 (largest remainder)."""
    total = sum(weights.values())
    if total <= 0:
        return {}
    raw = {k: v * 1000 / total for k, v in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    left = 1000 - sum(out.values())
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[:left]:
        out[k] += 1
    return {k: v / 10 for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v}


def severity_of(peak_per_minute: float, peak_ratio: float) -> Severity:
    """Critical: a many-fold surge with volume; major: a clear multiple; else minor."""
    if peak_ratio >= 20 and peak_per_minute >= 100:
        return "critical"
    if peak_ratio >= 5 and peak_per_minute >= 10:
        return "major"
    return "minor"


def _ratio(sig: Signal, policy: Policy) -> float:
    return sig.observed / max(sig.expected, policy.expected_floor)


def _grow(inc: Incident, sig: Signal, policy: Policy) -> Incident:
    ratio = _ratio(sig, policy)
    peak = sig.observed > inc.peak_per_minute
    countries = dict(inc.countries)
    for c, n in sig.countries.items():
        countries[c] = countries.get(c, 0.0) + n
    problems = dict(inc.problems)
    for p, n in sig.problems.items():
        problems[p] = problems.get(p, 0.0) + n
    alerted = inc.alert_countries + tuple(
        c for c in sig.alert_countries if c not in inc.alert_countries
    )
    per_minute = max(inc.peak_per_minute, sig.observed)
    peak_ratio = max(inc.peak_ratio, ratio)
    return replace(
        inc,
        peak_per_minute=per_minute,
        peak_ratio=peak_ratio,
        peak_at=sig.at if peak else inc.peak_at,
        severity=max(inc.severity, severity_of(per_minute, peak_ratio), key=SEVERITIES.index),
        countries=countries,
        alert_countries=alerted,
        problems=problems,
    )


def _material(old: Incident, new: Incident, reported: Incident) -> bool:
    def top(d: Mapping[str, float], n: int) -> list[str]:
        return [k for k, _ in sorted(d.items(), key=lambda kv: -kv[1])[:n]]

    return (
        new.peak_per_minute >= 1.5 * reported.peak_per_minute
        or SEVERITIES.index(new.severity) > SEVERITIES.index(reported.severity)
        or top(new.countries, 1) != top(reported.countries, 1)
        or top(new.problems, 1) != top(reported.problems, 1)
    ) and new != old


def step(state: ServiceState, sig: Signal, policy: Policy) -> tuple[ServiceState, list[Transition]]:
    """Advance one service by one tick."""
    elevated = sig.alert or (
        sig.score >= policy.elevated_score and _ratio(sig, policy) >= policy.elevated_ratio
    )
    inc = state.incident
    if state.phase in ("quiet", "pending"):
        if not elevated:
            return ServiceState(incident=inc), []
        first = sig.onset if sig.onset is not None else sig.at
        since = state.elevated_since if state.elevated_since is not None else first
        alert_since = (
            state.alert_since if state.alert_since is not None else (sig.at if sig.alert else None)
        )
        if not sig.alert or alert_since is None or sig.at - alert_since < policy.open_after_seconds:
            return ServiceState("pending", since, alert_since if sig.alert else None, None, inc), []
        if (
            inc is not None
            and inc.ended_at is not None
            and sig.at - inc.ended_at <= policy.resolve_after_seconds + policy.reopen_within_seconds
        ):
            again = _grow(replace(inc, status="open", ended_at=None), sig, policy)
            return ServiceState("open", inc.started_at, alert_since, None, again, again), [
                Transition("reopened", sig.at, again)
            ]
        opened = Incident(
            id=f"{sig.service}-{int(since)}",
            service=sig.service,
            group=sig.group,
            status="open",
            started_at=since,
            detected_at=sig.at,
            ended_at=None,
            peak_per_minute=0.0,
            peak_ratio=0.0,
            peak_at=sig.at,
            severity="minor",
            countries={},
            alert_countries=(),
            problems={},
        )
        opened = _grow(opened, sig, policy)
        return ServiceState("open", since, alert_since, None, opened, opened), [
            Transition("opened", sig.at, opened)
        ]
    assert inc is not None
    grown = _grow(inc, sig, policy) if elevated else inc
    out: list[Transition] = []
    reported = state.reported or inc
    if _material(inc, grown, reported):
        out.append(Transition("updated", sig.at, grown))
        reported = grown
    if elevated:
        return ServiceState(
            "open", state.elevated_since, state.alert_since, None, grown, reported
        ), out
    quiet_since = state.quiet_since if state.quiet_since is not None else sig.at
    if sig.at - quiet_since < policy.resolve_after_seconds:
        return ServiceState(
            "recovering", state.elevated_since, None, quiet_since, grown, reported
        ), out
    done = replace(grown, status="resolved", ended_at=quiet_since)
    return ServiceState(incident=done), [*out, Transition("resolved", sig.at, done)]


@dataclass(frozen=True)
class GroupIncident:
    id: str
    group: str
    status: Literal["open", "resolved"]
    members: tuple[str, ...]  # service slugs, in the order they joined
    started_at: float
    detected_at: float
    ended_at: float | None
    peak_per_minute: float
    peak_ratio: float
    severity: Severity
    countries: dict[str, float]
    problems: dict[str, float]

    def title(self, names: Mapping[str, str], group_name: str) -> str:
        return f"{group_name}: {', '.join(names.get(m, m) for m in self.members)}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupIncident:
        return cls(**{**d, "members": tuple(d["members"])})


@dataclass(frozen=True)
class GroupTransition:
    kind: str  # one of GROUP_TRANSITIONS
    at: float
    incident: GroupIncident


def group_step(
    current: GroupIncident | None, group: str, open_children: Sequence[Incident], at: float
) -> tuple[GroupIncident | None, list[GroupTransition]]:
    """Two or more open incidents of one company's services make (or grow) a parent incident;
    it resolves when its last child does."""
    if current is None:
        if len(open_children) < 2:
            return None, []
        made = _merge(None, group, open_children, at)
        return made, [GroupTransition("opened", at, made)]
    if not open_children:
        done = replace(current, status="resolved", ended_at=at)
        return None, [GroupTransition("resolved", at, done)]
    merged = _merge(current, group, open_children, at)
    if len(merged.members) > len(current.members):
        return merged, [GroupTransition("member_added", at, merged)]
    return merged, []


def _merge(
    current: GroupIncident | None, group: str, children: Sequence[Incident], at: float
) -> GroupIncident:
    members = list(current.members) if current else []
    members += [
        c.service for c in sorted(children, key=lambda c: c.started_at) if c.service not in members
    ]
    countries: dict[str, float] = {}
    problems: dict[str, float] = {}
    for c in children:
        for k, v in c.countries.items():
            countries[k] = countries.get(k, 0.0) + v
        for k, v in c.problems.items():
            problems[k] = problems.get(k, 0.0) + v
    started = min([c.started_at for c in children] + ([current.started_at] if current else []))
    peak = max(
        [c.peak_per_minute for c in children] + ([current.peak_per_minute] if current else [])
    )
    ratio = max([c.peak_ratio for c in children] + ([current.peak_ratio] if current else []))
    return GroupIncident(
        id=current.id if current else f"{group}-{int(started)}",
        group=group,
        status="open",
        members=tuple(members),
        started_at=started,
        detected_at=current.detected_at if current else at,
        ended_at=None,
        peak_per_minute=peak,
        peak_ratio=ratio,
        severity=max((c.severity for c in children), key=SEVERITIES.index),
        countries=countries,
        problems=problems,
    )
