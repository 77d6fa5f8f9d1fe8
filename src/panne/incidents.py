"""The incident life cycle, as pure state machines: ``(state, signal) -> (state, transitions)``.

Every evaluation tick the live loop hands each service's :class:`Signal` to :func:`step`; what
comes back is the new state (persisted with ``to_dict()``, so a restart neither repeats nor loses
an incident) and the transitions (stored as rows: the timeline, and what notifiers send). Each
company's service incidents then go to :func:`panne.incident_groups.group_step`, which keeps one
parent incident per company outage. Nothing here reads a clock or touches the store: times are
the epoch seconds passed in.

A service goes quiet → pending → open ⇄ recovering → resolved → quiet (or → pending → reopened).

- **pending**: the service is elevated (an alert, or a score at or above ``elevated_score``);
  ``elevated_since`` remembers where the run began, the onset estimate. Dropouts shorter than
  ``pending_grace_seconds`` do not break the run, so a flapping alert still adds up.
- **open**: the alert has held ``open_after_seconds`` in total within the run. Time is held
  between two consecutive ticks that both saw it, each gap counting at most
  ``max_tick_seconds``, so the downtime of a restart is never taken as evidence.
- **recovering**: no alert and a score under ``elevated_score`` (a lower bar than the alert:
  hysteresis). Quiet held ``resolve_after_seconds`` resolves the incident; its end is the first
  quiet tick, not the tick that confirmed it. Any elevated tick returns to open.
- **resolved**: kept for ``reopen_within_seconds`` so that a new run starting that soon reopens
  the same incident (same id) instead of opening another.

``updated`` is emitted only on news: the peak grew by half, severity rose, a country never
announced entered the top three, or a problem never announced became the top one; a ranking
counts only with a clear lead over the rival it passed (a tie, broken by the country code, is not
news), and nothing is news once the current rate is back near the usual one (the tallies, fed
by a trailing window, still move for minutes after reports stop).

Countries and problems arrive as counts over a trailing window, overlapping from tick to tick.
An incident seeds its tallies with the window at opening (the reports since the onset), then
adds the window's average rate times the time since the last counted tick (at most one window):
roughly the reports during the incident. The window's lag counts the first reports a little
more and the last ones a little less; ranks and shares, what readers use, are unaffected.

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

Phase = Literal["quiet", "pending", "open", "recovering", "resolved"]
IncidentStatus = Literal["open", "resolved"]
Severity = Literal["minor", "major", "critical"]  # the Statuspage impact words
Status = Literal["normal", "elevated", "outage"]  # what the API says of a service
TransitionKind = Literal["opened", "updated", "resolved", "reopened"]

PHASES: tuple[Phase, ...] = get_args(Phase)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)  # in rising order
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class Policy:
    """How patient the machine is. The defaults trade a few ticks of delay for calm timelines.

    The detector already refuses media bursts and judges an unfinished minute only on strength
    once a quarter of it has passed; the hold here only asks that an alert be seen on more than
    one tick, so it is short (benchmarks/live_delay.py: a hold of 60 s opened sharp outages'
    incidents 40 s later than 20 s does, for no fewer false ones). Resolution is slow and needs the
    score under the *elevated* threshold, lower than the one that opened the incident, so the
    tail of an outage does not close and reopen it.
    """

    open_after_seconds: float = 20.0  # the alert must have held this long to open
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
    update_rank_margin: float = 1.2  # a new top country or problem leads the one it passed so
    update_min_ratio: float = 2.0  # no news while the rate now is under this multiple of usual

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise ValueError(f"Policy.{name} must not be negative, got {value}")
        if not 0 < self.elevated_score <= 1:
            raise ValueError("Policy.elevated_score must be in (0, 1]")
        if self.update_peak_growth <= 1 or self.update_top_countries < 1:
            raise ValueError("Policy.update_peak_growth must exceed 1, top countries be ≥ 1")
        if self.update_rank_margin < 1:
            raise ValueError("Policy.update_rank_margin must be at least 1")
        if (
            self.major_ratio > self.critical_ratio
            or self.major_per_minute > self.critical_per_minute
        ):
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

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ValueError(f"Signal.window_seconds must be positive, got {self.window_seconds}")


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
    peak_per_minute: float  # the largest rate seen once open (a sharp rise peaks later)
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


# -- one service -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """What an incident accumulates beyond its snapshot, and what was last announced (so that
    ``updated`` fires on material news only)."""

    countries: dict[str, float]
    problems: dict[str, float]
    counted_at: float  # the last tick whose window was added
    announced_peak_per_minute: float
    announced_severity: Severity
    announced_countries: tuple[str, ...]  # every country announced in the top so far
    announced_problems: tuple[str, ...]  # every problem announced as the top one so far

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tally:
        return cls(
            **{
                **d,
                "countries": dict(d["countries"]),
                "problems": dict(d["problems"]),
                "announced_countries": tuple(d["announced_countries"]),
                "announced_problems": tuple(d["announced_problems"]),
            }
        )


@dataclass(frozen=True)
class ServiceState:
    """All a service's machine remembers between ticks; small, and JSON-able via to_dict()."""

    phase: Phase = "quiet"
    last_at: float | None = None  # the last tick seen: older or repeated ticks are ignored
    elevated_since: float | None = None  # onset estimate of the current run
    last_elevated_at: float | None = None
    alert_seconds: float = 0.0  # alert time held within the pending run
    last_alert_at: float | None = None
    quiet_since: float | None = None  # first quiet tick while recovering
    quiet_seconds: float = 0.0
    resolved_at: float | None = None
    incident: Incident | None = None  # open, or resolved and still within the reopen window
    tally: Tally | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["incident"] = self.incident.to_dict() if self.incident else None
        d["tally"] = self.tally.to_dict() if self.tally else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ServiceState:
        inc, tally = d.get("incident"), d.get("tally")
        return cls(
            **{
                **d,
                "incident": Incident.from_dict(inc) if inc else None,
                "tally": Tally.from_dict(tally) if tally else None,
            }
        )


