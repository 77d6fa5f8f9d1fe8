"""Detection: from per-minute counts, an expectation, a score and an alert, per series.

:class:`SeasonalBank` judges totals (a service's reports), :class:`ShareBank` judges parts of a
total (a country, a problem); :class:`Detector` is one series' view of the same code for those
who feed a single series. Pure: no I/O, no clock; state saves to and loads from plain dicts.
The banks keep their state in numpy arrays; the step itself is compiled (:mod:`.kernels`).
"""

from panne.detect.detector import Detector, Judgement
from panne.detect.kernels import PEEK_FROM
from panne.detect.seasonal import BaselineParams, SeasonalBank
from panne.detect.share import ShareBank
from panne.detect.test import TestParams
from panne.detect.windows import Judgements


def warm() -> None:
    """Load every compiled step now (or compile it, the first time on a machine).

    A server calls this before it freezes its start-up objects out of the collector's sight:
    loaded later, in the detector's first tick, numba's many objects would stay in the heap
    that every full collection walks, and ingest's latency tail would pay for it.
    """
    import numpy as np

    one = np.ones(1)
    bank, shares = SeasonalBank(1), ShareBank(np.zeros(1, dtype=np.int64))
    totals = bank.step(0, one)
    shares.step(0, one, one, totals)
    shares.peek(60, one, bank.peek(60, one, 0.5), 0.5)
    bank.expected(60)
    shares.share(60)


__all__ = [
    "PEEK_FROM",
    "BaselineParams",
    "Detector",
    "Judgement",
    "Judgements",
    "SeasonalBank",
    "ShareBank",
    "TestParams",
    "warm",
]
