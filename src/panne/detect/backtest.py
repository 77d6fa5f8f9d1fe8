"""`panne backtest`: the live detector, run offline over a CSV of counts.

Users tune settings on their own history, so the file's problems are reported as one clear
line naming the row, and the detector is the very same :class:`SeasonalBank` the live node runs
(series of one file run side by side, one bank row each, the whole history in one call).
"""

from __future__ import annotations

import codecs
import csv
import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

import numpy as np

from panne.detect import backtest_csv
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


@dataclass
class _Table:
    """A CSV of counts, checked: its bytes, where its data lines are, and their columns parsed."""

    data: bytes  # the file, its byte-order mark left out
    header: bytes  # the header line as written
    starts: np.ndarray  # per data line (blank lines left out), where it starts and ends in data
    ends: np.ndarray
    codes: np.ndarray  # per line, the index of its series in ``names``
    names: list[str]
    times: np.ndarray  # per line, epoch seconds
    counts: np.ndarray


def _epoch(text: str) -> float:
    """Epoch seconds of an ISO 8601 time; UTC unless it says otherwise."""
    at = datetime.fromisoformat(text.strip())
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _times(stamps: list[str]) -> np.ndarray:
    """Epoch seconds per row; several series share their timestamps, so each distinct one is
    parsed once."""
    unique = dict.fromkeys(stamps)
    try:
        epoch = dict(zip(unique, map(_epoch, unique), strict=True))
    except ValueError:
        i, bad = next((i, t) for i, t in enumerate(stamps, start=2) if _fails(_epoch, t))
        raise BacktestError(f"row {i}: timestamp {bad!r} is not ISO 8601") from None
    return np.fromiter(map(epoch.__getitem__, stamps), dtype=np.float64, count=len(stamps))


