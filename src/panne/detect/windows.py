"""What every detector does with its expectation: trailing windows, the test, persistence.

Shared by the seasonal detector (a service's total) and the share detector (a country's or a
problem's part of it), so the alert rule exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from panne.detect.test import TestParams, judge, score_of


@dataclass(frozen=True)
class Judgements:
    """Per series, for one minute: the expected count, the score in [0, 1], the alert."""

    expected: np.ndarray
    score: np.ndarray
    alert: np.ndarray
    candidate: np.ndarray  # judged unusual: such minutes are not learned from


class Windows:
    """The last minutes' counts and expectations per series, summed over trailing windows.

    Three windows: the minute itself (fast), three minutes (a sharp rise), fifteen minutes (a
    slow burn, and a tiny service whose outage is a handful of reports). A media burst of two
    to four minutes moves the fifteen-minute sum too little to pass the ratio test.

    A step costs a few dozen numpy calls whatever the number of series: the three windows are
    judged as one stacked array (one call of the incomplete beta function), and the trailing
    minutes are also kept newest first and twice over (``_sums``), so that every window is one
    contiguous slice summed in one call, in the same order as ever.
    """

    WINDOWS = (3, 15)

    def __init__(self, n: int, params: TestParams, *, min_seen: int = 10) -> None:
        self.params = params
        self.min_seen = min_seen  # minutes learned before any alert
        self.size = max(self.WINDOWS) - 1
        self.ring_x = np.full((n, self.size), np.nan)
        self.ring_mu = np.full((n, self.size), np.nan)
        self.pos = 0  # where the next minute goes; every series moves together
        self.streak = np.zeros(n, dtype=np.int32)
        self.seen = np.zeros(n, dtype=np.int64)  # minutes learned from
        self.last = np.full(n, -1, dtype=np.int64)  # last minute fed, epoch seconds
        # Per minute: [0] counts, 0 where missing; [1] their expectations, 0 where the count is
        # missing. Row (j - pos) % size holds the j-th newest minute, and so does that row +
        # size: a window's sum adds rows newest first, one after the other, as it always did.
        self._sums = np.zeros((2 * self.size, 2, n))
        self._widths = np.array([1.0, *self.WINDOWS])[:, None]
        self._fresh_at: int | None = None  # the last minute committed with data for every series

    def evaluate(
        self,
        minute: int,
        x: np.ndarray,
        mu: np.ndarray,
        inv_k: np.ndarray,
        *,
        commit: bool,
        fraction: float = 1.0,
    ) -> Judgements:
        """Judge ``x`` (NaN: no data) against ``mu``; with ``commit``, move the windows on.

        ``fraction`` < 1 judges an unfinished minute: ``x`` is the count so far and the
        expectation is scaled to the elapsed part, so a surge is flagged before the minute ends.
        """
        size = self.size
        valid = x == x  # not NaN
        complete = bool(valid.all())
        fresh = self._fresh_at is not None and minute - self._fresh_at <= 60 * size
        if not fresh:  # after a long gap the old minutes say nothing about now
            stale = (self.last >= 0) & (minute - self.last > 60 * size)
            if stale.any():
                self.ring_x[stale] = np.nan
                self._sums[:, :, stale] = 0.0
        xv = x if complete else np.where(valid, x, 0.0)
        mu_now = mu if fraction == 1.0 else mu * fraction
        cold = self.seen < self.params.cold_minutes
        # Counts and expectations over the minute, three minutes and fifteen: (2, 3, n).
        n = len(x)
        sums = np.empty((2, 3, n))
        sums[0, 0] = xv
        sums[1, 0] = mu_now
        start = -self.pos % size
        for k, w in enumerate(self.WINDOWS, start=1):
            np.add.reduce(self._sums[start : start + w - 1], axis=0, out=sums[:, k])
        sums[0, 1:] += xv
        sums[1, 1:] += mu_now
        ps, candidates, strongs = judge(sums[0], sums[1], inv_k / self._widths, cold, self.params)
        p = ps.min(axis=0)
        if candidates.any():
            candidate = candidates.any(axis=0)
            strong = strongs.any(axis=0)
            if not complete:
                candidate &= valid
            streak = np.where(candidate, self.streak + 1, 0)
            persistent = streak >= self.params.persist_minutes
            alert = (self.seen >= self.min_seen) & (strong | persistent)
            if not complete:
                alert &= valid
            flagged = candidate | alert
        else:  # the usual minute: nothing unusual, no streak, no alert
            alert, flagged = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
            streak = np.zeros(n, dtype=self.streak.dtype)
        if commit:
            self.ring_x[:, self.pos] = x
            self.ring_mu[:, self.pos] = mu
            self.pos = (self.pos + 1) % size
            at = -self.pos % size
            mu_have = mu if complete else np.where(valid, mu, 0.0)
            for row in (at, at + size):
                self._sums[row, 0] = xv
                self._sums[row, 1] = mu_have
            if complete:
                self.streak = streak
                self.last = np.full(n, minute, dtype=np.int64)
                self._fresh_at = minute
            else:
                self.streak = np.where(valid, streak, self.streak)
                self.last = np.where(valid, minute, self.last)
                self._fresh_at = None
        score = score_of(p)
        return Judgements(mu, score if complete else np.where(valid, score, 0.0), alert, flagged)

    def grow(self, k: int) -> None:
        """Room for ``k`` more series (new services or countries appear while running)."""
        self.ring_x = np.vstack([self.ring_x, np.full((k, self.size), np.nan)])
        self.ring_mu = np.vstack([self.ring_mu, np.full((k, self.size), np.nan)])
        self._sums = np.concatenate([self._sums, np.zeros((2 * self.size, 2, k))], axis=2)
        self.streak = np.concatenate([self.streak, np.zeros(k, dtype=np.int32)])
        self.seen = np.concatenate([self.seen, np.zeros(k, dtype=np.int64)])
        self.last = np.concatenate([self.last, np.full(k, -1, dtype=np.int64)])

    def state_of(self, i: int) -> dict[str, Any]:
        order = (self.pos + np.arange(self.size)) % self.size  # oldest first
        return {
            "ring_x": _floats(self.ring_x[i, order]),
            "ring_mu": _floats(self.ring_mu[i, order]),
            "streak": int(self.streak[i]),
            "seen": int(self.seen[i]),
            "last": int(self.last[i]),
        }

    def load(self, i: int, state: dict[str, Any]) -> None:
        order = (self.pos + np.arange(self.size)) % self.size
        self.ring_x[i, order] = [np.nan if v is None else v for v in state["ring_x"]]
        self.ring_mu[i, order] = [np.nan if v is None else v for v in state["ring_mu"]]
        self.streak[i] = state["streak"]
        self.seen[i] = state["seen"]
        self.last[i] = state["last"]
        self._fresh_at = None
        newest_first = (self.pos - 1 - np.arange(self.size)) % self.size
        rx, rmu = self.ring_x[i, newest_first], self.ring_mu[i, newest_first]
        have = ~np.isnan(rx)
        at = (-self.pos + np.arange(self.size)) % self.size
        for k, v in enumerate((np.where(have, rx, 0.0), np.where(have, rmu, 0.0))):
            self._sums[at, k, i] = v
            self._sums[at + self.size, k, i] = v


def _floats(a: np.ndarray) -> list[float | None]:
    """JSON-able floats, NaN as None, rounded so a state stays small."""
    return [None if np.isnan(v) else round(float(v), 6) for v in a]


def learn_dispersion(
    inv_k: np.ndarray, x: np.ndarray, mu: np.ndarray, learn: np.ndarray, rate: float
) -> np.ndarray:
    """Move 1/size towards what this minute says: E[(x - mu)² - mu] = mu² / size.

    Only where mu is large enough for one minute to say anything; clipped so a single clump
    cannot make a series deaf for days.
    """
    ok = learn & (mu > 0.3)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((x - mu) ** 2 - mu) / np.maximum(mu, 1e-9) ** 2
    r = np.fmin(np.fmax(r, 0.0), 3.0)  # clipped to [0, 3], NaN to 0
    out: np.ndarray = np.maximum(np.where(ok, inv_k + rate * (r - inv_k), inv_k), 0.02)
    return out
