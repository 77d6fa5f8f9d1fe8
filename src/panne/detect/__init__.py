"""Detection: from per-minute counts, an expectation, a score and an alert, per series.

:class:`SeasonalBank` judges totals (a service's reports), :class:`ShareBank` judges parts of a
total (a country, a problem); :class:`Detector` is one series' view of the same code for those
who feed a single series. Pure: no I/O, no clock; state saves to and loads from plain dicts.
The banks keep their state in numpy arrays; the step itself is compiled (:mod:`.kernels`).
"""

from panne.detect.detector import Detector, Judgement
from panne.detect.seasonal import BaselineParams, SeasonalBank
from panne.detect.share import ShareBank
from panne.detect.test import TestParams
from panne.detect.windows import Judgements

__all__ = [
    "BaselineParams",
    "Detector",
    "Judgement",
    "Judgements",
    "SeasonalBank",
    "ShareBank",
    "TestParams",
]