def _fails(parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return True
    return False


def _fields(path: Path, lines: list[str]) -> list[list[str]]:
    """Each line's fields. A file without a quote character is its lines split on commas,
    exactly as the csv module would read it and several times faster; one with quotes goes
    through the csv module, line by line, so every record stays one line of the output."""
    if not any('"' in line for line in lines):
        return [line.split(",") for line in lines]
    records = list(csv.reader(lines))
    if len(records) != len(lines):
        raise BacktestError(f"{path}: a quoted field holds a line break")
    return records


def _read(path: Path, series_column: str | None) -> _Table:
    """The file read by the compiled passes when it is in the usual form, the general way
    (the csv module, ``fromisoformat``, ``float``) when not, which also words its errors."""
    try:
        data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    except OSError as exc:
        raise BacktestError(f"{path}: {exc.strerror}") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise BacktestError(f"{path}: not UTF-8 text") from None
    starts, ends = backtest_csv.line_spans(data)
    head = data[starts[0] : ends[0]] if starts.size else b""
    header = next(csv.reader([head.decode()]), [])
    needed = ["timestamp", "count"] + ([series_column] if series_column else [])
    missing = [c for c in needed if c not in header]
    if missing:
        raise BacktestError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (found: {', '.join(header) or 'nothing'})"
        )
    if starts.size < 2:
        raise BacktestError(f"{path}: no rows after the header")
    starts, ends = starts[1:], ends[1:]
    key = header.index(series_column) if series_column else None
    rows = backtest_csv.parse(
        data, starts, ends, len(header), header.index("timestamp"), header.index("count"), key
    )
    if isinstance(rows, backtest_csv.Parsed):
        names = [""]
        if key is not None:
            firsts = (data[starts[i] : ends[i]].decode() for i in rows.firsts.tolist())
            names = [line.split(",")[key] for line in firsts]
        return _Table(data, head, starts, ends, rows.codes, names, rows.times, rows.counts)
    lines = [data[a:b].decode() for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    records = _fields(path, lines)
    if set(map(len, records)) != {len(header)}:
        i, r = next((i, r) for i, r in enumerate(records, start=2) if len(r) != len(header))
        raise BacktestError(f"row {i}: {len(r)} fields, the header has {len(header)}")
    stamps = list(map(itemgetter(header.index("timestamp")), records))
    times = _times(stamps)
    column = list(map(itemgetter(header.index("count")), records))
    try:
        counts = np.array(column, dtype=np.float64)
    except ValueError:
        i, n = next((i, n) for i, n in enumerate(column, start=2) if _fails(float, n))
        raise BacktestError(f"row {i}: count {n!r} is not a number") from None
    bad = ~(np.isfinite(counts) & (counts >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise BacktestError(f"row {i + 2}: count {column[i]!r} must be zero or more")
    index: dict[str, int] = {}
    if key is not None:
        codes = np.array([index.setdefault(r[key], len(index)) for r in records])
    else:
        index[""] = 0
        codes = np.zeros(len(records), dtype=np.int64)
    return _Table(data, head, starts, ends, codes, list(index), times, counts)


def _step(table: _Table) -> int:
    """The step between a series' timestamps, the smallest seen; every gap is a multiple of it."""
    order = np.argsort(table.codes, kind="stable")  # each series' rows together, in file order
    times, codes, rows = table.times[order], table.codes[order], order[1:] + 2
    same = codes[1:] == codes[:-1]
    gaps = np.diff(times)
    back = same & (gaps <= 0)
    if back.any():
        row = int(rows[back].min())
        name = table.names[int(table.codes[row - 2])]
        raise BacktestError(f"row {row}: timestamps must increase" +
                            (f" (series {name!r})" if name else ""))  # fmt: skip
    gaps, rows = gaps[same], rows[same]
    if not gaps.size:
        return 60
    step = float(gaps.min())
    ratio = gaps / step
    odd = np.abs(ratio - np.rint(ratio)) > 1e-6
    if odd.any():
        k = int(np.argmin(np.where(odd, rows, np.iinfo(np.int64).max)))
        raise BacktestError(
            f"row {rows[k]}: irregular step ({gaps[k]:g} s after a step of {step:g} s)"
        )
    return round(step)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading a file makes a few objects per row, all kept: the cycle collector would walk
    the growing heap again and again for nothing (a third of the read's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_backtest(
    input_path: Path, output_path: Path, *, series_column: str | None = None
) -> BacktestResult:
    with _collector_paused():
        table = _read(input_path, series_column)
    step = _step(table)
    first = float(table.times.min())
    width = round((float(table.times.max()) - first) / step) + 1
    grid = np.full((len(table.names), width), np.nan)
    at = np.rint((table.times - first) / step).astype(np.int64)
    grid[table.codes, at] = table.counts
    bank = SeasonalBank(len(table.names))
    t0 = time.perf_counter()
    judged = bank.run((first + np.arange(width) * step).astype(np.int64), grid)
    seconds = time.perf_counter() - t0
    expected, alert = judged.expected, judged.alert
    row = (table.codes, at)
    expected_rows, score_rows, alert_rows = expected[row], judged.score[row], alert[row]
    with output_path.open("wb") as f:
        f.write(table.header + b",expected,score,alert\n")
        if backtest_csv.writable(expected_rows) and backtest_csv.writable(score_rows):
            f.writelines(
                backtest_csv.formatted(
                    table.data, table.starts, table.ends, expected_rows, score_rows, alert_rows
                )
            )
        else:  # a count of 1e300: beyond what the compiled pass writes
            spans = zip(table.starts.tolist(), table.ends.tolist(), strict=True)
            columns = (
                (table.data[a:b].decode() for a, b in spans),
                map("{:.3f}".format, expected_rows.tolist()),
                map("{:.4f}".format, score_rows.tolist()),
                np.where(alert_rows, "1", "0").tolist(),
            )
            f.writelines(f"{line}\n".encode() for line in map(",".join, zip(*columns, strict=True)))
    found = []
    for s, name in enumerate(table.names):
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
    return BacktestResult(table.starts.size, len(table.names), step, seconds, found)


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
