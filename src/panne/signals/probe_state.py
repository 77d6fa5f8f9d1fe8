"""Up and down, with hysteresis: a pure state machine ``(state, result) -> (state, transition)``.

One failed run is not an outage (a packet lost, a deploy's second of 502s): a probe goes down
after ``fail_after`` consecutive failed runs and comes back up after ``recover_after``
consecutive successes, like the incident machine in incidents.py. A new probe starts
``unknown``; its first success makes it up at once (there is no state to flap from) and its
first ``fail_after`` failures make it down.

The state is small and saved with the results it has seen, in one transaction
(store/probes.py), so a restart resumes the streaks: a transition is neither repeated nor lost.
A result not newer than the last one seen is ignored, so a batch delivered twice changes
nothing. ``since`` is when the current status began: the first run of the streak that caused
the transition, the onset an incident would report, not the run that confirmed it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, get_args

from panne.signals.probes import ErrorClass, ProbeResult

ProbeStatus = Literal["unknown", "up", "down"]
PROBE_STATUSES: tuple[ProbeStatus, ...] = get_args(ProbeStatus)


@dataclass(frozen=True, slots=True)
class ProbeState:
    probe_id: str
    status: ProbeStatus = "unknown"
    fail_streak: int = 0  # consecutive failed runs, up to the last one seen
    ok_streak: int = 0  # consecutive successful runs
    streak_since: float | None = None  # first run of the current streak
    since: float | None = None  # when the current status began
    last_at: float | None = None  # the last result taken into account


@dataclass(frozen=True, slots=True)
class ProbeTransition:
    """A change of status, stored as a row: what notifiers and incident fusion will claim."""

    probe_id: str
    at: float  # the result that confirmed it
    since: float  # the start of the streak that caused it
    from_status: ProbeStatus
    to_status: ProbeStatus
    error_class: ErrorClass | None
    detail: str


def step(
    state: ProbeState, result: ProbeResult, *, fail_after: int = 2, recover_after: int = 2
) -> tuple[ProbeState, ProbeTransition | None]:
    """The state after ``result``, and the transition it caused, if any."""
    if state.last_at is not None and result.at <= state.last_at:
        return state, None
    if result.ok:
        streak = state.ok_streak + 1
        start = state.streak_since if state.ok_streak else result.at
        new = replace(state, ok_streak=streak, fail_streak=0, streak_since=start)
        target: ProbeStatus | None = None
        if state.status == "unknown" or (state.status == "down" and streak >= recover_after):
            target = "up"
    else:
        streak = state.fail_streak + 1
        start = state.streak_since if state.fail_streak else result.at
        new = replace(state, fail_streak=streak, ok_streak=0, streak_since=start)
        target = "down" if state.status != "down" and streak >= fail_after else None
    new = replace(new, last_at=result.at)
    if target is None:
        return new, None
    assert start is not None
    transition = ProbeTransition(
        state.probe_id, result.at, start, state.status, target, result.error_class, result.detail
    )
    return replace(new, status=target, since=start), transition
