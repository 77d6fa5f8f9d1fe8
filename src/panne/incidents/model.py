"""The values the incident machine takes and gives: its vocabulary, policy, input and records.

Everything here is a frozen value that turns into JSON-able dicts and back, because the caller
stores every transition as a row and persists the machine's state between ticks and restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Phase = Literal["quiet", "pending", "open", "recovering", "resolved"]
IncidentStatus = Literal["open", "resolved"]
Severity = Literal["minor", "major", "critical"]  # the Statuspage impact words
Status = Literal["normal", "elevated", "outage"]  # what the API says of a service
TransitionKind = Literal["opened", "updated", "resolved", "reopened"]
GroupTransitionKind = Literal["opened", "member_added", "resolved"]

PHASES: tuple[Phase, ...] = get_args(Phase)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)  # in rising order
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class Policy:
    """How patient the machine is. The defaults trade a minute of delay for calm timelines.

    The detector already refuses media bursts; the hold here only absorbs the noise of judging
    an unfinished minute every ten seconds, so it is short. Resolution is slow and needs the
    score under the *elevated* threshold, lower than the one that opened the incident, so the
    tail of an outage does not close and reopen it.
    """

    open_after_seconds: float = 60.0  # the alert must have held this long to open
    elevated_score: float = 0.3  # at or above it a service is elevated (p ≈ 2.5e-4)
    pending_grace_seconds: float = 60.0  # a pending run survives dropouts this short
    resolve_after_seconds: float = 900.0  # quiet (no alert, score under elevated) this long
    reopen_within_seconds: float = 900.0  # a new run starting this soon after resolution reopens
    max_onset_lead_seconds: float = 3600.0  # the onset is at most this long before detection
    max_tick_seconds: float = 60.0  # a longer gap between ticks (a restart) is unknown time
    expected_floor_per_minute: float = 1.0  # ratios over tiny expectations mean little
    major_ratio: float = 5.0  # major: at least this multiple of the expected rate ...
    major_per_minute: float = 10.0  # ... and at least this many reports a minute
    critical_ratio: float = 20.0  # critical: likewise, far beyond
    critical_per_minute: float = 100.0
    update_peak_growth: float = 1.5  # "updated" when the peak reaches this multiple of the last
    update_top_countries: int = 3  # ... or a new country enters this top ...
    update_country_share: float = 0.05  # ... holding at least this share of the reports

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise ValueError(f"Policy.{name} must not be negative, got {value}")
        if not 0 < self.elevated_score <= 1:
            raise ValueError("Policy.elevated_score must be in (0, 1]")
        if self.update_peak_growth <= 1 or self.update_top_countries < 1:
            raise ValueError("Policy.update_peak_growth must exceed 1, top countries be ≥ 1")
        if self.major_ratio > self.critical_ratio or self.major_per_minute > self.critical_per_minute:
            raise ValueError("Policy: major thresholds must not exceed critical ones")


@dataclass(frozen=True)
class Signal:
    """One service at one evaluation tick, as the detector and the counts see it."""

    service: str
    group: str | None  # company slug from the catalog, e.g. "meta"
    at: float  # epoch seconds of this evaluation
    observed: float  # reports per minute now (maybe the unfinished minute, scaled)
    expected: float  # the baseline's expected reports per minute
    score: float  # detector score in [0, 1]
    alert: bool  # the detector's verdict for this tick
    countries: Mapping[str, int] = field(default_factory=dict)  # reports in the window
    alert_countries: tuple[str, ...] = ()  # countries whose share series alert, worst first
    problems: Mapping[str, int] = field(default_factory=dict)  # reports in the window
    # The earliest time the data behind this judgement covers (e.g. the start of the minute
    # that first looked elevated): a run's onset can precede the tick that saw it.
    onset: float | None = None
    window_seconds: float = 900.0  # the span ``countries`` and ``problems`` count over


@dataclass(frozen=True)
class Incident:
    """A service incident as it stands at one tick: what a row and a notification show."""

    id: str  # "<service>-<onset epoch seconds>": stable across restarts, unique per service
    service: str
    group: str | None
    status: IncidentStatus
    severity: Severity
    started_at: float  # estimated onset: the start of the elevated run that led to it
    detected_at: float  # the tick that opened it
    ended_at: float | None  # the first quiet tick of the quiet spell that resolved it
    duration_seconds: float  # to ended_at, or to this snapshot's tick while open
    peak_per_minute: float
    peak_ratio: float  # observed / max(expected, floor) at the peak
    peak_at: float
    reports: int  # estimated reports during the incident
    countries: tuple[tuple[str, int], ...]  # estimated reports per country, most first
    alert_countries: tuple[str, ...]  # every country whose own series alerted, first seen first
    problems: Mapping[str, float]  # percent, one decimal, summing to 100 (or empty)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["countries"] = [list(c) for c in self.countries]
        d["alert_countries"] = list(self.alert_countries)
        d["problems"] = dict(self.problems)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Incident:
        return cls(
            **{
                **d,
                "countries": tuple((str(c), int(n)) for c, n in d["countries"]),
                "alert_countries": tuple(d["alert_countries"]),
                "problems": dict(d["problems"]),
            }
        )


@dataclass(frozen=True)
class Transition:
    """A moment of an incident's timeline, stored as a row for the notifiers to claim."""

    kind: TransitionKind
    at: float
    incident: Incident

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "incident": self.incident.to_dict()}


def percentages(weights: Mapping[str, float]) -> dict[str, float]:
    """Shares in percent with one decimal that sum to exactly 100 (largest remainder), most
    first; empty when there is nothing to share. Rounding each share alone can sum to 99.9."""
    total = sum(v for v in weights.values() if v > 0)
    if total <= 0:
        return {}
    raw = {k: v * 1000 / total for k, v in weights.items() if v > 0}
    tenths = {k: int(v) for k, v in raw.items()}
    left = 1000 - sum(tenths.values())
    for k in sorted(raw, key=lambda k: (tenths[k] - raw[k], k))[:left]:
        tenths[k] += 1
    ranked = sorted(tenths.items(), key=lambda kv: (-kv[1], kv[0]))
    return {k: v / 10 for k, v in ranked if v}


def ranked(counts: Mapping[str, float]) -> tuple[tuple[str, int], ...]:
    """Estimated counts rounded to whole reports, most first (code breaks ties, so the order
    is the same after a restart); entries that round to nothing are left out."""
    out = sorted(((k, round(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    return tuple((k, n) for k, n in out if n > 0)


def severity_of(peak_per_minute: float, peak_ratio: float, policy: Policy) -> Severity:
    """Critical or major need both a multiple of the usual rate and real volume: a tiny
    service going from 1 to 30 reports a minute is serious for it, but not critical news."""
    if peak_ratio >= policy.critical_ratio and peak_per_minute >= policy.critical_per_minute:
        return "critical"
    if peak_ratio >= policy.major_ratio and peak_per_minute >= policy.major_per_minute:
        return "major"
    return "minor"
