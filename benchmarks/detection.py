"""Detection quality and speed on a labelled corpus from `panne.simulate`, against a reference.

Scores the seasonal detector (and its share detector for countries) and the same-time-yesterday
rule on the same series in one run: recall (first alert within 15 minutes of onset, 45 for slow
burns), false alarms per series-week, detection delay, country attribution for single-country
outages, throughput and state size. Prints a Markdown table.

Run: .venv/bin/python benchmarks/detection.py [--series 200] [--weeks 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from panne.detect import SeasonalBank, ShareBank
from panne.detect.reference import same_time_yesterday
from panne.simulate import SeriesCase, detection_corpus

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


def run_banks(
    group: list[SeriesCase],
) -> tuple[np.ndarray, np.ndarray, dict[str, list[tuple[str, int]]], float, int]:
    """Alerts of the totals and of any country (series, minutes), the country alerts per
    series, seconds, state bytes."""
    counts = np.stack([c.counts.astype(float) for c in group])
    counts[counts < 0] = np.nan
    parts = [(k, code, arr) for k, c in enumerate(group) for code, arr in c.by_country.items()]
    pc = np.stack([a.astype(float) for _, _, a in parts])
    pc[pc < 0] = np.nan
    bank = SeasonalBank(len(group))
    shares = ShareBank(np.array([k for k, _, _ in parts]))
    alerts = np.zeros(counts.shape, dtype=bool)
    any_part = np.zeros(counts.shape, dtype=bool)
    country_alerts: dict[str, list[tuple[str, int]]] = defaultdict(list)
    start = int(group[0].start)
    t0 = time.perf_counter()
    for m in range(counts.shape[1]):
        minute = start + 60 * m
        j = bank.step(minute, counts[:, m])
        alerts[:, m] = j.alert
        s = shares.step(minute, pc[:, m], counts[:, m], j)
        for i in np.flatnonzero(s.alert):
            k, code, _ = parts[i]
            country_alerts[group[k].name].append((code, m))
            any_part[k, m] = True
    seconds = time.perf_counter() - t0
    size = max(len(json.dumps(bank.state_of(i))) for i in range(len(group)))
    size_share = max(len(json.dumps(shares.state_of(i))) for i in range(len(parts)))
    return alerts, any_part, country_alerts, seconds, max(size, size_share)


def score(
    cases: list[SeriesCase], alerts: dict[str, np.ndarray], parts: dict[str, np.ndarray]
) -> dict[str, float]:
    """A single-country outage counts as found when its country's series alerts: that is what
    the share detector is for; the total may not move at all."""
    found = total = false = false_parts = 0
    delays: list[int] = []
    weeks = 0.0
    for c in cases:
        a = alerts[c.name]
        weeks += len(c.counts) / (7 * 1440)
        sp = spans(a)
        windows = [
            (int((o.start - c.start) // 60), int((o.end - c.start) // 60), o.kind)
            for o in c.outages
        ]
        for s0, s1 in sp:
            if not any(s0 <= e + 30 and s1 >= b for b, e, _ in windows):
                false += 1
        for s0, s1 in spans(parts[c.name]):
            if not any(s0 <= e + 30 and s1 >= b for b, e, _ in windows):
                false_parts += 1
        for b, _, kind in windows:
            total += 1
            allowed = 45 if kind == "slow_burn" else 15
            seen = parts[c.name] if kind == "single_country" else a
            hits = np.flatnonzero(seen[b : b + allowed + 1])
            if hits.size:
                found += 1
                if kind == "sharp":
                    delays.append(int(hits[0]))
    return {
        "recall": found / max(total, 1),
        "false_per_series_week": false / max(weeks, 1e-9),
        "false_parts_per_series_week": false_parts / max(weeks, 1e-9),
        "delay_median": float(np.median(delays)) if delays else float("nan"),
        "delay_p90": float(np.percentile(delays, 90)) if delays else float("nan"),
        "outages": total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
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
    seconds = 0.0
    state = 0
    for group in groups.values():
        alerts, part_alerts, countries, secs, size = run_banks(group)
        seconds += secs
        state = max(state, size)
        country_first.update(countries)
        for k, c in enumerate(group):
            ours[c.name] = alerts[k]
            ours_parts[c.name] = part_alerts[k]
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
    series_minutes = sum(len(c.counts) for c in cases)
    a, r = score(cases, ours, ours_parts), score(cases, ref, ref)
    print(f"corpus: {len(cases)} series × {args.weeks} weeks, {a['outages']} outages, "
          f"seed {args.seed} (made in {made:.1f} s)\n")  # fmt: skip
    print("| figure | panne | same time yesterday |\n|---|---|---|")
    print(f"| recall (15 min, 45 for slow burns) | {a['recall']:.3f} | {r['recall']:.3f} |")
    print(f"| false alarms per series-week | {a['false_per_series_week']:.3f} | "
          f"{r['false_per_series_week']:.3f} |")  # fmt: skip
    print(f"| false alarms of country series per series-week | "
          f"{a['false_parts_per_series_week']:.3f} | n/a |")  # fmt: skip
    print(f"| sharp: median / p90 delay (min) | {a['delay_median']:.0f} / {a['delay_p90']:.0f} "
          f"| {r['delay_median']:.0f} / {r['delay_p90']:.0f} |")  # fmt: skip
    print(f"| single-country attribution | {right}/{attributed} | n/a |")
    print(f"| throughput (series-minutes/s, totals + countries) | "
          f"{series_minutes / seconds:,.0f} | |")  # fmt: skip
    print(f"| largest state per series (JSON bytes) | {state} | |")


if __name__ == "__main__":
    main()
