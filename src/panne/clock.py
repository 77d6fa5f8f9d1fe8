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


def utc(ts: float) -> datetime:
    """An aware UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(ts, tz=UTC)


def iso_utc(ts: float) -> str:
    """ISO 8601 in UTC with a ``Z``, as the APIs, feeds and messages write times."""
    return utc(ts).isoformat().replace("+00:00", "Z")


def minute_of(ts: float) -> int:
    """The epoch second at which the minute containing ``ts`` starts."""
    return int(ts // 60) * 60
