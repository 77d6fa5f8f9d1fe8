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

from panne.detect import kernels
from panne.detect.kernels import HOURS
from panne.detect.kernels import SHARE_VISITS as SHARE_VISITS
from panne.detect.test import TestParams
from panne.detect.windows import Judgements, Windows, counts, judgements, outputs

PRIOR_INV_K = 0.15
MIN_SEEN = 1440  # a part alerts only once it has seen a day: its hours' shares are noisy before


class ShareBank:
    """``n`` parts; ``parent[i]`` is the row of part i's total in the parent's arrays."""

    def __init__(self, parent: np.ndarray, test: TestParams | None = None):
        n = len(parent)
        self.parent = np.asarray(parent, dtype=np.int64)
        self._n_parents = int(self.parent.max(initial=-1)) + 1  # how many the parts refer to
        self.windows = Windows(n, test or TestParams(), min_seen=MIN_SEEN)
        self.part = np.zeros((n, HOURS))  # running mean of the part's count, per hour
        self.whole = np.zeros((n, HOURS))  # the parent's, over the same minutes
        self.inv_k = np.full(n, PRIOR_INV_K)

    def grow(self, parents: np.ndarray) -> None:
        k = len(parents)
        self.parent = np.concatenate([self.parent, np.asarray(parents, dtype=np.int64)])
        self._n_parents = int(self.parent.max(initial=-1)) + 1
        self.windows.grow(k)
        self.part = np.vstack([self.part, np.zeros((k, HOURS))])
        self.whole = np.vstack([self.whole, np.zeros((k, HOURS))])
        self.inv_k = np.concatenate([self.inv_k, np.full(k, PRIOR_INV_K)])

    def share(self, minute: int) -> np.ndarray:
        out = np.empty(len(self.parent))
        kernels.share_now(int(minute), self.part, self.whole, out)
        return out

    def step(
        self, minute: int, x: np.ndarray, totals: np.ndarray, parent: Judgements
    ) -> Judgements:
        """Judge parts ``x`` of the parents' counts ``totals`` for a finished minute."""
        x = counts(x, len(self.parent))
        totals = self._of_parents(totals, np.float64)
        expected = self._of_parents(parent.expected, np.float64)
        flagged = self._of_parents(parent.candidate, np.bool_)
        out = outputs(x.shape)
        missing = kernels.share_step(
            int(minute), x, totals, self.parent, expected, flagged, self.part, self.whole,
            self.inv_k, *self.windows.kernel_args, *out,
        )  # fmt: skip
        self.windows.advance(1)
        return judgements(x, out, missing)

    def peek(
        self, minute: int, x_so_far: np.ndarray, parent: Judgements, fraction: float
    ) -> Judgements:
        x = counts(x_so_far, len(self.parent))
        expected = self._of_parents(parent.expected, np.float64)
        out = outputs(x.shape)
        missing = kernels.share_peek(
            int(minute), x, max(fraction, 1e-3), self.parent, expected, self.part, self.whole,
            self.inv_k, *self.windows.kernel_args, *out,
        )  # fmt: skip
        return judgements(x, out, missing)

    def _of_parents(self, a: np.ndarray, dtype: type) -> np.ndarray:
        """One of the parents' arrays as the kernels read it, checked: they do not check
        bounds."""
        out: np.ndarray = np.ascontiguousarray(a, dtype=dtype)
        if len(out) < self._n_parents:
            raise ValueError(f"parts refer to {self._n_parents} parents, got {len(out)}")
        return out

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
