"""How early sharp outages can be caught on the detection corpus, and what it costs in false
alarms: the figures behind "median delay ≤ 1 minute" in docs/benchmarks.md.

    .venv/bin/python benchmarks/sharp_delay.py [--series 200] [--weeks 4] [--seed 0]

Service totals only (``SeasonalBank.run``), for the default ``TestParams`` and variants that
alert sooner; then, estimated after the fact on the default run's expectations (a dispersion
of 1/8 assumed, not built into the detector), a rule for counts still rising. For each: false
alarms per series-week, and how many sharp outages alert by their second minute (delay ≤ 1),
per size of service. The benchmark's median sharp delay is at most 1 when that is half of them.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from detection import false_alarms, tier
from panne.detect import Judgements, SeasonalBank, TestParams
from panne.detect.test import tail_p
from panne.simulate import SeriesCase, detection_corpus

TIERS = ("tiny", "small", "medium", "huge")


@dataclass
class Group:
    cases: list[SeriesCase]
    minutes: np.ndarray
    counts: np.ndarray  # series × minutes, NaN in collector gaps


def groups(series: int, weeks: int, seed: int) -> list[Group]:
    by: dict[tuple[float, int], list[SeriesCase]] = defaultdict(list)
    for c in detection_corpus(series, weeks, seed):
        by[(c.start, len(c.counts))].append(c)
    out = []
    for cases in by.values():
        x = np.stack([c.counts.astype(float) for c in cases])
        x[x < 0] = np.nan
        out.append(Group(cases, int(cases[0].start) + 60 * np.arange(x.shape[1]), x))
    return out


def rising(j: Judgements, x: np.ndarray, now: float, before: float, rise: float) -> np.ndarray:
    """Minutes ≥ ``now``× expected and ≥ ``rise``× the previous minute's ratio, itself ≥
    ``before``×, with p < 1e-6 and 5 extra reports: an outage still climbing. A media burst
    is about flat from its first minute."""
    e = np.maximum(j.expected, 1e-3)
    r = x / e
    prev = np.concatenate([np.ones((len(r), 1)), r[:, :-1]], axis=1)
    p = tail_p(np.nan_to_num(x), e, np.full(e.shape, 0.125))
    return (r >= now) & (prev >= before) & (r >= rise * prev) & (p <= 1e-6) & (x - e >= 5)


def report(label: str, found: list[tuple[Group, Judgements, np.ndarray]]) -> None:
    false = 0
    weeks = 0.0
    early: Counter[str] = Counter()
    sharp: Counter[str] = Counter()
    for g, _, alert in found:
        for i, c in enumerate(g.cases):
            weeks += len(c.counts) / (7 * 1440)
            false += false_alarms(alert[i], c)
            for o in c.outages:
                if o.kind == "sharp":
                    b = int((o.start - c.start) // 60)
                    sharp[tier(c)] += 1
                    early[tier(c)] += bool(alert[i, b : b + 2].any())
    by_tier = " | ".join(f"{early[t]}/{sharp[t]}" for t in TIERS)
    total = f"{sum(early.values())}/{sum(sharp.values())}"
    print(f"| {label} | {false / weeks:.3f} | {total} | {by_tier} |")


def corpus_args(doc: str) -> argparse.Namespace:
    """The corpus's size and seed from the command line: --series, --weeks, --seed."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def main() -> None:
    args = corpus_args(__doc__)
    corpus = groups(args.series, args.weeks, args.seed)
    print("| rule | false alarms per series-week | sharp outages alerting by their second "
          f"minute | {' | '.join(TIERS)} |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(TIERS))
    variants = {
        "default": TestParams(),
        "strong ratio 4.5×": TestParams(strong_ratio=4.5),
        "strong ratio 4×": TestParams(strong_ratio=4.0),
        "strong ratio 4×, p < 1e-8": TestParams(strong_ratio=4.0, strong_p=1e-8),
        "strong p < 1e-5": TestParams(strong_p=1e-5),
    }
    default: list[tuple[Group, Judgements, np.ndarray]] = []
    for label, test in variants.items():
        runs = []
        for g in corpus:
            j = SeasonalBank(len(g.cases), test=test).run(g.minutes, g.counts)
            runs.append((g, j, j.alert))
        report(label, runs)
        default = default or runs
    for now, before, rise in ((3.3, 1.5, 1.5), (2.8, 1.3, 1.4), (3.0, 1.2, 1.5)):
        label = f"default + rising (≥ {now}×, ≥ {rise}× a minute ≥ {before}×), estimated"
        report(label, [(g, j, a | rising(j, g.counts, now, before, rise)) for g, j, a in default])


if __name__ == "__main__":
    main()
