"""`panne backtest`: the live detector, run offline over a CSV of counts.

Users tune settings on their own history, so the file's problems are reported as one clear
line naming the row, and the detector is the very same :class:`SeasonalBank` the live node runs
(series of one file run side by side, one bank row each, the whole history in one call).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from panne.detect.seasonal import SeasonalBank

MERGE_STEPS = 10  # alerts this close together are one incident


class BacktestError(ValueError):
    """The input cannot be backtested; the message says where and why."""


@dataclass(frozen=True)
class BacktestIncident:
    series: str
    start: float
    end: float
    peak_count: float
    peak_ratio: float


@dataclass
class BacktestResult:
    rows: int
    series: int
    step_seconds: int
    seconds: float
    incidents: list[BacktestIncident] = field(default_factory=list)


def _parse_time(text: str, row: int) -> float:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BacktestError(f"row {row}: timestamp {text!r} is not ISO 8601") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def _read(
    path: Path, series_column: str | None
) -> tuple[list[str], list[dict[str, str]], list[str], list[float], list[float]]:
    try:
        f = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BacktestError(f"{path}: {exc.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        needed = ["timestamp", "count"] + ([series_column] if series_column else [])
        missing = [c for c in needed if c not in header]
        if missing:
            raise BacktestError(
                f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (found: {', '.join(header) or 'nothing'})"
            )
        rows = list(reader)
    if not rows:
        raise BacktestError(f"{path}: no rows after the header")
    keys, times, counts = [], [], []
    for i, r in enumerate(rows, start=2):
        times.append(_parse_time(r["timestamp"] or "", i))
        try:
            n = float(r["count"])
        except (TypeError, ValueError):
            raise BacktestError(f"row {i}: count {r['count']!r} is not a number") from None
        if not math.isfinite(n) or n < 0:
            raise BacktestError(f"row {i}: count {r['count']!r} must be zero or more")
        counts.append(n)
        keys.append(r[series_column] if series_column else "")
    return header, rows, keys, times, counts


def _step(keys: list[str], times: list[float]) -> int:
    last: dict[str, tuple[float, int]] = {}
    diffs: list[tuple[float, int]] = []
    for i, (k, t) in enumerate(zip(keys, times, strict=True), start=2):
        if k in last:
            before, _ = last[k]
            if t <= before:
                raise BacktestError(f"row {i}: timestamps must increase (series {k!r})" if k
                                    else f"row {i}: timestamps must increase")  # fmt: skip
            diffs.append((t - before, i))
        last[k] = (t, i)
    if not diffs:
        return 60
    step = min(d for d, _ in diffs)
    for d, i in diffs:
        if abs(d / step - round(d / step)) > 1e-6:
            raise BacktestError(f"row {i}: irregular step ({d:g} s after a step of {step:g} s)")
    return round(step)


def run_backtest(
    input_path: Path, output_path: Path, *, series_column: str | None = None
) -> BacktestResult:
    header, rows, keys, times, counts = _read(input_path, series_column)
    step = _step(keys, times)
    names = list(dict.fromkeys(keys))
    index = {k: i for i, k in enumerate(names)}
    first = min(times)
    width = round((max(times) - first) / step) + 1
    grid = np.full((len(names), width), np.nan)
    pos = [(index[k], round((t - first) / step)) for k, t in zip(keys, times, strict=True)]
    for (s, j), n in zip(pos, counts, strict=True):
        grid[s, j] = n
    bank = SeasonalBank(len(names))
    t0 = time.perf_counter()
    judged = bank.run((first + np.arange(width) * step).astype(np.int64), grid)
    seconds = time.perf_counter() - t0
    expected, score, alert = judged.expected, judged.score, judged.alert
    extra = ["expected", "score", "alert"]
    with output_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*header, *extra])
        for r, (s, j) in zip(rows, pos, strict=True):
            w.writerow([*(r[c] for c in header), f"{expected[s, j]:.3f}", f"{score[s, j]:.4f}",
                        int(alert[s, j])])  # fmt: skip
    found = []
    for s, name in enumerate(names):
        for a, b in _spans(alert[s]):
            seg = slice(a, b + 1)
            peak = int(np.nanargmax(grid[s, seg])) + a
            found.append(
                BacktestIncident(
                    name,
                    first + a * step,
                    first + (b + 1) * step,
                    float(grid[s, peak]),
                    float(grid[s, peak] / max(expected[s, peak], 1e-3)),
                )
            )
    return BacktestResult(len(rows), len(names), step, seconds, found)


def _spans(alert: np.ndarray) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in np.flatnonzero(alert):
        if out and i - out[-1][1] <= MERGE_STEPS:
            out[-1] = (out[-1][0], int(i))
        else:
            out.append((int(i), int(i)))
    return out


def format_incidents(result: BacktestResult) -> str:
    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")

    lines = [
        f"{result.rows} rows, {result.series} series, step {result.step_seconds} s: "
        f"{len(result.incidents)} incident{'s' if len(result.incidents) != 1 else ''}"
    ]
    for inc in result.incidents:
        where = f"{inc.series}: " if inc.series else ""
        lines.append(
            f"  {where}{iso(inc.start)} to {iso(inc.end)}, peak {inc.peak_count:g} "
            f"({inc.peak_ratio:.1f}× expected)"
        )
    return "\n".join(lines)
