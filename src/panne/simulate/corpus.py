"""A labelled corpus for scoring detectors: many series, weeks long, every difficulty at once.

Series range from a few reports a day to thousands a minute; they grow or shrink, cross a DST
change, have a holiday, lose data for hours (collector gaps, marked -1), take harmless media
bursts (2-4x for 2-4 minutes) and real outages of three kinds, each labelled.
"""

from __future__ import annotations

import calendar
import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from panne.simulate.outages import Event, Outage
from panne.simulate.traffic import CODES, Rhythm, dst_changes

TOP_COUNTRIES = 5
# Start dates: two cross DST changes (US and EU, spring and autumn), one does not.
STARTS = (
    calendar.timegm((2024, 3, 1, 0, 0, 0)),
    calendar.timegm((2024, 10, 14, 0, 0, 0)),
    calendar.timegm((2024, 5, 6, 0, 0, 0)),
)


@dataclass
class SeriesCase:
    name: str
    service: str
    start: float
    step_seconds: int
    counts: np.ndarray  # int64 per minute, -1 where the collector was down
    by_country: dict[str, np.ndarray] = field(default_factory=dict)
    outages: list[Outage] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _tier(base: float) -> str:
    return "tiny" if base < 0.05 else "small" if base < 2 else "medium" if base < 100 else "huge"


def _one(k: int, rng: np.random.Generator, weeks: int) -> SeriesCase:
    minutes = weeks * 7 * 1440
    start = float(STARTS[k % len(STARTS)])
    ts = start + np.arange(minutes, dtype=np.float64) * 60.0 + 30.0
    base = float(10 ** rng.uniform(np.log10(0.005), np.log10(2000)))
    order = rng.permutation(12)[:TOP_COUNTRIES]
    codes = tuple(CODES[i] for i in sorted(order))
    rhythm = Rhythm(codes)
    weights = rng.dirichlet(np.full(len(codes), 2.0))
    share = 0.6  # the top countries' share of all reports; the rest is spread thin
    growth = np.exp(rng.uniform(-0.3, 0.4) * (ts - start) / (ts[-1] - start))
    expected = base * share * rhythm.activity(ts) * weights * growth[:, None]
    rest = base * (1 - share) * rhythm.activity(ts).mean(axis=1) * growth
    service = f"svc-{k:03d}"
    events: list[Event] = []
    holiday = start + 86_400 * int(rng.integers(8, weeks * 7 - 1))
    events.append(Event("holiday", holiday, holiday + 86_400, service))
    hol = (ts >= holiday) & (ts < holiday + 86_400)
    expected[hol] *= 0.8
    rest[hol] *= 0.8
    events += [Event("dst", t, t, service) for t, _ in dst_changes(start, start + minutes * 60)]

    extra = np.zeros_like(expected)
    outages: list[Outage] = []
    taken: list[tuple[float, float]] = []
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["sharp", "sharp", "slow_burn", "single_country"]))
        for _attempt in range(20):
            t0 = start + 60.0 * int(rng.integers(3 * 1440, minutes - 300))
            length = 60.0 * int(
                rng.integers(30, 150) if kind != "slow_burn" else rng.integers(90, 200)
            )
            if all(t0 > b + 7200 or t0 + length < a - 7200 for a, b in taken):
                break
        taken.append((t0, t0 + length))
        total_now = expected + rest[:, None] / len(codes)
        if kind == "single_country":
            c = int(rng.integers(0, len(codes)))
            o = Outage(service, kind, t0, t0 + length, (codes[c],), {"login": 1.0},
                       float(rng.uniform(10, 40)), floor_per_minute=1.5)  # fmt: skip
            level = o.profile(ts)
            extra[:, c] += level * np.maximum(o.peak_ratio * expected[:, c], o.floor_per_minute)
        else:
            ratio = float(rng.uniform(3, 6) if kind == "slow_burn" else rng.uniform(5, 30))
            floor = 1.0 if kind == "slow_burn" else 2.0
            o = Outage(service, kind, t0, t0 + length, codes, {"login": 1.0}, ratio,
                       floor_per_minute=floor)  # fmt: skip
            level = o.profile(ts)
            peak = np.maximum(ratio * total_now.sum(axis=1), floor)
            extra += (level * peak)[:, None] * weights
        outages.append(o)
    for _ in range(int(rng.integers(1, 4))):
        t0 = start + 60.0 * int(rng.integers(1440, minutes - 10))
        n = int(rng.integers(2, 5))
        events.append(Event("media_burst", t0, t0 + n * 60, service))
        sel = (ts >= t0) & (ts < t0 + n * 60)
        extra[sel] += (expected[sel] + rest[sel, None] / len(codes)) * float(rng.uniform(1, 3))

    noisy = rng.gamma(8.0, (expected + extra + 1e-12) / 8.0)
    by = rng.poisson(noisy).astype(np.int64)
    other = rng.poisson(rng.gamma(8.0, (rest + 1e-12) / 8.0)).astype(np.int64)
    counts = by.sum(axis=1) + other
    if rng.random() < 0.3:
        g0 = int(rng.integers(1440, minutes - 720))
        glen = int(rng.integers(60, 720))
        counts[g0 : g0 + glen] = -1
        by[g0 : g0 + glen] = -1
        events.append(Event("gap", start + g0 * 60, start + (g0 + glen) * 60, service))
    return SeriesCase(
        name=f"{_tier(base)}-{k:03d}",
        service=service,
        start=start,
        step_seconds=60,
        counts=counts,
        by_country={c: by[:, j] for j, c in enumerate(codes)},
        outages=sorted(outages, key=lambda o: o.start),
        events=sorted(events, key=lambda e: e.start),
    )


def detection_corpus(n_series: int = 200, weeks: int = 4, seed: int = 0) -> list[SeriesCase]:
    rng = np.random.default_rng(seed)
    return [_one(k, rng, weeks) for k in range(n_series)]


def write_csv(cases: SeriesCase | list[SeriesCase], path: Path) -> None:
    """``timestamp,count`` in ISO 8601 UTC, with a ``series`` column first when there are
    several; gap minutes are left out, as a collector would. Several series are interleaved
    minute by minute, as an export of many services' counts would be."""
    many = isinstance(cases, list)
    group = cases if isinstance(cases, list) else [cases]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["series", "timestamp", "count"] if many else ["timestamp", "count"])
        width = max(len(c.counts) for c in group)
        for i in range(width):
            for c in group:
                n = c.counts[i] if i < len(c.counts) else -1
                if n >= 0:
                    at = datetime.fromtimestamp(c.start + i * c.step_seconds, tz=UTC)
                    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
                    w.writerow([c.name, stamp, int(n)] if many else [stamp, int(n)])
