"""The compiled CSV passes read what the general way reads and write what ``format`` writes,
exactly; where a file leaves the usual form they say so, and the backtest reads it the general
way instead, to the same table."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panne.detect import backtest_csv
from panne.detect.backtest import _epoch, _read, run_backtest


def written(values: list[float], k: int) -> list[str]:
    """The values as the compiled pass writes them in the column of ``k`` decimals."""
    x = np.array(values, dtype=np.float64)
    zero = np.zeros_like(x)
    e, s = (x, zero) if k == 3 else (zero, x)
    data = b"".join(b"r\n" for _ in values)
    starts, ends = backtest_csv.line_spans(data)
    out = b"".join(backtest_csv.formatted(data, starts, ends, e, s, x > 1, chunk=7))
    return [line.split(",")[1 if k == 3 else 2] for line in out.decode().splitlines()]


TIES = [n / 2000 for n in range(0, 4001)] + [n / 20000 for n in range(0, 40001, 7)]
EDGES = [0.0, -0.0, -0.0001, -2.5, 5e-324, 2.2e-308, 0.0005, 0.00049999999999999, 0.00005,
         2.0**40 - 1, 2.0**40 - 2.0**-12, 1234567.0625, 999.9995, 9.99995, 0.99995]  # fmt: skip


@pytest.mark.parametrize("k", [3, 4])
def test_fixed_decimals_are_pythons_on_ties_and_edges(k: int) -> None:
    values = TIES + EDGES + [np.nextafter(t, 1) for t in TIES] + [np.nextafter(t, 0) for t in TIES]
    assert written(values, k) == [format(v, f".{k}f") for v in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-(2.0**40) + 1, max_value=2.0**40 - 1), min_size=1))
def test_fixed_decimals_are_pythons_for_any_double(values: list[float]) -> None:
    for k in (3, 4):
        assert written(values, k) == [format(v, f".{k}f") for v in values]


def test_the_widest_rows_fit_their_piece() -> None:
    """Both columns at their widest, on every row of a piece: nothing written past its end."""
    x = np.full(50, -(2.0**40) + 2.0**-12)
    data = b"r\n" * 50
    starts, ends = backtest_csv.line_spans(data)
    out = b"".join(backtest_csv.formatted(data, starts, ends, x, x, x < 0, chunk=16))
    line = f"r,{x[0]:.3f},{x[0]:.4f},1"
    assert out.decode().splitlines() == [line] * 50


def test_what_it_cannot_write_is_said() -> None:
    assert backtest_csv.writable(np.array([0.0, 2.0**40 - 1]))
    for v in (np.nan, np.inf, -np.inf, 2.0**40, 1e300):
        assert not backtest_csv.writable(np.array([1.0, v]))


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"a\nb\n", ["a", "b"]),
        (b"a\r\nb", ["a", "b"]),
        (b"a\rb\r\n\r\n\nc", ["a", "b", "c"]),
        (b"\n\na,b\n", ["a,b"]),
        (b"", []),
    ],
)
def test_lines_end_at_cr_lf_or_both_and_blank_ones_are_left_out(
    data: bytes, lines: list[str]
) -> None:
    starts, ends = backtest_csv.line_spans(data)
    assert [data[a:b].decode() for a, b in zip(starts, ends, strict=True)] == lines


def parse(rows: list[str], series: int | None = None) -> backtest_csv.Parsed | int:
    data = "\n".join(rows).encode()
    starts, ends = backtest_csv.line_spans(data)
    columns = rows[0].count(",") + 1
    at = 0 if series is None else 1
    return backtest_csv.parse(data, starts, ends, columns, at, at + 1, series)


STAMPS = ["2024-05-06T00:00:00Z", "2024-05-06T00:01:00+00:00", "2024-05-06 00:02:00",
          "2024-05-06T00:03", "2024-05-06 00:04Z", "2024-02-29T23:59:59Z", "0001-01-01T00:00:00",
          "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "2000-02-29T12:00:00"]  # fmt: skip


def test_times_are_the_instants_fromisoformat_gives() -> None:
    parsed = parse([f"{t},1" for t in STAMPS])
    assert isinstance(parsed, backtest_csv.Parsed)
    assert parsed.times.tolist() == [_epoch(t) for t in STAMPS]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"\A[0-9]{1,15}\Z|\A[0-9]{0,7}\.[0-9]{0,8}\Z", fullmatch=True)
                .filter(lambda s: any(c.isdigit() for c in s)), min_size=1))  # fmt: skip
def test_counts_are_the_doubles_float_gives(counts: list[str]) -> None:
    parsed = parse([f"2024-05-06T00:00:00Z,{c}" for c in counts])
    assert isinstance(parsed, backtest_csv.Parsed)
    assert parsed.counts.tolist() == [float(c) for c in counts]


@pytest.mark.parametrize(
    "row",
    [
        "2024-02-30T00:00:00Z,1",  # no such day
        "2023-02-29T00:00:00Z,1",
        "2024-05-06T24:00:00Z,1",
        "2024-05-06T00:60:00Z,1",
        "2024-05-06T00:00:60Z,1",
        "0000-05-06T00:00:00Z,1",
        "2024-05-06T02:00:00+02:00,1",  # another offset: the general way
        "2024-05-06T00:00:00.000Z,1",
        "2024-05-06t00:00:00Z,1",
        "2024-5-06T00:00:00Z,1",
        "now,1",
        "2024-05-06T00:00:00Z,-1",
        "2024-05-06T00:00:00Z,1e3",
        "2024-05-06T00:00:00Z, 1",
        "2024-05-06T00:00:00Z,1.2.3",
        "2024-05-06T00:00:00Z,.",
        "2024-05-06T00:00:00Z,",
        "2024-05-06T00:00:00Z,1234567890123456",
        "2024-05-06T00:00:00Z,nan",
        "2024-05-06T00:00:00Z,1,2",
        "2024-05-06T00:00:00Z",
        '"2024-05-06T00:00:00Z",1',
    ],
)
def test_a_row_out_of_the_usual_form_is_named(row: str) -> None:
    assert parse(["2024-05-06T00:00:00Z,1", row, "2024-05-06T00:02:00Z,1"]) == 1


def test_series_are_coded_in_order_of_first_appearance() -> None:
    names = [f"s{i}" for i in range(300)] + ["é", "s", "", "s0"]  # past every table's growth
    rows = [f"{n},2024-05-06T00:{i % 60:02d}:00Z,{i}" for i, n in enumerate(names)]
    parsed = parse(rows + rows[::-1], series=0)
    assert isinstance(parsed, backtest_csv.Parsed)
    distinct = list(dict.fromkeys(names))
    codes = [distinct.index(n) for n in names]
    assert parsed.codes.tolist() == codes + codes[::-1]
    assert parsed.firsts.tolist() == [names.index(n) for n in distinct]


def export(path: Path, *, quoted: bool) -> Path:
    rng = np.random.default_rng(3)
    with path.open("w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL)
        w.writerow(["service", "timestamp", "count"])
        for minute in range(3 * 1440):
            for name in ("a", "b", "c"):
                day, rest = divmod(minute, 1440)
                ts = f"2024-05-{6 + day:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z"
                n = rng.poisson(30) * (8 if name == "b" and 2000 < minute < 2100 else 1)
                w.writerow([name, ts, f"{n}.5" if minute % 7 == 0 else n])
    return path


def test_the_compiled_and_the_general_read_give_the_same_backtest(tmp_path: Path) -> None:
    """The same rows, quoted (which only the general way reads) and not: the same table, the
    same output columns, the same incidents."""
    plain = export(tmp_path / "plain.csv", quoted=False)
    quoted = export(tmp_path / "quoted.csv", quoted=True)
    data = quoted.read_bytes()
    starts, ends = backtest_csv.line_spans(data)
    assert backtest_csv.parse(data, starts[1:], ends[1:], 3, 1, 2, 0) == 0  # the general way
    a, b = _read(plain, "service"), _read(quoted, "service")
    for name in ("codes", "times", "counts"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist()
    assert a.names == b.names == ["a", "b", "c"]
    results = [run_backtest(p, tmp_path / f"{p.stem}-out.csv", series_column="service")
               for p in (plain, quoted)]  # fmt: skip
    assert results[0].incidents == results[1].incidents and results[0].incidents
    outputs = [(tmp_path / f"{p}-out.csv").read_text() for p in ("plain", "quoted")]
    outputs = [list(csv.reader(text.splitlines())) for text in outputs]
    assert outputs[0] == outputs[1]


def test_values_beyond_the_compiled_writer_are_written_by_python(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    rows = [f"2024-05-06T00:{m:02d}:00Z,{m + 1}e300" for m in range(60)]
    src.write_text("timestamp,count\n" + "\n".join(rows) + "\n")
    run_backtest(src, tmp_path / "out.csv")
    out = list(csv.DictReader((tmp_path / "out.csv").read_text().splitlines()))
    assert [r["count"] for r in out] == [r.split(",")[1] for r in rows]
    assert float(out[-1]["expected"]) > 1e300 and out[-1]["expected"].endswith(".000")
    assert all(r["expected"] == format(float(r["expected"]), ".3f") for r in out)


@pytest.mark.parametrize("exponent", ["", "e300"])  # the compiled writer, then Python's
def test_no_score_is_written_with_a_minus_sign(tmp_path: Path, exponent: str) -> None:
    """A p-value of 1 scores -log10(1) = -0.0, which both writers wrote "-0.0000"."""
    src = tmp_path / "in.csv"
    rows = [f"2024-05-06T{m // 60:02d}:{m % 60:02d}:00Z,{m % 13}{exponent}" for m in range(600)]
    src.write_text("timestamp,count\n" + "\n".join(rows) + "\n")
    run_backtest(src, tmp_path / "out.csv")
    scores = [r["score"] for r in csv.DictReader((tmp_path / "out.csv").read_text().splitlines())]
    assert "0.0000" in scores
    assert all(0 <= float(s) <= 1 and not s.startswith("-") for s in scores)
