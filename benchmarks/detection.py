"""Detection quality and speed on a labelled corpus from `panne.simulate`, against a reference.

Scores the seasonal detector (and its share detector for countries) and the same-time-yesterday
rule on the same series in one run: recall (first alert within 15 minutes of onset, 45 for slow
burns), false alarms per series-week, detection delay, country attribution for single-country
outages, throughput and state size. Prints a Markdown table. Then times `panne backtest` end to
end (the same function the command runs: read the CSV, detect, write the CSV) on a file of many
series and on one long series.

Run: .venv/bin/python benchmarks/detection.py [--series 200] [--weeks 4] [--seed 0]
     [--backtest-series 50] [--backtest-weeks 52]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from panne.detect import SeasonalBank, ShareBank
from panne.detect.backtest import run_backtest
from panne.detect.reference import same_time_yesterday
from panne.simulate import SeriesCase, detection_corpus, write_csv

MERGE_MINUTES = 10


def spans(alert: np.ndarray) -> list[tuple[int, int]]:
    """Alert minutes merged into spans, tolerating short quiet gaps."""
    idx = np.flatnonzero(alert)
    out: list[tuple[int, int]] = []
    for i in idx:
        if out and i - out[-1][1] <= MERGE_MINUTES:
            out[-1] = (out[-1][0], int(i))
        else:
            out.append((int(i), int(i)))
    return out


@dataclass
class BankRun:
    """What one group of series (same start, same length) gave."""

    alerts: np.ndarray  # totals: (series, minutes)
    part_alerts: np.ndarray  # every country series: (parts, minutes)
    parts: list[tuple[int, str]]  # row of the total, country code, per country series
    seconds_totals: float = 0.0
    seconds_parts: float = 0.0
    state_bytes: int = 0
    country_first: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def run_banks(group: list[SeriesCase]) -> BankRun:
    counts = np.stack([c.counts.astype(float) for c in group])
    counts[counts < 0] = np.nan
    parts = [(k, code, arr) for k, c in enumerate(group) for code, arr in c.by_country.items()]
    pc = np.stack([a.astype(float) for _, _, a in parts])
    pc[pc < 0] = np.nan
    bank = SeasonalBank(len(group))
    shares = ShareBank(np.array([k for k, _, _ in parts]))
    run = BankRun(
        np.zeros(counts.shape, dtype=bool),
        np.zeros(pc.shape, dtype=bool),
        [(k, code) for k, code, _ in parts],
    )
    start = int(group[0].start)
    clock = time.perf_counter
    for m in range(counts.shape[1]):
        minute = start + 60 * m
        t0 = clock()
        j = bank.step(minute, counts[:, m])
        t1 = clock()
        s = shares.step(minute, pc[:, m], counts[:, m], j)
        t2 = clock()
        run.seconds_totals += t1 - t0
        run.seconds_parts += t2 - t1
        run.alerts[:, m] = j.alert
        run.part_alerts[:, m] = s.alert
    for i in np.flatnonzero(run.part_alerts.any(axis=1)):
        k, code = run.parts[i]
        for m in np.flatnonzero(run.part_alerts[i]):
            run.country_first.setdefault(group[k].name, []).append((code, int(m)))
    for hits in run.country_first.values():
        hits.sort(key=lambda h: h[1])
    size = max(len(json.dumps(bank.state_of(i))) for i in range(len(group)))
    size_share = max(len(json.dumps(shares.state_of(i))) for i in range(len(parts)))
    run.state_bytes = max(size, size_share)
    return run


def tier(case: SeriesCase) -> str:
    return case.name.split("-")[0]


def false_alarms(alert: np.ndarray, case: SeriesCase) -> int:
    """Alert spans that overlap no labelled outage (nor the half hour after one)."""
    windows = [((o.start - case.start) // 60, (o.end - case.start) // 60) for o in case.outages]
    return sum(not any(s0 <= e + 30 and s1 >= b for b, e in windows) for s0, s1 in spans(alert))


def score(
    cases: list[SeriesCase], alerts: dict[str, np.ndarray], parts: dict[str, np.ndarray]
) -> dict[str, float]:
    """A single-country outage counts as found when its country's series alerts: that is what
    the share detector is for; the total may not move at all."""
    found = total = false = false_parts = 0
    delays: list[int] = []
    by_tier: dict[str, list[int]] = defaultdict(list)
    weeks = 0.0
    for c in cases:
        a = alerts[c.name]
        weeks += len(c.counts) / (7 * 1440)
        false += false_alarms(a, c)
        false_parts += false_alarms(parts[c.name], c)
        for o in c.outages:
            b = int((o.start - c.start) // 60)
            total += 1
            allowed = 45 if o.kind == "slow_burn" else 15
            seen = parts[c.name] if o.kind == "single_country" else a
            hits = np.flatnonzero(seen[b : b + allowed + 1])
            if hits.size:
                found += 1
                if o.kind == "sharp":
                    delays.append(int(hits[0]))
                    by_tier[tier(c)].append(int(hits[0]))
    out = {
        "recall": found / max(total, 1),
        "false_per_series_week": false / max(weeks, 1e-9),
        "false_parts_per_series_week": false_parts / max(weeks, 1e-9),
        "delay_median": float(np.median(delays)) if delays else float("nan"),
        "delay_p90": float(np.percentile(delays, 90)) if delays else float("nan"),
        "outages": total,
    }
    for t, d in by_tier.items():
        out[f"delay_median_{t}"] = float(np.median(d))
        out[f"delay_count_{t}"] = len(d)
    return out


def backtest_rate(cases: list[SeriesCase], folder: Path, name: str) -> tuple[int, float, float]:
    """Rows, seconds of the whole `panne backtest` call, seconds of its detector."""
    src, out = folder / f"{name}.csv", folder / f"{name}-out.csv"
    write_csv(cases if len(cases) > 1 else cases[0], src)
    t0 = time.perf_counter()
    result = run_backtest(src, out, series_column="series" if len(cases) > 1 else None)
    return result.rows, time.perf_counter() - t0, result.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backtest-series", type=int, default=50)
    ap.add_argument("--backtest-weeks", type=int, default=52)
    args = ap.parse_args()
    t = time.perf_counter()
    cases = detection_corpus(args.series, args.weeks, args.seed)
    made = time.perf_counter() - t
    groups: dict[tuple[float, int], list[SeriesCase]] = defaultdict(list)
    for c in cases:
        groups[(c.start, len(c.counts))].append(c)
    ours: dict[str, np.ndarray] = {}
    ours_parts: dict[str, np.ndarray] = {}
    ref: dict[str, np.ndarray] = {}
    country_first: dict[str, list[tuple[str, int]]] = {}
    seconds_totals = seconds_parts = 0.0
    state = 0
    part_false = 0
    part_weeks = 0.0
    for group in groups.values():
        run = run_banks(group)
        seconds_totals += run.seconds_totals
        seconds_parts += run.seconds_parts
        state = max(state, run.state_bytes)
        country_first.update(run.country_first)
        for k, c in enumerate(group):
            ours[c.name] = run.alerts[k]
            rows = [i for i, (kk, _) in enumerate(run.parts) if kk == k]
            ours_parts[c.name] = run.part_alerts[rows].any(axis=0)
            for i in rows:  # each country series on its own, as a series of its own
                part_false += false_alarms(run.part_alerts[i], c)
                part_weeks += len(c.counts) / (7 * 1440)
            counts = c.counts.astype(float)
            counts[counts < 0] = np.nan
            ref[c.name] = same_time_yesterday(counts)
    attributed = right = 0
    for c in cases:
        for o in c.outages:
            if o.kind != "single_country":
                continue
            attributed += 1
            b = int((o.start - c.start) // 60)
            hits = [code for code, m in country_first.get(c.name, []) if b <= m <= b + 15]
            right += bool(hits) and hits[0] == o.countries[0]
    total_minutes = sum(len(c.counts) for c in cases)
    part_minutes = sum(len(c.counts) * len(c.by_country) for c in cases)
    a, r = score(cases, ours, ours_parts), score(cases, ref, ref)
    print(f"corpus: {len(cases)} series × {args.weeks} weeks, {a['outages']} outages, "
          f"seed {args.seed} (made in {made:.1f} s)\n")  # fmt: skip
    print("| figure | panne | same time yesterday |\n|---|---|---|")
    print(f"| recall (15 min, 45 for slow burns) | {a['recall']:.3f} | {r['recall']:.3f} |")
    print(f"| false alarms per series-week (service totals) | {a['false_per_series_week']:.3f} | "
          f"{r['false_per_series_week']:.3f} |")  # fmt: skip
    print(f"| false alarms per series-week (country series) | "
          f"{part_false / max(part_weeks, 1e-9):.3f} | n/a |")  # fmt: skip
    print(f"| false alarms of a service's countries taken together, per service-week | "
          f"{a['false_parts_per_series_week']:.3f} | n/a |")  # fmt: skip
    print(f"| sharp: median / p90 delay (min) | {a['delay_median']:.0f} / {a['delay_p90']:.0f} "
          f"| {r['delay_median']:.0f} / {r['delay_p90']:.0f} |")  # fmt: skip
    for t in ("tiny", "small", "medium", "huge"):
        if f"delay_median_{t}" in a:
            theirs = r.get(f"delay_median_{t}", float("nan"))
            print(f"| sharp, {t} services ({a[f'delay_count_{t}']:.0f} found): median delay | "
                  f"{a[f'delay_median_{t}']:.0f} | {theirs:.0f} |")  # fmt: skip
    print(f"| single-country attribution | {right}/{attributed} | n/a |")
    print(f"| throughput, totals (series-minutes/s) | {total_minutes / seconds_totals:,.0f} | |")
    print(f"| throughput, country series (series-minutes/s) | "
          f"{part_minutes / seconds_parts:,.0f} | |")  # fmt: skip
    every = (total_minutes + part_minutes) / (seconds_totals + seconds_parts)
    print(f"| throughput, all series (series-minutes/s) | {every:,.0f} | |")
    print(f"| largest state per series (JSON bytes) | {state} | |")

    biggest = max(groups.values(), key=len)[: args.backtest_series]
    one = detection_corpus(1, args.backtest_weeks, args.seed + 1)
    print("\n| `panne backtest` | rows | whole call, rows/s | detector alone, rows/s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        backtest_rate(one[:1], Path(tmp), "warm-up")  # compiled passes loaded (or compiled) once
        for label, group in (
            (f"{len(biggest)} series × {args.weeks} weeks (`--series`)", biggest),
            (f"1 series × {args.backtest_weeks} weeks", one),
        ):
            rows, whole, detect = backtest_rate(group, Path(tmp), "in")
            print(f"| {label} | {rows:,} | {rows / whole:,.0f} | {rows / detect:,.0f} |")


if __name__ == "__main__":
    main()
