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
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path

import numpy as np

from panne.detect import backtest_csv
from panne.detect.seasonal import SeasonalBank
from panne.output_file import PendingFile

MERGE_STEPS = 10  # alerts this close together are one incident
# The detector's clock is whole epoch seconds (``SeasonalBank.run`` takes int64 times): a step
# is a whole number of seconds, 1 or more, or rows would share a judged time.
MIN_STEP = 1
# How far (s) a time may lie from its point of the grid: far above the rounding of epoch
# seconds in a double (2.4e-7 s today), far below the smallest step.
ON_GRID = 1e-3
# The grid is every step from the first time to the last, for every series. One mistyped year
# makes it years of empty cells (tens of GiB): refused when it is more than SPARSE_RATIO times
# the rows of the fullest series (whose collector was then down seven eighths of the time)
# and more than SPARSE_CELLS cells (so a small file with long gaps, cheap whatever they are,
# still runs).
SPARSE_RATIO = 8
SPARSE_CELLS = 1 << 20


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


@dataclass(frozen=True)
class _Grid:
    """The detector's view of a table: ``width`` steps of ``step`` seconds from ``first`` for
    every series, and per row the step it falls in, ``at`` (no two rows of a series share
    one)."""

    first: float
    step: int
    width: int
    at: np.ndarray


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


def _grid(path: Path, table: _Table) -> _Grid:
    """Each row's step on one grid for all series: the smallest gap between a series' times is
    the step, and every time must be a whole number of steps from the first of the file, or
    two rows would fall into one step (one of them lost) or a row be judged at another time."""
    order = np.argsort(table.codes, kind="stable")  # each series' rows together, in file order
    times, codes, rows = table.times[order], table.codes[order], order[1:] + 2
    same = codes[1:] == codes[:-1]
    gaps = np.diff(times)
    back = same & (gaps <= 0)
    if back.any():
        row = _row(table, int(rows[back].min()))
        raise BacktestError(f"{path}: {row}: timestamps must increase")
    gaps, rows = gaps[same], rows[same]
    step = 60  # one row per series: no gap to infer it from, and any step places the rows
    if gaps.size:
        k = int(np.argmin(gaps))
        step = round(float(gaps[k]))
        if step < MIN_STEP or abs(gaps[k] - step) > ON_GRID:
            raise BacktestError(
                f"{path}: {_row(table, int(rows[k]))}: a step of {_seconds(gaps[k])} s; the "
                f"step must be a whole number of seconds, {MIN_STEP} s or more"
            )
    first = float(table.times.min())
    at = np.rint((table.times - first) / step)
    off = np.abs(table.times - first - at * step)
    odd = off > ON_GRID
    if odd.any():
        i = int(np.argmax(odd))
        raise BacktestError(
            f"{path}: {_row(table, i + 2)}: irregular step: {_iso(table.times[i])} is "
            f"{_seconds(off[i])} s off the {step} s steps from the first time, {_iso(first)}"
        )
    width = int(at.max()) + 1
    fullest = int(np.bincount(table.codes).max())
    if width > SPARSE_RATIO * fullest and len(table.names) * width > SPARSE_CELLS:
        raise BacktestError(_sparse(path, table, step, width, fullest))
    return _Grid(first, step, width, at.astype(np.int64))


def _sparse(path: Path, table: _Table, step: int, width: int, fullest: int) -> str:
    """Why a grid is refused, with the largest gap between the file's times: where a year or
    a month is mistyped, that gap ends (or starts) at the row to fix."""
    order = np.argsort(table.times, kind="stable")
    times = table.times[order]
    k = int(np.argmax(np.diff(times)))
    of = " of the fullest series" if len(table.names) > 1 else ""
    return (
        f"{path}: the times run from {_iso(times[0])} to {_iso(times[-1])}, {width:,} steps "
        f"of {step} s, more than {SPARSE_RATIO} times the {fullest:,} rows{of}; the largest "
        f"gap, {_duration(times[k + 1] - times[k])}, is from {_iso(times[k])} (row "
        f"{int(order[k]) + 2}) to {_iso(times[k + 1])} (row {int(order[k + 1]) + 2}): is a "
        f"time mistyped?"
    )


def _row(table: _Table, row: int) -> str:
    """A row as messages name it: its number and, in a file of several, its series."""
    name = table.names[int(table.codes[row - 2])]
    return f"row {row}" + (f" (series {name!r})" if name else "")


def _seconds(x: float) -> str:
    """Seconds as messages write them: to the microsecond that ISO 8601 times carry."""
    return f"{round(float(x), 6):.15g}"


def _duration(seconds: float) -> str:
    """A gap in the unit it is read in: a mistyped year is thousands of days, not seconds."""
    if seconds >= 86_400:
        return f"{seconds / 86_400:,.1f} days"
    return f"{seconds / 3_600:,.1f} hours" if seconds >= 3_600 else f"{_seconds(seconds)} s"


def _iso(t: float) -> str:
    """A time as messages write it (UTC), by timedelta: ``fromtimestamp`` fails before 1970
    on some systems."""
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=float(t))
    spec = "microseconds" if at.microsecond else "seconds"
    return at.isoformat(timespec=spec).replace("+00:00", "Z")


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
    g = _grid(input_path, table)
    first, step = g.first, g.step
    with PendingFile(output_path) as out:
        grid = np.full((len(table.names), g.width), np.nan)
        grid[table.codes, g.at] = table.counts
        bank = SeasonalBank(len(table.names))
        t0 = time.perf_counter()
        judged = bank.run((first + np.arange(g.width) * step).astype(np.int64), grid)
        seconds = time.perf_counter() - t0
        expected, alert = judged.expected, judged.alert
        row = (table.codes, g.at)
        expected_rows, score_rows, alert_rows = expected[row], judged.score[row], alert[row]
        score_rows += 0.0  # -0.0 (p = 1 scores -log10(1)) to 0.0: written without a "-"
        out.commit(_lines(table, expected_rows, score_rows, alert_rows))
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


def _lines(
    table: _Table, expected: np.ndarray, score: np.ndarray, alert: np.ndarray
) -> Iterator[bytes]:
    """The input's lines, each with its expected count, score and alert."""
    yield table.header + b",expected,score,alert\n"
    if backtest_csv.writable(expected) and backtest_csv.writable(score):
        yield from backtest_csv.formatted(
            table.data, table.starts, table.ends, expected, score, alert
        )
    else:  # a count of 1e300: beyond what the compiled pass writes
        spans = zip(table.starts.tolist(), table.ends.tolist(), strict=True)
        columns = (
            (table.data[a:b].decode() for a, b in spans),
            map("{:.3f}".format, expected.tolist()),
            map("{:.4f}".format, score.tolist()),
            np.where(alert, "1", "0").tolist(),
        )
        yield from (f"{line}\n".encode() for line in map(",".join, zip(*columns, strict=True)))


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
