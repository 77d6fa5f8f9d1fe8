"""The fast bank step judges exactly as the plain one it replaced.

``Plain`` below is the detector as first written: one numpy call per idea, one window at a
time. The banks in ``panne.detect`` reorganise that work for speed (stacked windows, one call of
the incomplete beta function, shortcuts once every series is settled); nothing they output may
change: alerts and candidates equal, expectations and scores within 1e-9 (in practice bitwise).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy.special import betainc

from panne.detect import Judgements, SeasonalBank, ShareBank
from panne.detect import test as detect_test
from panne.detect.kernels import PEEK_FROM, SHIFT_DECAY, SHIFT_MINUTES
from panne.detect.seasonal import SLOT_SECONDS, SLOTS, WARM_UP_MINUTES, BaselineParams
from panne.detect.share import HOURS, MIN_SEEN, PRIOR_INV_K, SHARE_VISITS
from panne.detect.test import SCORE_DECADES
from panne.simulate import detection_corpus


def tail_p(observed: np.ndarray, expected: np.ndarray, inv_k: np.ndarray) -> np.ndarray:
    mean = np.maximum(expected, 1e-6)
    above = observed > mean
    out: np.ndarray = np.ones_like(mean)
    if above.any():
        m = mean[above]
        size = 1.0 / np.maximum(inv_k[above], 1e-6)
        p = betainc(observed[above], size, m / (m + size))
        out[above] = np.where(np.isnan(p), 1.0, p)
    return out


def judge(
    x: np.ndarray, mu: np.ndarray, inv_k: np.ndarray, cold: np.ndarray, t: detect_test.TestParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = tail_p(x, mu, inv_k)
    ratio = x / np.maximum(mu, 1e-3)
    factor = np.where(cold, 2.0, 1.0)
    material = (ratio >= t.min_ratio * factor) & (x - mu >= t.min_excess * factor)
    candidate = material & (p <= t.candidate_p)
    strong = candidate & (p <= t.strong_p) & (ratio >= t.strong_ratio * factor)
    return p, candidate, strong


def learn_dispersion(
    inv_k: np.ndarray, x: np.ndarray, mu: np.ndarray, learn: np.ndarray, rate: float
) -> np.ndarray:
    ok = learn & (mu > 0.3)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(((x - mu) ** 2 - mu) / np.maximum(mu, 1e-9) ** 2, 0.0, 3.0)
    return np.maximum(np.where(ok, inv_k + rate * (np.nan_to_num(r) - inv_k), inv_k), 0.02)


class PlainWindows:
    def __init__(self, n: int, min_seen: int) -> None:
        self.t, self.min_seen, self.size = detect_test.TestParams(), min_seen, 14
        self.ring_x = np.full((n, 14), np.nan)
        self.ring_mu = np.full((n, 14), np.nan)
        self.pos = 0
        self.streak = np.zeros(n, dtype=np.int32)
        self.unusual = np.zeros(n, dtype=np.int32)
        self.seen = np.zeros(n, dtype=np.int64)
        self.last = np.full(n, -1, dtype=np.int64)

    def evaluate(
        self, minute: int, x: np.ndarray, mu: np.ndarray, inv_k: np.ndarray, commit: bool,
        fraction: float = 1.0,
    ) -> Judgements:  # fmt: skip
        valid = ~np.isnan(x)
        stale = (self.last >= 0) & (minute - self.last > 60 * self.size)
        if stale.any():
            self.ring_x[stale] = np.nan
        xv = np.where(valid, x, 0.0)
        mu_now = mu * fraction
        cold = self.seen < self.t.cold_minutes
        p, candidate, strong = judge(xv, mu_now, inv_k, cold, self.t)
        for w in (3, 15):
            cols = (self.pos - np.arange(1, w)) % self.size
            have = ~np.isnan(self.ring_x[:, cols])
            win_x = np.where(have, self.ring_x[:, cols], 0.0).sum(axis=1) + xv
            win_mu = np.where(have, self.ring_mu[:, cols], 0.0).sum(axis=1) + mu_now
            pw, cw, sw = judge(win_x, win_mu, inv_k / w, cold, self.t)
            p, candidate, strong = np.minimum(p, pw), candidate | cw, strong | sw
        candidate &= valid
        streak = np.where(candidate, self.streak + 1, 0)
        persistent = (streak >= self.t.persist_minutes) & commit
        judged = valid & (self.seen >= self.min_seen) & (fraction >= PEEK_FROM)
        alert = judged & (strong | persistent)
        if commit:
            self.ring_x[:, self.pos] = np.where(valid, x, np.nan)
            self.ring_mu[:, self.pos] = mu
            self.pos = (self.pos + 1) % self.size
            self.streak = np.where(valid, streak, self.streak)
            down = np.maximum(self.unusual - SHIFT_DECAY, 0)
            self.unusual = np.where(valid, np.where(candidate | alert, self.unusual + 1, down),
                                    self.unusual)  # fmt: skip
            self.last = np.where(valid, minute, self.last)
        score = np.clip(-np.log10(np.maximum(p, 1e-300)) / SCORE_DECADES, 0.0, 1.0)
        return Judgements(mu, np.where(valid, score, 0.0), alert, candidate | alert)


class PlainSeasonal:
    def __init__(self, n: int) -> None:
        self.p, self.windows = BaselineParams(), PlainWindows(n, 10)
        self.level, self.inv_k = np.zeros(n), np.full(n, self.p.prior_inv_k)
        self.profile, self.weekday = np.ones((n, SLOTS)), np.ones((n, 7))

    def _position(self, minute: int) -> tuple[int, int, float, int]:
        s = ((minute + 30) % 86_400) / SLOT_SECONDS - 0.5
        j0 = int(np.floor(s)) % SLOTS
        return j0, (j0 + 1) % SLOTS, float(s - np.floor(s)), int((minute // 86_400 + 3) % 7)

    def expected(self, minute: int) -> np.ndarray:
        j0, j1, f, d = self._position(minute)
        shape = self.profile[:, j0] * (1 - f) + self.profile[:, j1] * f
        out: np.ndarray = self.level * shape * self.weekday[:, d]
        return out

    def peek(self, minute: int, x: np.ndarray, fraction: float) -> Judgements:
        mu = self.expected(minute)
        return self.windows.evaluate(minute, x, mu, self.inv_k, False, max(fraction, 1e-3))

    def step(self, minute: int, x: np.ndarray) -> Judgements:
        mu = self.expected(minute)
        judged = self.windows.evaluate(minute, x, mu, self.inv_k, True)
        new_level = self.windows.unusual >= SHIFT_MINUTES
        self.windows.streak[new_level] = self.windows.unusual[new_level] = 0
        self.windows.seen[new_level] = 0
        learn = ~np.isnan(x) & (~judged.candidate | (self.windows.seen < WARM_UP_MINUTES))
        p, (j0, j1, f, d) = self.p, self._position(minute)
        xv, seen = np.where(learn, x, 0.0), self.windows.seen
        shape = self.profile[:, j0] * (1 - f) + self.profile[:, j1] * f
        season = np.maximum(shape * self.weekday[:, d], 0.05)
        rate = np.maximum(1.0 / (seen + 1.0), 1.0 / p.level_minutes)
        first = seen == 0
        level = np.where(first, xv / season, self.level + rate * (xv / season - self.level))
        self.level = np.where(learn, level, self.level)
        ratio = np.clip(xv / np.maximum(self.level * self.weekday[:, d], 1e-9), 0.0, 5.0)
        for j, w in ((j0, 1 - f), (j1, f)):
            step = p.profile_rate * w * (ratio - self.profile[:, j])
            self.profile[:, j] += np.where(learn & (self.level > 0), step, 0.0)
        day_ratio = np.clip(xv / np.maximum(self.level * shape, 1e-9), 0.0, 5.0)
        self.weekday[:, d] += np.where(
            learn & (self.level > 0), p.weekday_rate * (day_ratio - self.weekday[:, d]), 0.0
        )
        self.inv_k = learn_dispersion(self.inv_k, xv, mu, learn & ~first, p.dispersion_rate)
        self.windows.seen = seen + learn
        if minute % 86_400 == 0:
            self.profile /= np.maximum(self.profile.mean(axis=1, keepdims=True), 1e-9)
            self.weekday /= np.maximum(self.weekday.mean(axis=1, keepdims=True), 1e-9)
        return judged


class PlainShares:
    def __init__(self, parent: np.ndarray) -> None:
        n = len(parent)
        self.parent, self.windows = parent, PlainWindows(n, MIN_SEEN)
        self.part, self.whole = np.zeros((n, HOURS)), np.zeros((n, HOURS))
        self.inv_k = np.full(n, PRIOR_INV_K)

    def share(self, minute: int) -> np.ndarray:
        h = (minute // 3600) % HOURS
        hourly = self.part[:, h] / np.maximum(self.whole[:, h], 1e-9)
        overall = self.part.sum(axis=1) / np.maximum(self.whole.sum(axis=1), 1e-9)
        out: np.ndarray = np.where(self.whole[:, h] > 0, hourly, overall)
        return out

    def peek(self, minute: int, x: np.ndarray, parent: Judgements, fraction: float) -> Judgements:
        mu = self.share(minute) * parent.expected[self.parent]
        return self.windows.evaluate(minute, x, mu, self.inv_k, False, max(fraction, 1e-3))

    def step(self, minute: int, x: np.ndarray, totals: np.ndarray, parent: Judgements) -> Any:
        share = self.share(minute)
        rest = np.where(np.isnan(totals), 0.0, totals)[self.parent] - np.nan_to_num(x)
        implied = rest / np.maximum(1.0 - share, 0.05)
        mu = share * np.maximum(parent.expected[self.parent], implied)
        judged = self.windows.evaluate(minute, x, mu, self.inv_k, True)
        new_share = self.windows.unusual >= SHIFT_MINUTES
        self.windows.streak[new_share] = self.windows.unusual[new_share] = 0
        self.windows.seen[new_share] = 0
        self.part[new_share] = 0.0
        self.whole[new_share] = 0.0
        t, seen = totals[self.parent], self.windows.seen
        calm = ~judged.candidate & ~parent.candidate[self.parent]
        learn = ~np.isnan(x) & ~np.isnan(t) & (calm | (seen < WARM_UP_MINUTES))
        h = (minute // 3600) % HOURS
        xv, tv = np.where(learn, x, 0.0), np.where(learn, t, 0.0)
        first = self.whole[:, h] <= 0
        rate = np.where(first, 1.0, 1.0 / SHARE_VISITS)
        overall = self.part.sum(axis=1) / np.maximum(self.whole.sum(axis=1), 1e-9)
        xv = np.where(first & (self.whole.sum(axis=1) > 0), overall * tv, xv)
        part, whole = self.part[:, h], self.whole[:, h]
        self.part[:, h] = np.where(learn, part + rate * (xv - part), part)
        self.whole[:, h] = np.where(learn, whole + rate * (tv - whole), whole)
        self.inv_k = learn_dispersion(self.inv_k, xv, mu, learn & (seen > 0), 1 / 2880)
        self.windows.seen = seen + learn
        return judged


def restart(bank: Any, plain: Any) -> Any:
    """A new bank loaded from ``bank``'s saved state (rounded); ``plain`` takes the same."""
    new = ShareBank(bank.parent) if isinstance(bank, ShareBank) else SeasonalBank(bank.n)
    w = plain.windows
    for i in range(len(bank.inv_k)):
        state = json.loads(json.dumps(bank.state_of(i)))
        new.load(i, state)
        for name in ("level", "profile", "weekday", "part", "whole", "inv_k"):
            if name in state:
                getattr(plain, name)[i] = state[name]
        order = (w.pos + np.arange(w.size)) % w.size
        w.ring_x[i, order] = [np.nan if v is None else v for v in state["ring_x"]]
        w.ring_mu[i, order] = [np.nan if v is None else v for v in state["ring_mu"]]
        w.streak[i], w.seen[i], w.last[i] = state["streak"], state["seen"], state["last"]
        w.unusual[i] = state["unusual"]
    return new