def step(state: ServiceState, sig: Signal, policy: Policy) -> tuple[ServiceState, list[Transition]]:
    """Advance one service by one tick. A tick not newer than the last one changes nothing, so
    replaying a tick after a restart cannot repeat a transition."""
    if state.last_at is not None and sig.at <= state.last_at:
        return state, []
    elevated = sig.alert or sig.score >= policy.elevated_score
    if state.phase in ("open", "recovering"):
        return _while_open(state, sig, elevated, policy)
    return _while_closed(state, sig, elevated, policy)


def status_of(state: ServiceState, sig: Signal, policy: Policy) -> Status:
    """What the API shows, from the state *after* stepping with ``sig``: an outage while an
    incident is unresolved (as the incident list says), elevated while something is brewing."""
    if state.phase in ("open", "recovering"):
        return "outage"
    if state.phase == "pending" or sig.alert or sig.score >= policy.elevated_score:
        return "elevated"
    return "normal"


def _gap(state: ServiceState, sig: Signal, policy: Policy) -> float:
    """The time since the previous tick, as evidence: what both ticks saw held in between."""
    assert state.last_at is not None, "only called when a previous tick saw the same"
    return min(sig.at - state.last_at, policy.max_tick_seconds)


def _while_closed(
    state: ServiceState, sig: Signal, elevated: bool, policy: Policy
) -> tuple[ServiceState, list[Transition]]:
    in_run = (
        state.phase == "pending"
        and state.last_elevated_at is not None
        and sig.at - state.last_elevated_at <= policy.pending_grace_seconds
    )
    if not elevated:
        if in_run:
            return replace(state, last_at=sig.at), []
        if (
            state.incident is not None
            and state.resolved_at is not None
            and sig.at - state.resolved_at <= policy.reopen_within_seconds
        ):
            return ServiceState(
                "resolved",
                sig.at,
                resolved_at=state.resolved_at,
                incident=state.incident,
                tally=state.tally,
            ), []
        return ServiceState(last_at=sig.at), []

    if in_run and state.elevated_since is not None:
        since = state.elevated_since
    else:  # a new run: it began no earlier than the last tick that saw nothing
        since = min(sig.onset if sig.onset is not None else sig.at, sig.at)
        if state.last_at is not None:
            since = max(since, state.last_at)
    alert_since = state.last_alert_at if in_run else None
    if alert_since is not None and sig.at - alert_since > policy.pending_grace_seconds:
        alert_since = None  # the alert broke off: the run lives on, its alert time does not
    held = state.alert_seconds if alert_since is not None else 0.0
    if sig.alert and alert_since is not None and alert_since == state.last_at:
        held += _gap(state, sig, policy)
    pending = replace(
        state,
        phase="pending",
        last_at=sig.at,
        elevated_since=since,
        last_elevated_at=sig.at,
        alert_seconds=held,
        last_alert_at=sig.at if sig.alert else alert_since,
    )
    if not sig.alert or held < policy.open_after_seconds:
        return pending, []

    old, tally = state.incident, state.tally
    if (
        old is not None
        and tally is not None
        and state.resolved_at is not None
        and since - state.resolved_at <= policy.reopen_within_seconds
    ):
        inc, tally = _grow(replace(old, status="open", ended_at=None), tally, sig, policy)
        kind: TransitionKind = "reopened"
    else:
        inc, tally = _new(since, sig, policy)
        kind = "opened"
    opened = ServiceState(
        "open", sig.at, elevated_since=since, last_elevated_at=sig.at, incident=inc, tally=tally
    )
    return opened, [Transition(kind, sig.at, inc)]


