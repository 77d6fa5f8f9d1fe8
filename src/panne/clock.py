"""The one source of "now".

Nothing else in panne reads the wall clock: live code gets a :class:`SystemClock`, tests a
:class:`ManualClock` they move by hand, and replays (``panne simulate --speed``) a
:class:`ScaledClock` that runs hours in seconds. Times are UTC epoch seconds (floats) because every
stage buckets by minute and integers of seconds are cheap to compare.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in UTC epoch seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: deterministic tests without sleeping."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, when: float) -> None:
        self._now = float(when)

    def advance(self, seconds: float) -> None:
        self._now += seconds


class ScaledClock:
    """Simulated time running ``speed`` times faster than real time from ``start``."""

    def __init__(self, start: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = float(start)
        self._speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self._speed


# The times a person may give panne (a maintenance window, a query): wide enough for any real
# plan, narrow enough that every reader can format them (``datetime`` ends with year 9999).
EARLIEST_INPUT = 946_684_800  # 2000-01-01T00:00:00Z
LATEST_INPUT = 253_402_300_799  # 9999-12-31T23:59:59Z
_FIRST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00Z, the first one ``datetime`` can hold


def utc(ts: float) -> datetime:
    """An aware UTC datetime for epoch seconds. A time beyond what ``datetime`` holds (a row
    stored before inputs were checked) is shown at the nearest end rather than raising, so one
    bad row cannot break every page that lists it."""
    return datetime.fromtimestamp(min(max(ts, _FIRST_SECOND), LATEST_INPUT), tz=UTC)


def clamp_input(ts: float) -> int:
    """``ts`` moved into [EARLIEST_INPUT, LATEST_INPUT]: what readers of stored, person-given
    times apply, so rows written before the range was enforced read as the nearest sane time."""
    return int(min(max(ts, EARLIEST_INPUT), LATEST_INPUT))


def iso_utc(ts: float) -> str:
    """ISO 8601 in UTC with a ``Z``, as the APIs, feeds and messages write times."""
    return utc(ts).isoformat().replace("+00:00", "Z")


def minute_of(ts: float) -> int:
    """The epoch second at which the minute containing ``ts`` starts."""
    return int(ts // 60) * 60
