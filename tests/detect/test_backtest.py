from __future__ import annotations

import csv
import errno
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from panne.cli import main
from panne.detect import backtest_csv
from panne.detect.backtest import BacktestError, _read, format_incidents, run_backtest


def write(
    path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = ("timestamp", "count")
) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def series(
    step_minutes: int, days: int, outage_at: int | None, name: str = ""
) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(len(name) + step_minutes)
    n = days * 1440 // step_minutes
    out = []
    for i in range(n):
        minute = i * step_minutes
        c = int(rng.poisson(20 * step_minutes))
        if outage_at is not None and outage_at <= minute < outage_at + 90:
            c = c * 10 + 50
        day, rest = divmod(minute, 1440)
        ts = f"2024-05-{6 + day:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z"
        out.append((ts, str(c)) if not name else (name, ts, str(c)))
    return out


@pytest.mark.parametrize("step", [1, 5])
def test_round_trip_with_step_inference(tmp_path: Path, step: int) -> None:
    src = write(tmp_path / "in.csv", series(step, 4, 3 * 1440 + 600))
    result = run_backtest(src, tmp_path / "out.csv")
    assert result.step_seconds == step * 60
    with (tmp_path / "out.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == result.rows and set(rows[0]) == {"timestamp", "count", "expected",
                                                         "score", "alert"}  # fmt: skip
    assert all(0 <= float(r["score"]) <= 1 for r in rows)
    assert len(result.incidents) == 1
    assert "2024-05-09T10:" in format_incidents(result)


def test_many_series_in_one_file(tmp_path: Path) -> None:
    rows = series(1, 3, 2 * 1440 + 100, "a") + series(1, 3, None, "bb")
    src = write(tmp_path / "in.csv", rows, ("service", "timestamp", "count"))
    result = run_backtest(src, tmp_path / "out.csv", series_column="service")
    assert result.series == 2
    assert [i.series for i in result.incidents] == ["a"]


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([], ("timestamp", "count"), "no rows"),
        ([("x", "1")], ("time", "count"), "missing column timestamp"),
        ([("2024-05-06T00:00:00Z", "1"), ("yesterday", "2")], ("timestamp", "count"), "row 3"),
        ([("2024-05-06T00:01:00Z", "1"), ("2024-05-06T00:00:00Z", "2")], ("timestamp", "count"),
         "row 3: timestamps must increase"),
        ([("2024-05-06T00:00:00Z", "1"), ("2024-05-06T00:01:00Z", "2"),
          ("2024-05-06T00:02:30Z", "2")], ("timestamp", "count"), "row 4: irregular step"),
        ([("2024-05-06T00:00:00Z", "-1")], ("timestamp", "count"), "row 2: count"),
        ([("2024-05-06T00:00:00Z", "many")], ("timestamp", "count"), "not a number"),
        ([("2024-05-06T00:00:00Z", "1", "x")], ("timestamp", "count"),
         "row 2: 3 fields, the header has 2"),
        ([("a\nb", "2024-05-06T00:00:00Z", "1")], ("s", "timestamp", "count"), "line break"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_line(
    tmp_path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...], message: str
) -> None:
    src = write(tmp_path / "in.csv", rows, header)
    with pytest.raises(BacktestError, match=message):
        run_backtest(src, tmp_path / "out.csv")


def test_quoted_fields_and_blank_lines_are_read_as_csv(tmp_path: Path) -> None:
    rows = series(1, 3, 2 * 1440 + 100, "Meta, Inc.") + series(1, 3, None, 'say "hi"')
    src = write(tmp_path / "in.csv", rows, ("service", "timestamp", "count"))
    src.write_text(src.read_text().replace("\r\n", "\r\n\r\n", 5))  # blank lines: skipped
    result = run_backtest(src, tmp_path / "out.csv", series_column="service")
    assert [i.series for i in result.incidents] == ["Meta, Inc."]
    with (tmp_path / "out.csv").open(newline="") as f:
        out = list(csv.reader(f))
    assert out[0] == ["service", "timestamp", "count", "expected", "score", "alert"]
    assert [r[:3] for r in out[1:]] == [list(r) for r in rows]


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-05-06T00:00:00Z", "2024-05-06T00:01:00+00:00", "2024-05-06T00:02:00"],  # UTC
        ["2024-05-06T02:00:00+02:00", "2024-05-06T02:01:00+02:00", "2024-05-06T00:02:00Z"],
        ["2024-05-06 00:00:00Z", "2024-05-06T00:01:00.000Z", "2024-05-06T00:02Z"],
    ],
)
def test_every_iso_form_reads_as_the_same_instants(tmp_path: Path, stamps: list[str]) -> None:
    """The compiled pass (for the usual forms) and the row-by-row one agree."""
    src = write(tmp_path / "in.csv", [(t, "1") for t in stamps])
    assert run_backtest(src, tmp_path / "out.csv").step_seconds == 60
    table = _read(src, None)
    assert table.times.tolist() == [1714953600.0, 1714953660.0, 1714953720.0]


