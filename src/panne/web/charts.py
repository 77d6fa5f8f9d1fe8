"""Charts as SVG geometry computed on the server: readable without JavaScript, one drawing code.

A report chart is bars of reports per bucket over the band of what is usual for that time (the
detector's expectation, widened by the spread a negative binomial with the detector's prior
dispersion gives), so "is this unusual?" is answered by eye. The numbers here are plain values;
the templates turn them into ``<rect>`` and ``<path>`` elements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

INV_K = 0.15  # the detectors' prior dispersion: variance = mean + mean² × INV_K
BAND_SIGMAS = 2.0


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    start: int  # the bucket's start, epoch seconds
    count: int
    unusual: bool  # above the usual band


@dataclass(frozen=True, slots=True)
class Tick:
    pos: float
    value: float


@dataclass(frozen=True, slots=True)
class ReportChart:
    width: int
    height: int
    plot_left: int
    plot_bottom: float
    bars: list[Bar]
    band: str  # SVG path of the usual range, empty when nothing is expected yet
    expected: str  # SVG path of the expected line
    y_ticks: list[Tick]
    x_ticks: list[Tick]  # value: the tick's time, epoch seconds
    peak: int
    # Where bucket i is: x = plot_left + i × step_width, its start first_start + i × step_seconds.
    # The page script reads a bar's time back from its x (its tooltip in the viewer's zone), so a
    # chart of 1,440 bars carries no timestamp per bar.
    first_start: int = 0
    step_seconds: int = 0
    step_width: float = 0.0


def usual_band(expected_minutes: Sequence[float]) -> tuple[float, float, float]:
    """(low, expected, high) for the sum of a bucket's minutes."""
    mean = sum(expected_minutes)
    var = sum(e + e * e * INV_K for e in expected_minutes)
    spread = BAND_SIGMAS * math.sqrt(var)
    return max(mean - spread, 0.0), mean, mean + spread


def nice_step(value: float, steps: int = 4) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ that covers ``value`` in at most ``steps`` steps.

    Counts are whole numbers, so a step is at least 1: an axis over 0–2 reads 0, 1, 2, never
    0, 0.5, 1, 1.5, 2 (which integer labels would print as 0 0 1 1 2).
    """
    if value <= steps:
        return 1
    exp = 10 ** math.floor(math.log10(value / steps))
    for m in (1, 2, 5, 10):
        if m * exp * steps >= value:
            return int(m * exp)
    return int(10 * exp)  # pragma: no cover - the loop always returns


def y_axis(value: float, steps: int = 4) -> tuple[int, int]:
    """(top, step) of a count axis reaching ``value``: the top is a whole number of nice steps,
    so every label is a round integer and evenly spaced ("0 2 4 6" for 5, "0 5 10" for 10)."""
    step = nice_step(max(value, 1), steps)
    return step * max(math.ceil(value / step), 1), step


def report_chart(
    starts: Sequence[int],
    counts: Sequence[int],
    bands: Sequence[tuple[float, float, float] | None],
    *,
    width: int = 760,
    height: int = 240,
    x_tick_seconds: int = 3 * 3600,
) -> ReportChart:
    """Bars for ``counts`` (one per bucket starting at ``starts[i]``) over the ``bands``."""
    # Margins hold the axis labels at their phone size too (app.css: 24 units, about 11 px once
    # the 760-unit drawing is squeezed onto a 375-px screen).
    left, right, top, bottom = 64, 8, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(counts), 1)
    highs = [b[2] for b in bands if b is not None]
    peak = max(counts, default=0)
    y_max, y_step = y_axis(max([peak, *highs, 1]))
    step_w = plot_w / n

    def y(v: float) -> float:
        return round(top + plot_h - v / y_max * plot_h, 1)

    bars = []
    for i, (start, c) in enumerate(zip(starts, counts, strict=True)):
        band = bands[i]
        if c <= 0:
            continue
        top_y = y(c)
        bars.append(
            Bar(
                x=round(left + i * step_w, 1),
                y=top_y,
                width=round(max(step_w - (1 if step_w > 3 else 0), 0.5), 2),
                height=round(top + plot_h - top_y, 1),
                start=start,
                count=c,
                unusual=band is not None and c > band[2],
            )
        )
    band_path, line_path = _band_paths(bands, left, step_w, y)
    y_ticks = [Tick(y(v), v) for v in range(0, y_max + 1, y_step)]
    x_ticks = []
    for i, start in enumerate(starts):
        if start % x_tick_seconds == 0:
            x_ticks.append(Tick(round(left + i * step_w, 1), start))
    return ReportChart(
        width,
        height,
        left,
        top + plot_h,
        bars,
        band_path,
        line_path,
        y_ticks,
        x_ticks,
        peak,
        first_start=int(starts[0]) if starts else 0,
        step_seconds=int(starts[1] - starts[0]) if len(starts) > 1 else 0,
        step_width=step_w,
    )


def _band_paths(
    bands: Sequence[tuple[float, float, float] | None],
    left: float,
    step_w: float,
    y: Callable[[float], float],
) -> tuple[str, str]:
    """The band as one closed path per run of known buckets, and the expected line."""
    band_parts: list[str] = []
    line_parts: list[str] = []
    run: list[tuple[float, tuple[float, float, float]]] = []

    def close() -> None:
        if not run:
            return
        upper = " L".join(f"{x:.1f},{y(b[2])}" for x, b in run)
        lower = " L".join(f"{x:.1f},{y(b[0])}" for x, b in reversed(run))
        band_parts.append(f"M{upper} L{lower} Z")
        line_parts.append("M" + " L".join(f"{x:.1f},{y(b[1])}" for x, b in run))
        run.clear()

    for i, band in enumerate(bands):
        if band is None:
            close()
        else:
            run.append((left + (i + 0.5) * step_w, band))
    close()
    return " ".join(band_parts), " ".join(line_parts)


def sparkline(values: Sequence[int], *, width: int = 120, height: int = 28) -> str:
    """An SVG path of ``values`` scaled into the box (empty for an empty series)."""
    if not values:
        return ""
    top = max(max(values), 1)
    dx = width / max(len(values) - 1, 1)
    pts = [f"{i * dx:.1f},{height - 1 - v / top * (height - 2):.1f}" for i, v in enumerate(values)]
    return "M" + " L".join(pts)
