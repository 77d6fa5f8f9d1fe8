"""Steps, buckets and the ranges the counts can be asked for."""

from __future__ import annotations

import math

import pytest

from panne.counts import EARLIEST, LATEST, RangeError, plan


def test_plan_aligns_the_range_on_whole_buckets() -> None:
    assert plan(1_709_650_830, 1_709_654_400, "15m") == (1_709_650_800, 1_709_654_400, 900)


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [
        (-62_135_596_800, -62_135_251_200, "1d"),  # year 1
        (253_401_955_200, 253_402_300_740, "1d"),  # the last bucket ends in year 10000
        (-3600, 3600, "1h"),  # before 1970
        (0, math.inf, "1d"),
        (math.nan, 3600, "1h"),
    ],
)
def test_buckets_outside_1970_to_9999_are_refused(start: float, end: float, step: str) -> None:
    with pytest.raises(RangeError, match=r"1970-01-01.*9999-12-31"):
        plan(start, end, step)


def test_the_whole_calendar_edges_are_allowed() -> None:
    assert plan(EARLIEST, EARLIEST + 86_400, "1d")[0] == EARLIEST
    assert plan(LATEST - 3 * 86_400, LATEST - 86_400, "1d")[1] == LATEST + 1 - 86_400
    assert plan(LATEST - 3600, LATEST - 60, "1m")[1] == LATEST + 1 - 60
