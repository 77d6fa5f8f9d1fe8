"""The simple reference public outage sites describe: compare with the same time yesterday.

Used by the benchmark only, to show what the seasonal test buys over the obvious rule.
"""

from __future__ import annotations

import numpy as np


def same_time_yesterday(
    counts: np.ndarray, *, ratio: float = 3.0, floor: float = 10.0, step_seconds: int = 60
) -> np.ndarray:
    """Alert where a count exceeds ``ratio`` × the count a day earlier plus ``floor``.

    ``counts`` is (minutes,) or (series, minutes), NaN where there is no data.
    """
    lag = 86_400 // step_seconds
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    before = np.full_like(c, np.nan)
    before[:, lag:] = c[:, :-lag]
    with np.errstate(invalid="ignore"):
        alert = c > ratio * before + floor
    out: np.ndarray = alert.reshape(np.shape(counts))
    return out
