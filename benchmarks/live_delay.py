"""The detector and the incident machines as the live node runs them: judged every 10 seconds
on the unfinished minute (``SeasonalBank.peek``), then on the finished one (``step``), each
service's incident machine stepped on every tick. How many seconds after its onset a sharp
outage is flagged and its incident opened, and how many more false alarms the unfinished
minutes raise.

    .venv/bin/python benchmarks/live_delay.py [--series 200] [--weeks 4] [--seed 0]

Service totals of the detection corpus. The corpus has counts per minute, so a minute's
reports are spread over its six 10-second parts at random (multinomially, evenly: within a
minute the corpus's ramps change little); the node judges the part so far at 10, 20 … 50 s
(fraction 1/6 … 5/6) and the whole minute when it ends (60 s). "Full minutes" is the same run
with only the ``step`` judgements, as ``benchmarks/detection.py`` scores them: a minute
judged when it ends. Incidents are opened by :func:`panne.incidents.step` with the default
``Policy``, fed as ``watch.py`` feeds it (no countries or problems: they do not decide it).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from detection import false_alarms, tier
from panne.detect import PEEK_FROM, Judgements, SeasonalBank
from panne.incidents import Policy, ServiceState, Signal, step
from sharp_delay import TIERS, Group, corpus_args, groups

TICKS = 6  # judgements a minute: at 10, 20, 30, 40, 50 s on the part so far, at 60 s on all
POLICY = Policy()


@dataclass
class Live:
    """Per series and minute, the first second at which it alerted (10 … 60), live and on
    whole minutes only, and at which an incident opened (1 + 0 … 50: the node's ticks); 0
    where nothing did."""

    live: np.ndarray
    full: np.ndarray
    opened: np.ndarray


class Incidents:
    """Each series' incident machine, stepped as the node steps it (``watch.py``): every tick,
    the last whole minute's judgement or the unfinished minute's alert. A machine at rest is
    stepped only when it has something to see; the ticks it skipped are the ones that would
    have changed nothing but its last tick's time, which it is given back."""

    def __init__(self, g: Group) -> None:
        self.names = [c.name for c in g.cases]
        self.states = [ServiceState() for _ in g.cases]
        self.busy = np.zeros(len(g.cases), dtype=bool)
        self.skipped = np.full(len(g.cases), np.nan)

    def tick(
        self, at: float, minute: int, last: Judgements, peek: Judgements | None, rate: np.ndarray
    ) -> np.ndarray:
        """Step every machine at ``at``; the rows where an incident opened."""
        alert = last.alert | (peek.alert if peek is not None else False)
        score = np.maximum(last.score, peek.score) if peek is not None else last.score
        elevated = alert | (score >= POLICY.elevated_score)
        active = elevated | self.busy
        opened = np.zeros(len(self.names), dtype=bool)
        for i in np.flatnonzero(active).tolist():
            state = self.states[i]
            if state.phase == "quiet" and not np.isnan(self.skipped[i]):
                state = ServiceState(last_at=float(self.skipped[i]))
            from_full = bool(last.alert[i]) or last.score[i] >= POLICY.elevated_score
            sig = Signal(
                self.names[i], None, at, float(rate[i]), float(last.expected[i]),
                float(score[i]), bool(alert[i]), onset=float(minute - 60 if from_full else minute),
            )  # fmt: skip
            state, made = step(state, sig, POLICY)
            opened[i] = any(t.kind in ("opened", "reopened") for t in made)
            self.states[i] = state
            self.busy[i] = state.phase != "quiet"
        self.skipped[active] = np.nan
        self.skipped[~active] = at
        return opened


def run(g: Group, rng: np.random.Generator) -> Live:
    bank = SeasonalBank(len(g.cases))
    machines = Incidents(g)
    out = Live(*(np.zeros(g.counts.shape, dtype=np.int64) for _ in range(3)))
    gap = np.isnan(g.counts)
    whole = np.where(gap, 0, g.counts).astype(np.int64)
    last: Judgements | None = None
    previous = np.zeros(len(g.cases))  # the last whole minute's count: the rate shown early on
    for m, minute in enumerate(g.minutes.tolist()):
        parts = rng.multinomial(whole[:, m], np.full(TICKS, 1.0 / TICKS)).cumsum(axis=1)
        for k in range(TICKS):  # the node's ticks in this minute, at 0, 10 … 50 s
            peek = None
            if k:
                so_far = np.where(gap[:, m], np.nan, parts[:, k - 1].astype(float))
                peek = bank.peek(minute, so_far, k / TICKS)
                out.live[peek.alert & (out.live[:, m] == 0), m] = 10 * k
            if last is not None:
                rate = parts[:, k - 1] * TICKS / k if k / TICKS >= PEEK_FROM else previous
                hit = machines.tick(minute + 10 * k, minute, last, peek, rate)
                out.opened[hit & (out.opened[:, m] == 0), m] = 1 + 10 * k
        last = bank.step(minute, g.counts[:, m])
        previous = whole[:, m].astype(float)
        out.full[last.alert, m] = 60
        out.live[last.alert & (out.live[:, m] == 0), m] = 60
    return out


def main() -> None:
    args = corpus_args(__doc__)
    rng = np.random.default_rng(args.seed)
    corpus = groups(args.series, args.weeks, args.seed)
    t0 = time.perf_counter()
    rows = ("live", "full minutes", "incidents opened (live node)")
    delays: dict[str, dict[str, list[int]]] = {name: {} for name in rows}
    false = dict.fromkeys(rows, 0)
    weeks = 0.0
    for g in corpus:
        out = run(g, rng)
        for i, c in enumerate(g.cases):
            weeks += len(c.counts) / (7 * 1440)
            # seconds into each minute; an incident at the node's tick at 0 s is stored as 1
            when = {rows[0]: out.live[i], rows[1]: out.full[i], rows[2]: out.opened[i]}
            for name, at in when.items():
                false[name] += false_alarms(at > 0, c)
                for o in c.outages:
                    if o.kind != "sharp":
                        continue
                    b = int((o.start - c.start) // 60)
                    hits = np.flatnonzero(at[b : b + 16])
                    if hits.size:  # seconds from the onset to what alerted or opened
                        late = int(at[b + hits[0]]) - (name == rows[2])
                        delays[name].setdefault(tier(c), []).append(60 * int(hits[0]) + late)
    seconds = time.perf_counter() - t0
    print("| judged | false alarms per series-week | sharp outages: median / p90 "
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