def assert_same(a: Judgements, b: Judgements) -> None:
    assert np.array_equal(a.alert, b.alert) and np.array_equal(a.candidate, b.candidate)
    assert np.allclose(a.expected, b.expected, rtol=0, atol=1e-9)
    assert np.allclose(a.score, b.score, rtol=0, atol=1e-9)


def test_fast_banks_judge_exactly_as_the_plain_ones() -> None:
    """Two days and a half of a small corpus: warm-up, cold start, day boundaries, a collector
    gap, missing minutes, twenty minutes without steps (stale windows), peeks, surges that
    alert, and a restart from saved state half way."""
    corpus = detection_corpus(9, 2, seed=3)
    cases = [c for c in corpus if c.start == corpus[0].start][:3]
    minutes = 3600
    counts = np.stack([c.counts[:minutes].astype(float) for c in cases])
    counts[counts < 0] = np.nan
    parts = [(k, a) for k, c in enumerate(cases) for a in c.by_country.values()]
    pc = np.stack([a[:minutes].astype(float) for _, a in parts])
    pc[pc < 0] = np.nan
    counts[1, 2000:2030] = np.nan  # a gap longer than the windows
    pc[3, 2000:2030] = np.nan
    counts[2, ::97] = np.nan  # single missing minutes
    pc[::2, ::89] = np.nan
    for at in (900, 1700, 3000):  # surges: sharp (alerts at once) and moderate (persists)
        counts[:, at : at + 20] = counts[:, at : at + 20] * 8 + 40
        pc[::2, at + 200 : at + 230] = pc[::2, at + 200 : at + 230] * 5 + 20
    counts[0, 1000:2700] = counts[0, 1000:2700] * 8 + 40  # more than a day: a new level
    pc[6, 1000:2700] = pc[6, 1000:2700] * 6 + 30  # and a new share (of another service)
    parent = np.array([k for k, _ in parts])
    plain, plain_shares = PlainSeasonal(len(cases)), PlainShares(parent)
    fast, fast_shares = SeasonalBank(len(cases)), ShareBank(parent)
    start, alerts = int(cases[0].start), 0
    for m in range(minutes):
        minute = start + 60 * m
        if 2500 <= m < 2520:  # the node was down: no steps at all, the windows go stale
            continue
        if m == minutes // 2:  # a restart: both continue from the fast banks' saved state
            fast, fast_shares = restart(fast, plain), restart(fast_shares, plain_shares)
        if m % 41 == 7:
            frac = (m % 5 + 1) / 6
            so_far, parts_so_far = np.nan_to_num(counts[:, m]) * frac, np.nan_to_num(pc[:, m])
            a, b = plain.peek(minute, so_far, frac), fast.peek(minute, so_far, frac)
            assert_same(a, b)
            assert_same(plain_shares.peek(minute, parts_so_far, a, frac),
                        fast_shares.peek(minute, parts_so_far, b, frac))  # fmt: skip
        a, b = plain.step(minute, counts[:, m]), fast.step(minute, counts[:, m])
        assert_same(a, b)
        sa = plain_shares.step(minute, pc[:, m], counts[:, m], a)
        assert_same(sa, fast_shares.step(minute, pc[:, m], counts[:, m], b))
        alerts += int(a.alert.sum() + sa.alert.sum())
    assert alerts > 20  # the comparison covered alerts, not only quiet minutes
    assert fast.windows.seen[0] < 1440 and fast_shares.windows.seen[6] < 1440  # started over
