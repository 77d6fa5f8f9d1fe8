"""Labelled outage scenarios and harmless events, as multipliers over time.

Each outage adds reports on top of the background: ``extra(t) = profile(t) × max(ratio ×
expected, floor)``, so a tiny service's outage still brings the dozens of reports that make
it visible on an outage site, and a giant's brings hundreds of thousands. The profiles follow
what outage sites show: a sharp outage jumps within minutes and decays; a slow burn climbs for
half an hour or more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("sharp", "slow_burn", "single_country", "meta_2024_03_05")
EVENT_KINDS = ("media_burst", "gap", "holiday", "dst")

# 5 March 2024: from ~15:25 UTC to ~17:35 UTC (FIELD.md).
META_2024_START = 1_709_652_300.0
META_2024_SERVICES = ("facebook", "instagram", "threads", "messenger")
META_2024_COUNTRIES = ("US", "GB", "IN", "BR", "TN", "FR", "DE", "MX", "PH", "EG")
META_2024_PROBLEMS = {"login": 0.76, "website": 0.14, "photos-videos": 0.10}


@dataclass(frozen=True)
class Outage:
    service: str
    kind: str  # one of KINDS
    start: float  # onset, epoch seconds UTC
    end: float
    countries: tuple[str, ...]  # affected, most affected first
    problems: dict[str, float]  # share per problem slug, sums to 1
    peak_ratio: float  # peak reports over the usual level
    group_id: str | None = None  # shared by sibling services failing together
    floor_per_minute: float = 2.0  # the least extra reports per minute at the peak
    country_shares: tuple[float, ...] = field(default=())

    def profile(self, ts: np.ndarray) -> np.ndarray:
        """0..1 intensity of the outage at UTC times ``ts``."""
        since = ts - self.start
        until = self.end - ts
        rise = {"slow_burn": 2400.0, "meta_2024_03_05": 600.0}.get(self.kind, 180.0)
        up = np.clip(since / rise, 0.0, 1.0)
        down = np.clip(until / 600.0, 0.0, 1.0)  # recovery over the last 10 minutes
        sag = 1.0 - 0.3 * np.clip(since / max(self.end - self.start, 1.0), 0.0, 1.0)
        return np.where((since >= 0) & (until > 0), up * down * sag, 0.0)

    def shares(self, codes: tuple[str, ...]) -> np.ndarray:
        """How this outage's reports split over ``codes`` (0 for countries it spares)."""
        out = np.zeros(len(codes))
        weights = self.country_shares or tuple(1.0 / (i + 1) for i in range(len(self.countries)))
        for c, w in zip(self.countries, weights, strict=False):
            if c in codes:
                out[codes.index(c)] = w
        total = out.sum()
        return out / total if total else out


@dataclass(frozen=True)
class Event:
    """A labelled non-outage: a media burst, a collector gap, a holiday, a DST change."""

    kind: str  # one of EVENT_KINDS
    start: float
    end: float
    service: str | None = None


def problem_mix(rng: np.random.Generator, problems: tuple[str, ...]) -> dict[str, float]:
    """An outage's own spread: mostly one problem (login, or the service's main function)."""
    main = problems[int(rng.integers(0, min(3, len(problems))))]
    rest = [p for p in problems if p != main and p != "other"]
    mix = {main: float(rng.uniform(0.55, 0.8))}
    left = 1.0 - mix[main]
    picks = rest[:2] if len(rest) >= 2 else rest
    for i, p in enumerate(picks):
        mix[p] = left * (0.65 if i == 0 else 0.35) if len(picks) > 1 else left
    return {k: v / sum(mix.values()) for k, v in mix.items()}


def fit_problems(shares: dict[str, float], problems: tuple[str, ...]) -> dict[str, float]:
    """``shares`` over a service's own ``problems`` (its catalog list, main function first).

    A scenario names problems for several services at once, and not every service has each:
    Messenger has no "website". The share of a problem the service lacks goes to its first
    problem the scenario does not name (for Messenger, "messaging"), else to its main one, so
    the reports stay where the catalog, the API and the pages know them. Entries keep their
    order and number where they can, so a seed's draws stay the same.
    """
    spare = iter([p for p in problems if p not in shares and p != "other"])
    out: dict[str, float] = {}
    for p, w in shares.items():
        q = p if p in problems else next(spare, problems[0])
        out[q] = out.get(q, 0.0) + w
    return out


def meta_2024(start: float = META_2024_START, scale_ratio: float = 1.0) -> list[Outage]:
    """The 5 March 2024 Meta outage: four services, one event, about two hours."""
    ratios = {"facebook": 400.0, "instagram": 150.0, "threads": 120.0, "messenger": 100.0}
    return [
        Outage(
            service=s,
            kind="meta_2024_03_05",
            start=start,
            end=start + 7800,
            countries=META_2024_COUNTRIES,
            problems=dict(META_2024_PROBLEMS),
            peak_ratio=ratios[s] * scale_ratio,
            group_id=f"meta-{int(start)}",
            floor_per_minute=20.0,
            country_shares=(0.30, 0.10, 0.14, 0.12, 0.04, 0.07, 0.06, 0.06, 0.06, 0.05),
        )
        for s in META_2024_SERVICES
    ]
