"""Parts of a total: a country's or a problem's reports as a share of its service's.

Keeping a full seasonal baseline for every service × country × problem would multiply the state
by hundreds. A part's usual share of its service moves slowly, so each part keeps only that
share (two running means) and its windows: its expected count is share × the service's
expected count for the minute. A single-country outage then stands out even when it barely
moves the world total, and its tests use the same rule as every other series.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panne.detect.seasonal import WARM_UP_MINUTES
from panne.detect.test import TestParams
from panne.detect.windows import Judgements, Windows, learn_dispersion

SHARE_MINUTES = 1440.0  # time constant of a share: a day
PRIOR_INV_K = 0.15


class ShareBank:
    """``n`` parts; ``parent[i]`` is the row of part i's total in the parent's arrays."""

    def __init__(self, parent: np.ndarray, test: TestParams | None = None):
        n = len(parent)
        self.parent = np.asarray(parent, dtype=np.int64)
        self.windows = Windows(n, test or TestParams())
        self.part = np.zeros(n)  # running mean of the part's count
        self.whole = np.zeros(n)  # running mean of the parent's count, over the same minutes
        self.inv_k = np.full(n, PRIOR_INV_K)

    def grow(self, parents: np.ndarray) -> None:
        k = len(parents)
        self.parent = np.concatenate([self.parent, np.asarray(parents, dtype=np.int64)])
        self.windows.grow(k)
        self.part = np.concatenate([self.part, np.zeros(k)])
        self.whole = np.concatenate([self.whole, np.zeros(k)])
        self.inv_k = np.concatenate([self.inv_k, np.full(k, PRIOR_INV_K)])

    def expected(self, parent_expected: np.ndarray) -> np.ndarray:
        share = self.part / np.maximum(self.whole, 1e-9)
        out: np.ndarray = share * parent_expected[self.parent]
        return out

    def step(
        self, minute: int, x: np.ndarray, totals: np.ndarray, parent: Judgements
    ) -> Judgements:
        """Judge parts ``x`` of the parents' counts ``totals`` for a finished minute."""
        mu = self.expected(parent.expected)
        judged = self.windows.evaluate(minute, x, mu, self.inv_k, commit=True)
        t = totals[self.parent]
        seen = self.windows.seen
        calm = ~judged.candidate & ~parent.candidate[self.parent]
        learn = ~np.isnan(x) & ~np.isnan(t) & (calm | (seen < WARM_UP_MINUTES))
        rate = np.maximum(1.0 / (seen + 1.0), 1.0 / SHARE_MINUTES)
        xv = np.where(learn, x, 0.0)
        tv = np.where(learn, t, 0.0)
        self.part = np.where(learn, self.part + rate * (xv - self.part), self.part)
        self.whole = np.where(learn, self.whole + rate * (tv - self.whole), self.whole)
        self.inv_k = learn_dispersion(self.inv_k, xv, mu, learn & (seen > 0), 1 / 2880)
        self.windows.seen = seen + learn
        return judged

    def peek(
        self, minute: int, x_so_far: np.ndarray, parent: Judgements, fraction: float
    ) -> Judgements:
        mu = self.expected(parent.expected)
        return self.windows.evaluate(
            minute, x_so_far, mu, self.inv_k, commit=False, fraction=max(fraction, 1e-3)
        )

    def state_of(self, i: int) -> dict[str, Any]:
        return {
            "part": round(float(self.part[i]), 6),
            "whole": round(float(self.whole[i]), 6),
            "inv_k": round(float(self.inv_k[i]), 6),
            **self.windows.state_of(i),
        }

    def load(self, i: int, state: dict[str, Any]) -> None:
        self.part[i] = state["part"]
        self.whole[i] = state["whole"]
        self.inv_k[i] = state["inv_k"]
        self.windows.load(i, state)
