"""The statistical test for counts: a negative-binomial upper tail, and the alert rule.

Crowd reports are over-dispersed: they come in clumps, so a Poisson test would cry wolf at
every forwarded message. The count over a window is tested against a negative binomial with the
series' expected mean and its own estimated dispersion (variance = mean + mean² × inv_k). The
p-value becomes a score in [0, 1] on a log scale (-log10(p) / 12), so scores stay informative
far into the tail where outages live.

An alert needs more than a small p-value: the excess must be material (a ratio to the expected
count and an absolute number of extra reports), so a service with three reports a day does not
alert on a fourth. And it must persist: a media story sends two to four times the usual reports
for two to four minutes, so a moderate excess alerts only after ``persist_minutes``; a strong
one (a clear multiple, a vanishing p-value) alerts at once, which is what catches a sharp outage
within a minute or two.

The test runs in the compiled step (:mod:`panne.detect.kernels`); here are its settings, the
score, and the tail probability for arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from panne.detect import kernels

SCORE_DECADES = 12.0  # p = 1e-12 scores 1


@dataclass(frozen=True)
class TestParams:
    """The kernels read these fields in this order (see panne.detect.kernels)."""

    candidate_p: float = 1e-5  # a minute is a candidate below this p-value ...
    min_ratio: float = 3.0  # ... with at least this multiple of the expected count ...
    min_excess: float = 5.0  # ... and at least this many extra reports in the window
    strong_p: float = 1e-6  # alerts at once below this p-value ...
    strong_ratio: float = 5.0  # ... with at least this multiple
    persist_minutes: int = 5  # otherwise the candidate must hold this long
    cold_minutes: int = 1440  # before a day of history, ratios must be twice as large


def tail_p(observed: np.ndarray, expected: np.ndarray, inv_k: np.ndarray) -> np.ndarray:
    """P(X ≥ observed) for X negative binomial with mean ``expected`` and 1/size ``inv_k``:
    the kernels' tail (:func:`panne.detect.kernels.tail_p`), for arrays."""
    o, e, k = (
        np.array(a, dtype=np.float64) for a in np.broadcast_arrays(observed, expected, inv_k)
    )
    out = np.empty(o.shape)
    kernels.tail_ps(o.ravel(), e.ravel(), k.ravel(), out.reshape(-1))
    return out


def score_of(p: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """-log10(p) / SCORE_DECADES, clipped to [0, 1]; into ``out`` if given (it may be ``p``:
    a backtest's p-values take as much memory as its counts)."""
    score: np.ndarray = np.maximum(p, 1e-300, out=out)
    np.log10(score, out=score)
    np.negative(score, out=score)
    np.divide(score, SCORE_DECADES, out=score)
    np.clip(score, 0.0, 1.0, out=score)
    return score
