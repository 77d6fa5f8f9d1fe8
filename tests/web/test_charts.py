"""Chart geometry: the usual band, round axis steps, bars above the band marked unusual."""

from __future__ import annotations

import pytest

from panne.web.charts import report_chart, sparkline, usual_band, y_axis


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        (0, [0, 1]),
        (0.4, [0, 1]),  # a band's fraction of a report
        (1, [0, 1]),
        (2, [0, 1, 2]),  # not 0 0 1 1 2 (quarters of 2, printed as integers)
        (3, [0, 1, 2, 3]),
        (5, [0, 2, 4, 6]),
        (7, [0, 2, 4, 6, 8]),
        (10, [0, 5, 10]),
        (12, [0, 5, 10, 15]),
        (180, [0, 50, 100, 150, 200]),
        (501, [0, 200, 400, 600]),
        (12_000, [0, 5000, 10_000, 15_000]),
    ],
)
def test_count_axes_step_by_round_whole_numbers(value: float, labels: list[int]) -> None:
    top, step = y_axis(value)
    assert list(range(0, top + 1, step)) == labels
    assert top >= value and step in {1, 2, 5} | {m * 10**n for m in (1, 2, 5) for n in range(6)}


@pytest.mark.parametrize("peak", [1, 2, 5, 10, 37, 999])
def test_every_y_label_of_a_chart_is_a_distinct_integer_reaching_the_peak(peak: int) -> None:
    chart = report_chart([0, 900], [peak, 0], [None, None])
    values = [t.value for t in chart.y_ticks]
    assert all(float(v).is_integer() for v in values)
    assert values == sorted(set(values)) and values[0] == 0 and values[-1] >= peak
    assert len(values) <= 5
    positions = [t.pos for t in chart.y_ticks]
    assert positions == sorted(positions, reverse=True)  # upwards, evenly
    assert chart.y_ticks[-1].pos >= 0 and chart.y_ticks[0].pos == chart.plot_bottom


def test_a_bars_bucket_can_be_read_back_from_its_x() -> None:
    starts = [1_709_650_800 + 60 * i for i in range(1440)]
    counts = [i % 7 for i in range(1440)]
    chart = report_chart(starts, counts, [None] * 1440)
    assert chart.step_seconds == 60 and chart.first_start == starts[0]
    for bar in chart.bars:  # what the page script does to show each tooltip in local time
        i = round((bar.x - chart.plot_left) / chart.step_width)
        assert chart.first_start + i * chart.step_seconds == bar.start


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
