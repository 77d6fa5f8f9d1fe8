"""The expectation of a series: a level times a time-of-day profile times a day-of-week factor.

All three are learned online, one minute at a time, for many series at once (numpy arrays, one
row per series, stepped by :mod:`panne.detect.kernels`): the live node steps every service in
one call, and a backtest runs the very same code over its whole history in one call.

- The level is an exponentially weighted mean of the deseasonalised count, with a time constant
  of half a day, so it follows growth or decline within about a day. A new series starts with
  the running mean of what it has seen.
- The profile has 48 half-hour slots, interpolated between slot centres: coarse and smooth,
  so the hour that a DST change moves the daily pattern by costs a small, temporary ratio, far
  below what alerts. Each visit moves a slot a little, so it is calibrated within a week.
- The day-of-week factor learns slowly (weekends differ a little for most services).

Minutes the test judged unusual are not learned from, so a long outage never becomes normal;
but a level unusual for a day is a new level (a launch, a merged service), not an outage, and
the series then starts over as a new one, keeping its profile and weekday factors
(:data:`panne.detect.kernels.SHIFT_MINUTES`).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from panne.detect import kernels
from panne.detect.kernels import SLOT_SECONDS as SLOT_SECONDS
from panne.detect.kernels import SLOTS
from panne.detect.kernels import WARM_UP_MINUTES as WARM_UP_MINUTES
from panne.detect.test import TestParams
from panne.detect.windows import Judgements, Windows, counts, judgements, outputs


@dataclass(frozen=True)
class BaselineParams:
    """The kernels read these fields in this order (see panne.detect.kernels)."""

    level_minutes: float = 720.0  # time constant of the level
    profile_rate: float = 0.01  # per visit of a profile slot
    weekday_rate: float = 1 / 4320
    dispersion_rate: float = 1 / 2880
    prior_inv_k: float = 0.15  # dispersion before the series has taught its own


class SeasonalBank:
    def __init__(
        self, n: int, params: BaselineParams | None = None, test: TestParams | None = None
    ) -> None:
        self.n = n
        self.params = params or BaselineParams()
        self.windows = Windows(n, test or TestParams())
        self.level = np.zeros(n)
        self.profile = np.ones((n, SLOTS))
        self.weekday = np.ones((n, 7))
        self.inv_k = np.full(n, self.params.prior_inv_k)
        self.rates = np.array(astuple(self.params), dtype=np.float64)  # as the kernels read them

    def grow(self, k: int) -> None:
        self.n += k
        self.windows.grow(k)
        self.level = np.concatenate([self.level, np.zeros(k)])
        self.profile = np.vstack([self.profile, np.ones((k, SLOTS))])
        self.weekday = np.vstack([self.weekday, np.ones((k, 7))])
        self.inv_k = np.concatenate([self.inv_k, np.full(k, self.params.prior_inv_k)])

    def expected(self, minute: int) -> np.ndarray:
        out = np.empty(self.n)
        kernels.seasonal_expected(int(minute), self.level, self.profile, self.weekday, out)
        return out

    def step(self, minute: int, x: np.ndarray) -> Judgements:
        """Judge the finished minute ``minute`` (epoch seconds), then learn from it."""
        j = self.run(np.array([minute]), counts(x, self.n).reshape(-1, 1))
        return Judgements(j.expected[:, 0], j.score[:, 0], j.alert[:, 0], j.candidate[:, 0])

    def run(self, minutes: np.ndarray, x: np.ndarray) -> Judgements:
        """Judge, then learn from, finished minutes (in order) at once: ``x`` is series ×
        minutes, and so are the judgements. The same as a ``step`` per minute, without a
        Python call per minute (a backtest's whole history is one call)."""
        minutes = np.ascontiguousarray(minutes, dtype=np.int64)
        x = counts(x, self.n)
        if x.shape[1:] != minutes.shape:
            raise ValueError(f"counts of shape {x.shape} for {minutes.size} minutes")
        out = outputs(x.shape)
        missing = kernels.seasonal_run(
            minutes, x, self.level, self.profile, self.weekday, self.inv_k, self.rates,
            *self.windows.kernel_args, *out,
        )  # fmt: skip
        self.windows.advance(minutes.size)
        return judgements(x, out, missing)

    def peek(self, minute: int, x_so_far: np.ndarray, fraction: float) -> Judgements:
        """Judge an unfinished minute; nothing is learned or moved."""
        x = counts(x_so_far, self.n)
        out = outputs(x.shape)
        missing = kernels.seasonal_peek(
            int(minute), x, max(fraction, 1e-3), self.level, self.profile, self.weekday,
            self.inv_k, *self.windows.kernel_args, *out,
        )  # fmt: skip
        return judgements(x, out, missing)

    def state_of(self, i: int) -> dict[str, Any]:
        return {
            "level": round(float(self.level[i]), 6),
            "profile": [round(float(v), 4) for v in self.profile[i]],
            "weekday": [round(float(v), 4) for v in self.weekday[i]],
            "inv_k": round(float(self.inv_k[i]), 6),
            **self.windows.state_of(i),
        }

    def load(self, i: int, state: dict[str, Any]) -> None:
        self.level[i] = state["level"]
        self.profile[i] = state["profile"]
        self.weekday[i] = state["weekday"]
        self.inv_k[i] = state["inv_k"]
        self.windows.load(i, state)