def _while_open(
    state: ServiceState, sig: Signal, elevated: bool, policy: Policy
) -> tuple[ServiceState, list[Transition]]:
    inc, tally = state.incident, state.tally
    assert inc is not None and tally is not None, "an open phase always carries its incident"
    if elevated:
        inc, tally = _grow(inc, tally, sig, policy)
        out: list[Transition] = []
        now_ratio = sig.observed / max(sig.expected, policy.expected_floor_per_minute)
        news = _news(inc, tally, policy) if now_ratio >= policy.update_min_ratio else None
        if news is not None:
            tally = news
            out.append(Transition("updated", sig.at, inc))
        back = replace(
            state,
            phase="open",
            last_at=sig.at,
            last_elevated_at=sig.at,
            quiet_since=None,
            quiet_seconds=0.0,
            incident=inc,
            tally=tally,
        )
        return back, out

    if state.phase == "recovering" and state.quiet_since is not None:
        quiet_since = state.quiet_since
        quiet = state.quiet_seconds + _gap(state, sig, policy)
    else:
        quiet_since, quiet = sig.at, 0.0
    if quiet < policy.resolve_after_seconds:
        inc = replace(inc, duration_seconds=sig.at - inc.started_at)
        recovering = replace(
            state,
            phase="recovering",
            last_at=sig.at,
            quiet_since=quiet_since,
            quiet_seconds=quiet,
            incident=inc,
        )
        return recovering, []
    done = replace(
        inc,
        status="resolved",
        ended_at=quiet_since,
        duration_seconds=quiet_since - inc.started_at,
    )
    resolved = ServiceState("resolved", sig.at, resolved_at=sig.at, incident=done, tally=tally)
    return resolved, [Transition("resolved", sig.at, done)]


def _new(onset: float, sig: Signal, policy: Policy) -> tuple[Incident, Tally]:
    onset = max(onset, sig.at - policy.max_onset_lead_seconds)
    inc = Incident(
        id=f"{sig.service}-{int(onset)}",
        service=sig.service,
        group=sig.group,
        status="open",
        severity="minor",
        started_at=onset,
        detected_at=sig.at,
        ended_at=None,
        duration_seconds=0.0,
        peak_per_minute=0.0,
        peak_ratio=0.0,
        peak_at=sig.at,
        reports=0,
        countries=(),
        alert_countries=(),
        problems={},
    )
    seed = Tally(
        countries={},
        problems={},
        counted_at=sig.at - sig.window_seconds,  # so the first tick adds the whole window
        announced_peak_per_minute=0.0,
        announced_severity="minor",
        announced_countries=(),
        announced_problems=(),
    )
    grown, tally = _grow(inc, seed, sig, policy)
    return grown, _announce(grown, tally, policy)


