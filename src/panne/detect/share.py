"""Parts of a total: a country's or a problem's reports as a share of its service's.

Keeping a full seasonal baseline for every service × country × problem would multiply the state
by hundreds. A part's share of its service moves slowly, except with the time of day (a
country's evening is not the world's), so each part keeps its share per hour of the day (two
running means per hour, over about three days of that hour) and its windows: its expected count
is share × the service's expected count for the minute. A single-country outage then stands
out even when it barely moves the world total, and its tests use the same rule as every other
series.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panne.detect.seasonal import WARM_UP_MINUTES
from panne.detect.test import TestParams
from panne.detect.windows import Judgements, Windows, learn_dispersion

HOURS = 24
SHARE_VISITS = 180.0  # time constant of an hour's share, in minutes of that hour: three days
PRIOR_INV_K = 0.15
MIN_SEEN = 1440  # a part alerts only once it has seen a day: its hours' shares are noisy before


class ShareBank:
    """``n`` parts; ``parent[i]`` is the row of part i's total in the parent's arrays."""

    def __init__(self, parent: np.ndarray, test: TestParams | None = None):
        n = len(parent)
        self.parent = np.asarray(parent, dtype=np.int64)
        self.windows = Windows(n, test or TestParams(), min_seen=MIN_SEEN)
        self.part = np.zeros((n, HOURS))  # running mean of the part's count, per hour
        self.whole = np.zeros((n, HOURS))  # the parent's, over the same minutes
        self.inv_k = np.full(n, PRIOR_INV_K)
        self._warm = False  # every part past its warm-up (a shortcut for the step, not state)

    def grow(self, parents: np.ndarray) -> None:
        k = len(parents)
        self.parent = np.concatenate([self.parent, np.asarray(parents, dtype=np.int64)])
        self.windows.grow(k)
        self.part = np.vstack([self.part, np.zeros((k, HOURS))])
        self.whole = np.vstack([self.whole, np.zeros((k, HOURS))])
        self.inv_k = np.concatenate([self.inv_k, np.full(k, PRIOR_INV_K)])
        self._warm = False

    def share(self, minute: int) -> np.ndarray:
        return self._share((minute // 3600) % HOURS)[0]

    def _share(self, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The share for hour ``h``; the parts that have not seen it (rows), their overall
        share and their parent's total over all hours."""
        share = self.part[:, h] / np.maximum(self.whole[:, h], 1e-9)
        unseen = np.flatnonzero(self.whole[:, h] <= 0)
        if not unseen.size:
            return share, unseen, share[:0], share[:0]
        whole = self.whole[unseen].sum(axis=1)
        overall = self.part[unseen].sum(axis=1) / np.maximum(whole, 1e-9)
        share[unseen] = overall  # an unseen hour: the overall share
        return share, unseen, overall, whole

    def step(
        self, minute: int, x: np.ndarray, totals: np.ndarray, parent: Judgements
    ) -> Judgements:
        """Judge parts ``x`` of the parents' counts ``totals`` for a finished minute."""
        # A part is anomalous when it is over-represented, not when its whole service is busy
        # (a news story, a global outage): when the rest of the service surges too, the level
        # it implies for the total replaces the expected one.
        h = (minute // 3600) % HOURS
        share, unseen, overall, whole_sum = self._share(h)
        has_x = x == x  # not NaN
        has_total = totals == totals
        complete = bool(has_x.all()) and bool(has_total.all())
        if complete:
            rest = totals[self.parent] - x
        else:
            rest = np.where(has_total, totals, 0.0)[self.parent] - np.where(has_x, x, 0.0)
        implied = rest / np.maximum(1.0 - share, 0.05)
        mu = share * np.maximum(parent.expected[self.parent], implied)
        judged = self.windows.evaluate(minute, x, mu, self.inv_k, commit=True)
        t = totals[self.parent]
        seen = self.windows.seen
        learn = ~judged.candidate & ~parent.candidate[self.parent]  # calm
        if not self._warm:
            learn |= seen < WARM_UP_MINUTES
        if not complete:
            learn &= has_x & has_total[self.parent]
        xv = np.where(learn, x, 0.0)
        tv = np.where(learn, t, 0.0)
        part, whole = self.part[:, h], self.whole[:, h]
        if unseen.size:  # a part's first minute of this hour
            first = np.full(len(x), 1.0 / SHARE_VISITS)
            first[unseen] = 1.0
            rate: np.ndarray | float = first
            seeded = whole_sum > 0  # a new hour starts from the overall share
            xv[unseen[seeded]] = overall[seeded] * tv[unseen[seeded]]
        else:
            rate = 1.0 / SHARE_VISITS
        self.part[:, h] = np.where(learn, part + rate * (xv - part), part)
        self.whole[:, h] = np.where(learn, whole + rate * (tv - whole), whole)
        self.inv_k = learn_dispersion(
            self.inv_k, xv, mu, learn if self._warm else learn & (seen > 0), 1 / 2880
        )
        self.windows.seen = seen + learn
        if not self._warm:
            self._warm = len(x) > 0 and bool(self.windows.seen.min() >= WARM_UP_MINUTES)
        return judged

    def peek(
        self, minute: int, x_so_far: np.ndarray, parent: Judgements, fraction: float
    ) -> Judgements:
        mu = self.share(minute) * parent.expected[self.parent]
        return self.windows.evaluate(
            minute, x_so_far, mu, self.inv_k, commit=False, fraction=max(fraction, 1e-3)
        )

    def state_of(self, i: int) -> dict[str, Any]:
        return {
            "part": [round(float(v), 5) for v in self.part[i]],
            "whole": [round(float(v), 5) for v in self.whole[i]],
            "inv_k": round(float(self.inv_k[i]), 6),
            **self.windows.state_of(i),
        }

    def load(self, i: int, state: dict[str, Any]) -> None:
        self.part[i] = state["part"]
        self.whole[i] = state["whole"]
        self.inv_k[i] = state["inv_k"]
        self.windows.load(i, state)
        self._warm = False
