"""Chart geometry: the usual band, round axis tops, bars above the band marked unusual."""

from __future__ import annotations

import pytest

from panne.web.charts import nice_ceiling, report_chart, sparkline, usual_band


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (180, 200), (501, 1000)]
)
def test_axis_tops_are_round(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


def test_the_usual_band_widens_with_the_expectation_and_never_goes_below_zero() -> None:
    low, mid, high = usual_band([2.0] * 15)
    assert mid == 30 and low < mid < high
    small = usual_band([0.1])
    assert small[0] == 0.0
    big = usual_band([100.0] * 15)
    assert (big[2] - big[1]) / big[1] < (high - mid) / mid  # relatively narrower when large


def test_bars_above_the_band_are_unusual_and_gaps_split_the_band() -> None:
    starts = [i * 900 for i in range(6)]
    counts = [10, 12, 0, 80, 11, 9]
    bands = [(5.0, 10.0, 15.0)] * 3 + [None] + [(5.0, 10.0, 15.0)] * 2
    chart = report_chart(starts, counts, bands)
    assert sorted(b.count for b in chart.bars) == [9, 10, 11, 12, 80] and chart.peak == 80
    unusual = [b for b in chart.bars if b.unusual]
    assert unusual == []  # the 80 has no band (the detector did not judge that bucket)
    bands[3] = (5.0, 10.0, 15.0)
    chart = report_chart(starts, counts, bands)
    assert [b.start for b in chart.bars if b.unusual] == [2700]
    assert chart.band.count("M") == 1
    split = report_chart(starts, counts, [*bands[:3], None, *bands[4:]])
    assert split.band.count("M") == 2  # two runs of known buckets
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.count == 80 and tallest.y >= 0
    assert all(t.value % 1 == 0 for t in chart.y_ticks)


def test_sparkline_scales_into_its_box() -> None:
    path = sparkline([0, 5, 10], width=100, height=20)
    points = [tuple(map(float, p.split(","))) for p in path[1:].split(" L")]
    assert points[0] == (0.0, 19.0) and points[-1] == (100.0, 1.0)
    assert sparkline([]) == ""
