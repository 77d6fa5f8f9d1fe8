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
        self._index = {w: np.arange(1, w) for w in self.WINDOWS}

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
        valid = ~np.isnan(x)
        stale = (self.last >= 0) & (minute - self.last > 60 * self.size)
        if stale.any():  # after a long gap the old minutes say nothing about now
            self.ring_x[stale] = np.nan
        xv = np.where(valid, x, 0.0)
        mu_now = mu * fraction
        cold = self.seen < self.params.cold_minutes
        p, candidate, strong = judge(xv, mu_now, inv_k, cold, self.params)
        for w, back in self._index.items():
            cols = (self.pos - back) % self.size
            rx = self.ring_x[:, cols]
            have = ~np.isnan(rx)
            win_x = np.where(have, rx, 0.0).sum(axis=1) + xv
            win_mu = np.where(have, self.ring_mu[:, cols], 0.0).sum(axis=1) + mu_now
            pw, cw, sw = judge(win_x, win_mu, inv_k / w, cold, self.params)
            p = np.minimum(p, pw)
            candidate |= cw
            strong |= sw
        candidate &= valid
        streak = np.where(candidate, self.streak + 1, 0)
        persistent = streak >= self.params.persist_minutes
        alert = valid & (self.seen >= self.min_seen) & (strong | persistent)
        if commit:
            self.ring_x[:, self.pos] = np.where(valid, x, np.nan)
            self.ring_mu[:, self.pos] = mu
            self.pos = (self.pos + 1) % self.size
            self.streak = np.where(valid, streak, self.streak)
            self.last = np.where(valid, minute, self.last)
        return Judgements(mu, np.where(valid, score_of(p), 0.0), alert, candidate | alert)

    def grow(self, k: int) -> None:
        """Room for ``k`` more series (new services or countries appear while running)."""
        self.ring_x = np.vstack([self.ring_x, np.full((k, self.size), np.nan)])
        self.ring_mu = np.vstack([self.ring_mu, np.full((k, self.size), np.nan)])
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
        r = np.clip(((x - mu) ** 2 - mu) / np.maximum(mu, 1e-9) ** 2, 0.0, 3.0)
    return np.maximum(np.where(ok, inv_k + rate * (np.nan_to_num(r) - inv_k), inv_k), 0.02)
