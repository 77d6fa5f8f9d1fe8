from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