def _grow(inc: Incident, tally: Tally, sig: Signal, policy: Policy) -> tuple[Incident, Tally]:
    """Fold one elevated tick into the incident."""
    weight = min(max(sig.at - tally.counted_at, 0.0), sig.window_seconds) / sig.window_seconds
    countries, problems = dict(tally.countries), dict(tally.problems)
    for c, n in sig.countries.items():
        countries[c] = countries.get(c, 0.0) + n * weight
    for p, n in sig.problems.items():
        problems[p] = problems.get(p, 0.0) + n * weight
    peak = sig.observed > inc.peak_per_minute
    per_minute = sig.observed if peak else inc.peak_per_minute
    ratio = sig.observed / max(sig.expected, policy.expected_floor_per_minute)
    peak_ratio = ratio if peak else inc.peak_ratio
    severity = max(inc.severity, severity_of(per_minute, peak_ratio, policy), key=SEVERITIES.index)
    grown = replace(
        inc,
        severity=severity,
        duration_seconds=sig.at - inc.started_at,
        peak_per_minute=per_minute,
        peak_ratio=peak_ratio,
        peak_at=sig.at if peak else inc.peak_at,
        reports=round(max(sum(problems.values()), sum(countries.values()))),
        countries=ranked(countries),
        alert_countries=inc.alert_countries
        + tuple(dict.fromkeys(c for c in sig.alert_countries if c not in inc.alert_countries)),
        problems=percentages(problems),
    )
    return grown, replace(tally, countries=countries, problems=problems, counted_at=sig.at)


def _top_countries(inc: Incident, policy: Policy) -> list[str]:
    floor = policy.update_country_share * inc.reports
    return [c for c, n in inc.countries[: policy.update_top_countries] if n >= floor]


def _announce(inc: Incident, tally: Tally, policy: Policy) -> Tally:
    top_problem = next(iter(inc.problems), None)
    return replace(
        tally,
        announced_peak_per_minute=inc.peak_per_minute,
        announced_severity=inc.severity,
        announced_countries=tuple(
            dict.fromkeys([*tally.announced_countries, *_top_countries(inc, policy)])
        ),
        announced_problems=tuple(
            dict.fromkeys([*tally.announced_problems, *([top_problem] if top_problem else [])])
        ),
    )


def _leads(value: float, rival: float, policy: Policy) -> bool:
    """Whether ``value`` is ahead of ``rival`` by a real margin, not a tie or a near tie."""
    return value > rival * policy.update_rank_margin if rival > 0 else value > 0


def _news(inc: Incident, tally: Tally, policy: Policy) -> Tally | None:
    """The tally with the news announced, or None when nothing material changed. Countries and
    problems count as news only once each, so two close rivals swapping ranks cannot flap, and
    only with a clear lead over the one they passed: the first outside the top for a country,
    the second for a problem."""
    counts = dict(inc.countries)
    beyond = policy.update_top_countries
    outside = inc.countries[beyond][1] if len(inc.countries) > beyond else 0
    shares = list(inc.problems.items())
    new_problem = bool(shares) and shares[0][0] not in tally.announced_problems
    material = (
        inc.peak_per_minute >= policy.update_peak_growth * tally.announced_peak_per_minute
        or SEVERITIES.index(inc.severity) > SEVERITIES.index(tally.announced_severity)
        or any(
            c not in tally.announced_countries and _leads(counts[c], outside, policy)
            for c in _top_countries(inc, policy)
        )
        or (new_problem and _leads(shares[0][1], shares[1][1] if len(shares) > 1 else 0, policy))
    )
    return _announce(inc, tally, policy) if material else None
