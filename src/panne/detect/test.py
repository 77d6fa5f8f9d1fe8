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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

SCORE_DECADES = 12.0  # p = 1e-12 scores 1


@dataclass(frozen=True)
class TestParams:
    candidate_p: float = 1e-5  # a minute is a candidate below this p-value ...
    min_ratio: float = 3.0  # ... with at least this multiple of the expected count ...
    min_excess: float = 5.0  # ... and at least this many extra reports in the window
    strong_p: float = 1e-6  # alerts at once below this p-value ...
    strong_ratio: float = 5.0  # ... with at least this multiple
    persist_minutes: int = 5  # otherwise the candidate must hold this long
    cold_minutes: int = 1440  # before a day of history, ratios must be twice as large


def tail_p(observed: np.ndarray, expected: np.ndarray, inv_k: np.ndarray) -> np.ndarray:
    """P(X ≥ observed) for X negative binomial with mean ``expected`` and 1/size ``inv_k``.

    Computed only where the count exceeds its expectation, 1 elsewhere: a count at or below
    what is usual carries no evidence of an outage, and the incomplete beta function is the
    detector's most expensive step.
    """
    mean = np.maximum(expected, 1e-6)
    out: np.ndarray = np.ones_like(mean)
    above = np.flatnonzero(observed > mean)  # flat indices, shapes may be (windows, series)
    if above.size:
        m = mean.take(above)
        size = 1.0 / np.maximum(inv_k.take(above), 1e-6)
        q = m / (m + size)  # failure probability: P(X ≥ k) = I_q(k, size)
        p = betainc(observed.take(above), size, q)
        out.put(above, np.where(p != p, 1.0, p))  # NaN: no evidence
    return out


def score_of(p: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(-np.log10(np.maximum(p, 1e-300)) / SCORE_DECADES, 0.0, 1.0)
    return out


def judge(
    observed: np.ndarray,
    expected: np.ndarray,
    inv_k: np.ndarray,
    cold: np.ndarray,
    params: TestParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p-value, candidate, strong) for windows of counts against their expectations."""
    p = tail_p(observed, expected, inv_k)
    candidate = p <= params.candidate_p
    if not candidate.any():  # the usual minute: nothing is even close
        return p, candidate, np.zeros_like(candidate)
    ratio = observed / np.maximum(expected, 1e-3)
    factor = np.where(cold, 2.0, 1.0) if cold.any() else 1.0  # stricter before a day of history
    material = (ratio >= params.min_ratio * factor) & (
        observed - expected >= params.min_excess * factor
    )
    candidate &= material
    strong = candidate & (p <= params.strong_p) & (ratio >= params.strong_ratio * factor)
    return p, candidate, strong
