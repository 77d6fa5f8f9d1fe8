"""The expectation of a series: a level times a time-of-day profile times a day-of-week factor.

All three are learned online, one minute at a time, for many series at once (numpy arrays, one
row per series): the live node steps every service in one call, and a backtest over many series
runs the very same code.

- The level is an exponentially weighted mean of the deseasonalised count, with a time constant
  of half a day, so it follows growth or decline within about a day. A new series starts with
  the running mean of what it has seen.
- The profile has 48 half-hour slots, interpolated between slot centres: coarse and smooth,
  so the hour that a DST change moves the daily pattern by costs a small, temporary ratio, far
  below what alerts. Each visit moves a slot a little, so it is calibrated within a week.
- The day-of-week factor learns slowly (weekends differ a little for most services).

Minutes the test judged unusual are not learned from, so a long outage never becomes normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from panne.detect.test import TestParams
from panne.detect.windows import Judgements, Windows, learn_dispersion

SLOTS = 48
SLOT_SECONDS = 86_400 // SLOTS
WARM_UP_MINUTES = 60  # learned from whatever they say: there is no "normal" to protect yet


@dataclass(frozen=True)
class BaselineParams:
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
        # Every series has learned long enough for the level's rate to be its slowest: a shortcut
        # for the step, not state (recomputed after grow and load).
        self._settled = False
        self._settled_at = max(math.ceil(self.params.level_minutes), WARM_UP_MINUTES)

    def grow(self, k: int) -> None:
        self.n += k
        self.windows.grow(k)
        self.level = np.concatenate([self.level, np.zeros(k)])
        self.profile = np.vstack([self.profile, np.ones((k, SLOTS))])
        self.weekday = np.vstack([self.weekday, np.ones((k, 7))])
        self.inv_k = np.concatenate([self.inv_k, np.full(k, self.params.prior_inv_k)])
        self._settled = False

    def _position(self, minute: int) -> tuple[int, int, float, int]:
        s = ((minute + 30) % 86_400) / SLOT_SECONDS - 0.5
        j0 = math.floor(s) % SLOTS
        return j0, (j0 + 1) % SLOTS, s - math.floor(s), int((minute // 86_400 + 3) % 7)

    def _shape(self, minute: int) -> tuple[np.ndarray, int]:
        j0, j1, f, d = self._position(minute)
        return self.profile[:, j0] * (1 - f) + self.profile[:, j1] * f, d

    def expected(self, minute: int) -> np.ndarray:
        shape, d = self._shape(minute)
        out: np.ndarray = self.level * shape * self.weekday[:, d]
        return out

    def step(self, minute: int, x: np.ndarray) -> Judgements:
        """Judge the finished minute ``minute`` (epoch seconds), then learn from it."""
        shape, d = self._shape(minute)
        mu = self.level * shape * self.weekday[:, d]
        judged = self.windows.evaluate(minute, x, mu, self.inv_k, commit=True)
        learn = ~judged.candidate
        if not self._settled:
            learn |= self.windows.seen < WARM_UP_MINUTES
        learn &= x == x  # not NaN
        self._learn(minute, x, mu, learn, shape)
        return judged

    def peek(self, minute: int, x_so_far: np.ndarray, fraction: float) -> Judgements:
        """Judge an unfinished minute; nothing is learned or moved."""
        mu = self.expected(minute)
        return self.windows.evaluate(
            minute, x_so_far, mu, self.inv_k, commit=False, fraction=max(fraction, 1e-3)
        )

    def _learn(
        self, minute: int, x: np.ndarray, mu: np.ndarray, learn: np.ndarray, shape: np.ndarray
    ) -> None:
        p = self.params
        j0, j1, f, d = self._position(minute)
        xv = np.where(learn, x, 0.0)
        seen = self.windows.seen
        weekday = self.weekday[:, d]
        deseasoned = xv / np.maximum(shape * weekday, 0.05)
        if self._settled:  # every series past its first minutes: the slowest, fixed rate
            self.level = np.where(
                learn, self.level + (1.0 / p.level_minutes) * (deseasoned - self.level), self.level
            )
            first = None
        else:
            rate = np.maximum(1.0 / (seen + 1.0), 1.0 / p.level_minutes)
            first = seen == 0
            level = np.where(first, deseasoned, self.level + rate * (deseasoned - self.level))
            self.level = np.where(learn, level, self.level)
        moves = learn & (self.level > 0)
        base = np.maximum(self.level * weekday, 1e-9)
        ratio = np.minimum(np.maximum(xv / base, 0.0), 5.0)
        cols = (j0, j1)
        weights = np.array([p.profile_rate * (1 - f), p.profile_rate * f])
        slots = self.profile[:, cols]
        self.profile[:, cols] = slots + np.where(
            moves[:, None], weights * (ratio[:, None] - slots), 0.0
        )
        day_ratio = np.minimum(np.maximum(xv / np.maximum(self.level * shape, 1e-9), 0.0), 5.0)
        self.weekday[:, d] = weekday + np.where(moves, p.weekday_rate * (day_ratio - weekday), 0.0)
        self.inv_k = learn_dispersion(
            self.inv_k, xv, mu, learn if first is None else learn & ~first, p.dispersion_rate
        )
        self.windows.seen = seen + learn
        if not self._settled:
            self._settled = self.n > 0 and bool(self.windows.seen.min() >= self._settled_at)
        if minute % 86_400 == 0:  # keep the profile's mean at 1, so the level means the level
            self.profile /= np.maximum(self.profile.mean(axis=1, keepdims=True), 1e-9)
            self.weekday /= np.maximum(self.weekday.mean(axis=1, keepdims=True), 1e-9)

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
        self._settled = False
