"""The compiled step: a block of minutes, a restart, one series or a bank, all judge alike.

``test_equivalence`` holds the kernels to the detector as first written; these tests hold the
ways of calling them to each other, exactly (bitwise, not within a tolerance).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import betainc

from panne.detect import Detector, Judgements, SeasonalBank, ShareBank, kernels
from panne.simulate import detection_corpus

FIELDS = ("expected", "score", "alert", "candidate")


def corpus(seed: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(first minute, totals, country parts, their totals' rows) of two weeks of six series
    (the corpus's shortest), NaN in collector gaps, with surges that alert."""
    cases = detection_corpus(6, 2, seed)
    totals = np.stack([c.counts.astype(float) for c in cases])
    parts = np.stack([a.astype(float) for c in cases for a in c.by_country.values()])
    parent = np.array([k for k, c in enumerate(cases) for _ in c.by_country])
    totals[totals < 0] = np.nan
    parts[parts < 0] = np.nan
    totals[:, 3000:3020] = totals[:, 3000:3020] * 8 + 40
    totals[1, 5000:5600] = np.nan  # longer than the windows: they go stale
    return int(cases[0].start), totals, parts, parent


def assert_identical(a: Judgements, b: Judgements) -> None:
    for name in FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def states(bank: SeasonalBank | ShareBank) -> list[str]:
    return [json.dumps(bank.state_of(i)) for i in range(len(bank.inv_k))]


def test_a_block_judges_as_minute_by_minute_steps() -> None:
    start, totals, _, _ = corpus(1)
    stepped, blocked = SeasonalBank(len(totals)), SeasonalBank(len(totals))
    minutes = start + 60 * np.arange(totals.shape[1])
    minutes[4000:] += 3600  # an hour without data between two blocks
    steps = [stepped.step(int(m), totals[:, t]) for t, m in enumerate(minutes)]
    cuts = [0, 1, 2500, 4000, 4001, totals.shape[1]]
    blocks = [blocked.run(minutes[a:b], totals[:, a:b]) for a, b in itertools.pairwise(cuts)]
    joined = Judgements(*(np.hstack([getattr(j, f) for j in blocks]) for f in FIELDS))
    column = Judgements(*(np.stack([getattr(j, f) for j in steps], axis=1) for f in FIELDS))
    assert_identical(joined, column)
    assert column.alert.sum() > 10 and np.isnan(totals).any()
    assert states(stepped) == states(blocked)


def test_a_restart_from_saved_state_continues_identically() -> None:
    start, totals, parts, parent = corpus(2)
    bank, shares = SeasonalBank(len(totals)), ShareBank(parent)
    half = totals.shape[1] // 2 + 7  # the windows' position is not 0
    for t in range(half):
        j = bank.step(start + 60 * t, totals[:, t])
        shares.step(start + 60 * t, parts[:, t], totals[:, t], j)
    saved = [json.loads(s) for s in states(bank)], [json.loads(s) for s in states(shares)]
    restarted, restarted_shares = SeasonalBank(len(totals)), ShareBank(parent)
    for b, r, state in ((bank, restarted, saved[0]), (shares, restarted_shares, saved[1])):
        for i, s in enumerate(state):
            b.load(i, s)  # the running bank takes its own (rounded) state back ...
            r.load(i, s)  # ... and a new one takes the same
        assert [json.loads(s) for s in states(r)] == state
    for t in range(half, totals.shape[1]):
        minute = start + 60 * t
        a, b = bank.step(minute, totals[:, t]), restarted.step(minute, totals[:, t])
        assert_identical(a, b)
        assert_identical(shares.step(minute, parts[:, t], totals[:, t], a),
                         restarted_shares.step(minute, parts[:, t], totals[:, t], b))  # fmt: skip
    assert states(bank) == states(restarted) and states(shares) == states(restarted_shares)


def test_a_single_detector_judges_as_its_bank_row() -> None:
    start, totals, _, _ = corpus(3)
    bank, k = SeasonalBank(len(totals)), 1  # the series with a long gap
    single = Detector()
    for t in range(totals.shape[1]):
        minute, x = start + 60 * t, totals[k, t]
        if t % 53 == 0:
            so_far = np.nan_to_num(totals[:, t]) * 0.4
            peeked = bank.peek(minute, so_far, 0.4)
            p = single.peek(minute, float(so_far[k]), 0.4)
            assert (p.expected, p.score, p.alert) == (peeked.expected[k], peeked.score[k],
                                                      peeked.alert[k])  # fmt: skip
        j = bank.step(minute, totals[:, t])
        d = single.update(minute, None if np.isnan(x) else float(x))
        assert (d.expected, d.score, d.alert) == (j.expected[k], j.score[k], j.alert[k])
    assert single.to_state() == bank.state_of(k)


def test_kernel_betainc_is_scipys() -> None:
    a = np.concatenate([[1e-3, 0.5, 1.0], np.geomspace(1.0, 1e5, 12), [3.5, 17.0, 250.0]])
    b = np.concatenate([[1e-2, 0.3, 1.0], np.geomspace(1.0, 1e6, 10)])
    x = np.array([0.0, 1e-300, 1e-12, 1e-6, 0.01, 0.2, 0.5, 0.77, 0.999, 1 - 1e-12, 1.0])
    for ai in a:
        for bi in b:
            got = np.array([kernels.betainc(ai, bi, xi) for xi in x])
            assert np.array_equal(got, betainc(ai, bi, x), equal_nan=True), (ai, bi)
    assert np.isnan(kernels.betainc(np.nan, 1.0, 0.5)) and np.isnan(betainc(np.nan, 1.0, 0.5))


def test_counts_of_the_wrong_shape_are_refused() -> None:
    """The kernels do not check bounds: the banks must."""
    bank, shares = SeasonalBank(3), ShareBank(np.array([0, 2]))
    with pytest.raises(ValueError, match="3 series"):
        bank.step(0, np.zeros(2))
    with pytest.raises(ValueError, match="3 minutes"):
        bank.run(np.array([0, 60, 120]), np.zeros((3, 2)))
    j = bank.step(0, np.zeros(3))
    with pytest.raises(ValueError, match="3 parents"):
        shares.step(0, np.zeros(2), np.zeros(2), j)


def test_warm_loads_every_step_a_node_runs() -> None:
    """A fresh process: after ``warm`` no kernel is left to load in the detector's first tick
    (where numba's objects would escape the server's start-up freeze)."""
    code = (
        "from panne import detect; from panne.detect import kernels as k; detect.warm(); "
        "steps = [k.seasonal_run, k.seasonal_peek, k.seasonal_expected, k.share_step, "
        "k.share_peek, k.share_now]; print([bool(s.signatures) for s in steps])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str([True] * 6)
