"""What every detector does with its expectation: trailing windows, the test, persistence.

Shared by the seasonal detector (a service's total) and the share detector (a country's or a
problem's part of it), so the alert rule exists once: :func:`panne.detect.kernels._judge`
applies it, :class:`Windows` holds what it needs between minutes.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from panne.detect.kernels import RING
from panne.detect.test import TestParams, score_of


@dataclass(frozen=True)
class Judgements:
    """Per series, for one minute: the expected count, the score in [0, 1], the alert."""

    expected: np.ndarray
    score: np.ndarray
    alert: np.ndarray
    candidate: np.ndarray  # judged unusual: such minutes are not learned from


# What the kernels take of a bank's windows: (pos, ring_x, ring_mu, streak, unusual, seen,
# last, min_seen, test).
WindowArgs = tuple[
    int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray
]


class Windows:
    """The last minutes' counts and expectations per series, and where each series stands.

    Three windows: the minute itself (fast), three minutes (a sharp rise), fifteen minutes (a
    slow burn, and a tiny service whose outage is a handful of reports). A media burst of two
    to four minutes moves the fifteen-minute sum too little to pass the ratio test.
    """

    def __init__(self, n: int, params: TestParams, *, min_seen: int = 10) -> None:
        self.params = params
        self.min_seen = min_seen  # minutes learned before any alert
        self.size = RING
        self.ring_x = np.full((n, self.size), np.nan)
        self.ring_mu = np.full((n, self.size), np.nan)
        self.pos = 0  # where the next minute goes; every series moves together
        self.streak = np.zeros(n, dtype=np.int32)
        self.unusual = np.zeros(n, dtype=np.int32)  # towards a new level (kernels.SHIFT_MINUTES)
        self.seen = np.zeros(n, dtype=np.int64)  # minutes learned from
        self.last = np.full(n, -1, dtype=np.int64)  # last minute fed, epoch seconds
        self.test = np.array(astuple(params), dtype=np.float64)  # as the kernels read it

    @property
    def kernel_args(self) -> WindowArgs:
        return (self.pos, self.ring_x, self.ring_mu, self.streak, self.unusual, self.seen,
                self.last, self.min_seen, self.test)  # fmt: skip

    def advance(self, minutes: int) -> None:
        """The kernels committed ``minutes`` more minutes."""
        self.pos = (self.pos + minutes) % self.size

    def grow(self, k: int) -> None:
        """Room for ``k`` more series (new services or countries appear while running)."""
        self.ring_x = np.vstack([self.ring_x, np.full((k, self.size), np.nan)])
        self.ring_mu = np.vstack([self.ring_mu, np.full((k, self.size), np.nan)])
        self.streak = np.concatenate([self.streak, np.zeros(k, dtype=np.int32)])
        self.unusual = np.concatenate([self.unusual, np.zeros(k, dtype=np.int32)])
        self.seen = np.concatenate([self.seen, np.zeros(k, dtype=np.int64)])
        self.last = np.concatenate([self.last, np.full(k, -1, dtype=np.int64)])

    def state_of(self, i: int) -> dict[str, Any]:
        order = (self.pos + np.arange(self.size)) % self.size  # oldest first
        return {
            "ring_x": _floats(self.ring_x[i, order]),
            "ring_mu": _floats(self.ring_mu[i, order]),
            "streak": int(self.streak[i]),
            "unusual": int(self.unusual[i]),
            "seen": int(self.seen[i]),
            "last": int(self.last[i]),
        }

    def load(self, i: int, state: dict[str, Any]) -> None:
        order = (self.pos + np.arange(self.size)) % self.size
        self.ring_x[i, order] = [np.nan if v is None else v for v in state["ring_x"]]
        self.ring_mu[i, order] = [np.nan if v is None else v for v in state["ring_mu"]]
        self.streak[i] = state["streak"]
        self.unusual[i] = state.get("unusual", 0)  # states saved before it count from 0
        self.seen[i] = state["seen"]
        self.last[i] = state["last"]


def _floats(a: np.ndarray) -> list[float | None]:
    """JSON-able floats, NaN as None, rounded so a state stays small."""
    return [None if np.isnan(v) else round(float(v), 6) for v in a]


def counts(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` as the kernels read it, checked: they do not check bounds."""
    out = np.ascontiguousarray(x, dtype=np.float64)
    if out.shape[:1] != (n,):
        raise ValueError(f"expected counts for {n} series, got shape {out.shape}")
    return out


Outputs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def outputs(shape: tuple[int, ...]) -> Outputs:
    """Where the kernels write the expected counts, p-values, alerts and candidates."""
    return (np.empty(shape), np.empty(shape), np.empty(shape, dtype=bool),
            np.empty(shape, dtype=bool))  # fmt: skip


def judgements(x: np.ndarray, out: Outputs, missing: int) -> Judgements:
    """The kernels' outputs as judgements: p-values become scores (by numpy, whose log10 the
    scores have always used), 0 for the ``missing`` counts (NaN in ``x``)."""
    expected, p, alert, flagged = out
    score = score_of(p, out=p)
    if missing:
        score[np.isnan(x)] = 0.0
    return Judgements(expected, score, alert, flagged)
