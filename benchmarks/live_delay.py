"""The detector as the live node runs it: judged every 10 seconds on the unfinished minute
(``SeasonalBank.peek``), then on the finished one (``step``). How many seconds after its onset
a sharp outage is flagged, and how many more false alarms the unfinished minutes raise.

    .venv/bin/python benchmarks/live_delay.py [--series 200] [--weeks 4] [--seed 0]

Service totals of the detection corpus. The corpus has counts per minute, so a minute's
reports are spread over its six 10-second parts at random (multinomially, evenly: within a
minute the corpus's ramps change little); the node judges the part so far at 10, 20 … 50 s
(fraction 1/6 … 5/6) and the whole minute when it ends (60 s). "Full minutes" is the same run
with only the ``step`` judgements, as ``benchmarks/detection.py`` scores them: a minute
judged when it ends.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from detection import false_alarms, tier
from panne.detect import SeasonalBank
from sharp_delay import TIERS, Group, groups

TICKS = 6  # judgements a minute: at 10, 20, 30, 40, 50 s on the part so far, at 60 s on all


def run(g: Group, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per series and minute, the first second (10 … 60) at which the minute alerted, live
    and on full minutes only; 0 where it did not."""
    bank = SeasonalBank(len(g.cases))
    live = np.zeros(g.counts.shape, dtype=np.int64)
    full = np.zeros(g.counts.shape, dtype=np.int64)
    gap = np.isnan(g.counts)
    whole = np.where(gap, 0, g.counts).astype(np.int64)
    for m, minute in enumerate(g.minutes.tolist()):
        parts = rng.multinomial(whole[:, m], np.full(TICKS, 1.0 / TICKS)).cumsum(axis=1)
        for k in range(1, TICKS):
            so_far = np.where(gap[:, m], np.nan, parts[:, k - 1].astype(float))
            hit = bank.peek(minute, so_far, k / TICKS).alert & (live[:, m] == 0)
            live[hit, m] = 10 * k
        j = bank.step(minute, g.counts[:, m])
        full[j.alert, m] = 60
        live[j.alert & (live[:, m] == 0), m] = 60
    return live, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    corpus = groups(args.series, args.weeks, args.seed)
    t0 = time.perf_counter()
    delays: dict[str, dict[str, list[float]]] = {"live": {}, "full minutes": {}}
    false = {"live": 0, "full minutes": 0}
    weeks = 0.0
    for g in corpus:
        live, full = run(g, rng)
        for i, c in enumerate(g.cases):
            weeks += len(c.counts) / (7 * 1440)
            for name, when in (("live", live[i]), ("full minutes", full[i])):
                false[name] += false_alarms(when > 0, c)
                for o in c.outages:
                    if o.kind != "sharp":
                        continue
                    b = int((o.start - c.start) // 60)
                    hits = np.flatnonzero(when[b : b + 16])
                    if hits.size:  # seconds from the onset to the judgement that alerted
                        at = 60 * int(hits[0]) + int(when[b + hits[0]])
                        delays[name].setdefault(tier(c), []).append(at)
    seconds = time.perf_counter() - t0
    print("| judged | false alarms per series-week | sharp outages flagged: median / p90 "
          f"seconds after onset | {' | '.join(f'{t}: median s' for t in TIERS)} |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(TIERS))
    for name, by in delays.items():
        every = [d for t in TIERS for d in by.get(t, [])]
        per = " | ".join(f"{np.median(by[t]):.0f} ({len(by[t])})" if t in by else "-"
                         for t in TIERS)  # fmt: skip
        print(f"| {name} | {false[name] / weeks:.3f} | {np.median(every):.0f} / "
              f"{np.percentile(every, 90):.0f} ({len(every)} found) | {per} |")  # fmt: skip
    print(f"\n{seconds:.0f} s for {weeks:.0f} series-weeks, six judgements a minute")


if __name__ == "__main__":
    main()
