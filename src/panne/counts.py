"""Counting: steps, buckets and zero-filled series for any range of minutes.

The per-minute counts themselves are written by the store's writer in the same transaction as
the reports they count; this module turns stored buckets into the dense series that the API,
the pages and the detector read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

STEPS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86_400}
MAX_BUCKETS = 10_000
# Buckets are shown as ISO 8601 times, which cannot go before 1970 here (epoch seconds) nor past
# the year 9999: a request whose buckets would reach outside is refused, not answered with a 500.
EARLIEST = 0  # 1970-01-01T00:00:00Z
LATEST = 253_402_300_799  # 9999-12-31T23:59:59Z


class RangeError(ValueError):
    """A range or step the counts cannot be asked for; the message says which."""


def align(ts: float, step_seconds: int) -> int:
    return int(ts // step_seconds) * step_seconds


@dataclass(frozen=True, slots=True)
class CountSeries:
    """Dense counts: ``total[i]`` reports in the bucket starting at ``start + i * step``."""

    start: int
    step_seconds: int
    total: list[int]
    by: dict[str, list[int]] = field(default_factory=dict)

    def times(self) -> list[int]:
        return [self.start + i * self.step_seconds for i in range(len(self.total))]


_OUTSIDE = (
    "times must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z, "
    "whole buckets of the step included"
)


def plan(start: float, end: float, step: str) -> tuple[int, int, int]:
    """Check a request and return (first bucket, end bucket, step seconds)."""
    if step not in STEPS:
        raise RangeError(f"step must be one of {', '.join(STEPS)}")
    step_seconds = STEPS[step]
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RangeError(_OUTSIDE)
    if end <= start:
        raise RangeError("'to' must be after 'from'")
    first = align(start, step_seconds)
    last = math.ceil(end / step_seconds) * step_seconds
    if first < EARLIEST or last > LATEST:
        raise RangeError(_OUTSIDE)
    if (last - first) // step_seconds > MAX_BUCKETS:
        raise RangeError(f"at most {MAX_BUCKETS} buckets per request: use a larger step")
    return first, last, step_seconds


def densify(
    rows: list[tuple[int, str | None, int]], first: int, last: int, step_seconds: int
) -> CountSeries:
    """Zero-filled series from sparse (bucket, key, count) rows."""
    n = (last - first) // step_seconds
    total = [0] * n
    by: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    for bucket, key, count in rows:
        i = (bucket - first) // step_seconds
        if 0 <= i < n:
            total[i] += count
            if key is not None:
                by[key][i] += count
    ranked = dict(sorted(by.items(), key=lambda kv: -sum(kv[1])))
    return CountSeries(first, step_seconds, total, ranked)
