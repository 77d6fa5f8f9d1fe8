"""One service's incident life cycle: ``step(state, signal, policy) -> (state, transitions)``.

quiet → pending → open ⇄ recovering → resolved → quiet (or → pending → reopened).

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

Countries and problems arrive as counts over a trailing window, overlapping from tick to tick.
The incident seeds its tallies with the window at opening (the reports since the onset), then
adds the window's average rate times the time since the last counted tick (at most one window):
roughly the reports during the incident. The window's lag counts the first reports a little
more and the last ones a little less; ranks and shares, what readers use, are unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from panne.incidents.model import (
    SEVERITIES,
    Incident,
    Phase,
    Policy,
    Severity,
    Signal,
    Status,
    Transition,
    TransitionKind,
    percentages,
    ranked,
    severity_of,
)


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
        news = _news(inc, tally, policy)
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


def _news(inc: Incident, tally: Tally, policy: Policy) -> Tally | None:
    """The tally with the news announced, or None when nothing material changed. Countries and
    problems count as news only once each, so two close rivals swapping ranks cannot flap."""
    top_problem = next(iter(inc.problems), None)
    material = (
        inc.peak_per_minute >= policy.update_peak_growth * tally.announced_peak_per_minute
        or SEVERITIES.index(inc.severity) > SEVERITIES.index(tally.announced_severity)
        or any(c not in tally.announced_countries for c in _top_countries(inc, policy))
        or (top_problem is not None and top_problem not in tally.announced_problems)
    )
    return _announce(inc, tally, policy) if material else None