@pytest.mark.parametrize("bad", ["2024-02-30T00:00:00Z", "2024-05-06T24:00:00Z", "now"])
def test_an_impossible_time_is_named_with_its_row(tmp_path: Path, bad: str) -> None:
    src = write(tmp_path / "in.csv", [("2024-05-06T00:00:00Z", "1"), (bad, "2")])
    with pytest.raises(BacktestError, match=f"row 3: timestamp '{bad}' is not ISO 8601"):
        run_backtest(src, tmp_path / "out.csv")


def test_cli_prints_incidents_and_refuses_bad_files(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", series(1, 3, 2 * 1440 + 600))
    ok = subprocess.run([sys.executable, "-m", "panne", "backtest", str(src), "-o",
                         str(tmp_path / "o.csv")], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0 and "1 incident" in ok.stdout
    bad = write(tmp_path / "bad.csv", [("2024-05-06T00:00:00Z", "-3")])
    out = subprocess.run([sys.executable, "-m", "panne", "backtest", str(bad), "-o",
                          str(tmp_path / "o.csv")], capture_output=True, text=True)  # fmt: skip
    assert (
        out.returncode == 1
        and out.stderr.startswith("panne: row 2")
        and "Traceback" not in out.stderr
    )


T0 = datetime(2024, 5, 6, tzinfo=UTC)


def at(seconds: float) -> str:
    """A time ``seconds`` after T0, as ``isoformat`` writes it (microseconds when there are)."""
    return (T0 + timedelta(seconds=seconds)).isoformat()


def backtest(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """``panne backtest ARGS`` as the command runs it: its exit status and what it printed to
    stderr."""
    status = main(["backtest", *map(str, args)])
    return status, capsys.readouterr().err


PREVIOUS = b"an earlier run's output\n"


@pytest.mark.parametrize(("step", "shown"), [(0.5, "0.5"), (0.7, "0.7"), (90.5, "90.5")])
def test_a_step_of_no_whole_seconds_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: float, shown: str
) -> None:
    """0.5 s divided by zero; 0.7 s and 90.5 s were rounded to 1 s and 90 s, and rows fell
    into one step of the grid, one of them lost without a word."""
    src = write(tmp_path / "in.csv", [(at(k * step), "1") for k in range(300)])
    out = tmp_path / "out.csv"
    out.write_bytes(PREVIOUS)
    status, err = backtest(capsys, src, "-o", out)
    assert status == 1
    assert err.startswith(f"panne: {src}: row ")
    assert err.endswith(
        f": a step of {shown} s; the step must be a whole number of seconds, 1 s or more\n"
    )
    assert out.read_bytes() == PREVIOUS


def test_a_series_off_the_grid_of_the_others_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each series is regular, but b's times are 30 s past the minutes: rounded to the grid,
    its rows fell two by two into one step."""
    rows = [("a", at(60 * k), "1") for k in range(100)] + [
        ("b", at(60 * k + 30), "1") for k in range(100)
    ]
    src = write(tmp_path / "in.csv", rows, ("service", "timestamp", "count"))
    status, err = backtest(capsys, src, "-o", tmp_path / "out.csv", "--series", "service")
    assert (status, err) == (
        1,
        f"panne: {src}: row 102 (series 'b'): irregular step: 2024-05-06T00:00:30Z is 30 s "
        "off the 60 s steps from the first time, 2024-05-06T00:00:00Z\n",
    )
    assert not (tmp_path / "out.csv").exists()


def test_a_mistyped_year_is_refused_before_the_grid_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day of minutes, then one row in 2042: 9.5 million steps of the grid, almost all
    empty, were allocated and run (with more series or a shorter step, tens of GiB)."""
    rows = [(at(60 * k), "5") for k in range(1440)] + [("2042-05-06T00:00:00Z", "5")]
    src = write(tmp_path / "in.csv", rows)
    status, err = backtest(capsys, src, "-o", tmp_path / "out.csv")
    assert (status, err) == (
        1,
        f"panne: {src}: the times run from 2024-05-06T00:00:00Z to 2042-05-06T00:00:00Z, "
        "9,466,561 steps of 60 s, more than 8 times the 1,441 rows; the largest gap, "
        "6,573.0 days, is from 2024-05-06T23:59:00Z (row 1441) to 2042-05-06T00:00:00Z "
        "(row 1442): is a time mistyped?\n",
    )
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "minutes",
    [
        [*range(2 * 1440), *range(7 * 1440, 9 * 1440)],  # a collector down five days
        [0, 1, 365 * 1440],  # a year between rows: sparse, but a small grid
    ],
)
def test_collector_gaps_still_run(tmp_path: Path, minutes: list[int]) -> None:
    src = write(tmp_path / "in.csv", [(at(60 * m), "3") for m in minutes])
    result = run_backtest(src, tmp_path / "out.csv")
    assert (result.rows, result.step_seconds) == (len(minutes), 60)
    assert len((tmp_path / "out.csv").read_text().splitlines()) == len(minutes) + 1


def test_a_series_that_starts_late_is_no_sparse_grid(tmp_path: Path) -> None:
    """The bound is on the fullest series: a service added on the last day is not a gap."""
    rows = series(1, 4, None, "a") + series(1, 4, None, "b")[-60:]
    src = write(tmp_path / "in.csv", rows, ("service", "timestamp", "count"))
    assert run_backtest(src, tmp_path / "out.csv", series_column="service").series == 2


def failing_after_one_piece(error: BaseException) -> Callable[..., Iterator[bytes]]:
    """``backtest_csv.formatted`` that writes its first piece of rows, then fails."""
    formatted = backtest_csv.formatted

    def pieces(*args: Any) -> Iterator[bytes]:
        yield next(formatted(*args, chunk=100))
        raise error

    return pieces


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 1, "cannot be written (No space left"),
        (KeyboardInterrupt(), 130, ""),
    ],
)
def test_a_failed_write_leaves_the_previous_output_unchanged(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    status: int,
    message: str,
) -> None:
    src = write(tmp_path / "in.csv", series(1, 1, None))
    out = tmp_path / "out.csv"
    out.write_bytes(PREVIOUS)
    with monkeypatch.context() as m:
        m.setattr(backtest_csv, "formatted", failing_after_one_piece(error))
        got, err = backtest(capsys, src, "-o", out)
    assert got == status
    assert err == (f"panne: {out}: {message} on device)\n" if message else "")
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary
    assert backtest(capsys, src, "-o", out) == (0, "")  # then a run that succeeds replaces it
    assert out.read_text().startswith("timestamp,count,expected,score,alert\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("missing/out.csv", "cannot be written (No such file or directory)"),
        ("folder", "is a directory, not a file"),
        ("in.csv/out.csv", "cannot be written (Not a directory)"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, reason: str
) -> None:
    src = write(tmp_path / "in.csv", series(1, 1, None))
    (tmp_path / "folder").mkdir()
    status, err = backtest(capsys, src, "-o", tmp_path / output)
    assert (status, err) == (1, f"panne: {tmp_path / output}: {reason}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "in.csv"]
    assert not any((tmp_path / "folder").iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permissions say")
def test_an_output_without_permission_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "in.csv", series(1, 1, None))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    status, err = backtest(capsys, src, "-o", locked / "out.csv")
    assert (status, err) == (
        1,
        f"panne: {locked / 'out.csv'}: cannot be written (Permission denied)\n",
    )
