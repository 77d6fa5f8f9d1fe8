"""Live synthetic traffic for a catalog: minute counts and individual reports, with outages.

Counts are over-dispersed like real crowd reports: a gamma-distributed rate around the expected
one, then Poisson (a negative binomial), because reports come in clumps (a news story, a
forwarded message), not independently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from panne.catalog import Catalog
from panne.simulate.outages import (
    KINDS,
    META_2024_START,
    Event,
    Outage,
    fit_problems,
    meta_2024,
    problem_mix,
)
from panne.simulate.traffic import DEFAULT_VOLUME, VOLUME, Rhythm, background_mix

DISPERSION = 8.0  # gamma shape: variance = mean + mean² / 8


@dataclass(frozen=True)
class ServiceSpec:
    slug: str
    problems: tuple[str, ...]
    group: str | None = None
    base_per_minute: float | None = None


@dataclass(frozen=True, slots=True)
class SimReport:
    at: float
    service: str
    country: str
    problem: str


def specs_from_catalog(catalog: Catalog) -> list[ServiceSpec]:
    return [ServiceSpec(s.slug, s.problems, s.group) for s in catalog.services.values()]


class TrafficModel:
    """Deterministic for a seed. ``scale`` multiplies every volume (the demo runs small)."""

    def __init__(
        self,
        services: Sequence[ServiceSpec],
        *,
        seed: int = 0,
        scale: float = 1.0,
        growth_per_week: float = 0.0,
        start: float = 0.0,
    ) -> None:
        self.services = list(services)
        self.rng = np.random.default_rng(seed)
        self.rhythm = Rhythm()
        self.codes = self.rhythm.codes
        self.weights = self.rhythm.weights()
        self.base = np.array(
            [
                (s.base_per_minute or VOLUME.get(s.slug, DEFAULT_VOLUME)) * scale
                for s in self.services
            ]
        )
        self.growth_per_week = growth_per_week
        self.start = start
        self.mixes = [background_mix(s.problems) for s in self.services]
        self.index = {s.slug: i for i, s in enumerate(self.services)}
        self.outages: list[Outage] = []
        self.events: list[Event] = []

    # -- expectation ---------------------------------------------------------------------

    def _rates(self, minute_start: float) -> np.ndarray:
        """Expected background reports per minute, shape (services, countries)."""
        ts = np.array([minute_start + 30.0])
        activity = self.rhythm.activity(ts)[0] * self.weights
        growth = (1.0 + self.growth_per_week) ** ((minute_start - self.start) / 604_800.0)
        return np.outer(self.base * growth, activity)

    def expected_rate(self, service: str, at: float) -> float:
        """Normal reports per minute worldwide for ``service`` at ``at``."""
        return float(self._rates(at)[self.index[service]].sum())

    # -- scenarios -----------------------------------------------------------------------

    def add_outage(
        self,
        kind: str,
        service: str,
        start: float,
        *,
        minutes: float = 60.0,
        peak_ratio: float | None = None,
        countries: tuple[str, ...] | None = None,
    ) -> Outage:
        if kind not in KINDS[:3]:
            raise ValueError(f"kind must be one of {', '.join(KINDS[:3])}")
        spec = self.services[self.index[service]]
        if countries is None:
            if kind == "single_country":
                countries = (str(self.rng.choice(self.codes[:12])),)
            else:
                countries = tuple(self.codes)
        if peak_ratio is None:
            peak_ratio = float(
                self.rng.uniform(3, 6) if kind == "slow_burn" else self.rng.uniform(8, 40)
            )
        outage = Outage(
            service, kind, start, start + minutes * 60, countries,
            problem_mix(self.rng, spec.problems), peak_ratio,
        )  # fmt: skip
        self.outages.append(outage)
        return outage

    def add_meta_2024(self, start: float | None = None) -> list[Outage]:
        """The March 2024 Meta outage on those of its services this model has, with each
        service's problem shares fitted to its own problems."""
        shift = 0.0 if start is None else start - META_2024_START
        found = [
            replace(
                o,
                start=o.start + shift,
                end=o.end + shift,
                problems=fit_problems(o.problems, self.services[self.index[o.service]].problems),
            )
            for o in meta_2024()
            if o.service in self.index
        ]
        self.outages.extend(found)
        return found

    def add_burst(self, service: str, start: float, minutes: float = 3.0) -> Event:
        event = Event("media_burst", start, start + minutes * 60, service)
        self.events.append(event)
        return event

    def schedule_random_outages(
        self, start: float, end: float, *, every_minutes: float = 30.0
    ) -> list[Outage]:
        """Outages at random times, about one per ``every_minutes`` (the demo's heartbeat)."""
        made = []
        t = start + float(self.rng.exponential(every_minutes * 30))
        while t < end:
            service = self.services[int(self.rng.integers(0, len(self.services)))].slug
            kind = str(self.rng.choice(["sharp", "sharp", "slow_burn", "single_country"]))
            made.append(self.add_outage(kind, service, t, minutes=float(self.rng.uniform(20, 90))))
            t += float(self.rng.exponential(every_minutes * 60))
        return made

    # -- generation ----------------------------------------------------------------------

    def minute_counts(self, minute_start: float) -> list[tuple[str, str, str, int]]:
        """Reports in one minute: (service, country, problem, count), outages included."""
        rates = self._rates(minute_start)
        ts = np.array([minute_start + 30.0])
        extra = np.zeros_like(rates)
        outage_mix: dict[int, list[tuple[np.ndarray, dict[str, float]]]] = {}
        for o in self.outages:
            i = self.index.get(o.service)
            if i is None or not (o.start <= minute_start < o.end):
                continue
            level = float(o.profile(ts)[0])
            total = rates[i].sum()
            peak = max(o.peak_ratio * total, o.floor_per_minute)
            cells = level * peak * o.shares(self.codes)
            extra[i] += cells
            outage_mix.setdefault(i, []).append((cells, o.problems))
        for e in self.events:
            i = self.index.get(e.service or "")
            if e.kind == "media_burst" and i is not None and e.start <= minute_start < e.end:
                extra[i] += rates[i] * 2.0
        noisy = self.rng.gamma(DISPERSION, (rates + 1e-12) / DISPERSION)
        normal = self.rng.poisson(noisy)
        out: list[tuple[str, str, str, int]] = []
        for i, spec in enumerate(self.services):
            cells = [(normal[i], self.mixes[i], spec.problems)]
            for amount, mix in outage_mix.get(i, []):
                cells.append((self.rng.poisson(amount), np.array(list(mix.values())), tuple(mix)))
            bursts = extra[i] - sum(a for a, _ in outage_mix.get(i, []))
            if bursts.any():
                cells.append(
                    (self.rng.poisson(np.maximum(bursts, 0)), self.mixes[i], spec.problems)
                )
            for counts, mix, problems in cells:
                if not counts.any():
                    continue
                split = self.rng.multinomial(counts, mix)
                for c, p in zip(*np.nonzero(split), strict=True):
                    out.append((spec.slug, self.codes[c], problems[p], int(split[c, p])))
        return out

    def reports(self, start: float, end: float) -> Iterator[SimReport]:
        """Individual reports in [start, end), in time order, spread within their minute."""
        minute = float(int(start // 60) * 60)
        while minute < end:
            batch = []
            for service, country, problem, n in self.minute_counts(minute):
                for at in minute + self.rng.random(n) * 60:
                    if start <= at < end:
                        batch.append(SimReport(float(at), service, country, problem))
            batch.sort(key=lambda r: r.at)
            yield from batch
            minute += 60
