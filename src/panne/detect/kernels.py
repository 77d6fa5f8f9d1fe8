"""The detectors' per-minute step, compiled: one pass per series instead of numpy calls.

A bank's step used to be a few dozen numpy calls on arrays of a few dozen series, so the calls'
overhead, not the arithmetic, set the pace: a few thousand minutes a second for a single series.
Here each series is judged and learned from in one pass by functions numba compiles once and
caches on disk (``__pycache__``); the bank classes keep their state in numpy arrays and hand
them over.

The outputs must not change by a bit, so every formula keeps the numpy code's order of
floating-point operations: a window adds the previous minutes newest first and then the current
one, maxima and minima propagate NaN as ``np.maximum`` and ``np.minimum`` do, and a row's mean
adds as numpy's pairwise summation does. The score's logarithm stays with numpy (see
:func:`panne.detect.windows.judgements`): numpy's ``log10`` is not the C library's, bit for bit.

The incomplete beta function is scipy's own double-precision one, the very code
``scipy.special.betainc`` runs, reached through a named symbol: a ctypes pointer would work too
but would keep numba from caching the compiled code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import llvmlite.binding as llvm  # type: ignore[import-untyped]
import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

SLOTS = 48  # the time-of-day profile's slots
SLOT_SECONDS = 86_400 // SLOTS
WARM_UP_MINUTES = 60  # learned from whatever they say: there is no "normal" to protect yet
# Unusual for a day: a new level (growth, a launch, a merged service), not an outage, which
# ends within hours (the longest on record lasted about 14). A series counts its unusual
# minutes up and its usual ones down, SHIFT_DECAY each, so "a day" is a day of unbroken alerts
# or longer when they flicker (a day and a half at nine minutes in ten; never below two in
# three); at SHIFT_MINUTES it starts over, as a new series would, keeping its daily and weekly
# shape.
SHIFT_MINUTES = 1440
SHIFT_DECAY = 2
HOURS = 24  # a part keeps its share per hour of the day
SHARE_VISITS = 180.0  # time constant of an hour's share, in minutes of that hour: three days
SHARE_DISPERSION_RATE = 1 / 2880
WINDOWS = (3, 15)  # trailing windows besides the minute itself
PEEK_FROM = 0.25  # the part of a minute that must have passed before it can alert unfinished
RING = max(WINDOWS) - 1  # the previous minutes a series keeps

# The kernels read TestParams and BaselineParams as arrays of their fields, in their order.
CANDIDATE_P, MIN_RATIO, MIN_EXCESS, STRONG_P, STRONG_RATIO, PERSIST_MINUTES, COLD_MINUTES = range(7)
LEVEL_MINUTES, PROFILE_RATE, WEEKDAY_RATE, DISPERSION_RATE = range(4)

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(f: _F) -> _F:
    """Compiled on first call and cached; no fastmath, which would reorder the arithmetic."""
    return cast(_F, numba.njit(cache=True)(f))


def _inline(f: _F) -> _F:
    """A part of the step, compiled into the kernels that call it: a call of its own would
    cost more than most of what it does (and count references to every array it takes)."""
    return cast(_F, numba.njit(cache=True, inline="always")(f))


_BETAINC = "panne_scipy_betainc"
llvm.add_symbol(
    _BETAINC,
    get_cython_function_address("scipy.special.cython_special", "__pyx_fuse_0betainc"),
)
# double betainc(double a, double b, double x, int skip_dispatch): cython_special's signature,
# and how compiled code calls it.
_scipy_betainc = cast(
    Callable[[float, float, float, int], float],
    types.ExternalFunction(
        _BETAINC, types.float64(types.float64, types.float64, types.float64, types.intc)
    ),
)


@_inline
def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), as scipy.special.betainc."""
    return _scipy_betainc(a, b, x, 0)


@_inline
def _max(a: float, b: float) -> float:
    """np.maximum: NaN if either is NaN."""
    return a if a >= b or a != a else b


@_inline
def _min(a: float, b: float) -> float:
    """np.minimum: NaN if either is NaN."""
    return a if a <= b or a != a else b


@_jit
def _row_sum(row: np.ndarray) -> float:
    """numpy's pairwise sum of a short row (up to 128 values, as every row here is): eight
    running sums, added as a tree, then the rest; a plain loop below eight values."""
    n = row.size
    total, j = 0.0, 0
    if n >= 8:
        r = row[:8].copy()
        j = 8
        while j < n - n % 8:
            for k in range(8):
                r[k] += row[j + k]
            j += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while j < n:
        total += row[j]
        j += 1
    return total


@_jit
def _normalise(rows: np.ndarray, i: int) -> None:
    """Row ``i`` divided by its mean, so a profile's mean stays 1 and the level means the
    level."""
    mean = _max(_row_sum(rows[i]) / rows.shape[1], 1e-9)
    for j in range(rows.shape[1]):
        rows[i, j] /= mean


@_inline
def tail_p(observed: float, expected: float, inv_k: float) -> float:
    """P(X ≥ observed) for X negative binomial with mean ``expected`` and 1/size ``inv_k``.

    Computed only where the count exceeds its expectation, 1 elsewhere: a count at or below
    what is usual carries no evidence of an outage, and the incomplete beta function is the
    step's most expensive part.
    """
    mean = _max(expected, 1e-6)
    if not observed > mean:
        return 1.0
    size = 1.0 / _max(inv_k, 1e-6)
    p = betainc(observed, size, mean / (mean + size))  # q = failure probability
    return 1.0 if p != p else p  # NaN: no evidence


@_jit
def tail_ps(observed: np.ndarray, expected: np.ndarray, inv_k: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.size):
        out[i] = tail_p(observed[i], expected[i], inv_k[i])


@_inline
def _test(
    observed: float, expected: float, inv_k: float, cold: bool, test: np.ndarray
) -> tuple[float, bool, bool]:
    """(p-value, candidate, strong) for a window's count against its expectation."""
    p = tail_p(observed, expected, inv_k)
    if not p <= test[CANDIDATE_P]:  # the usual window: nothing is even close
        return p, False, False
    ratio = observed / _max(expected, 1e-3)
    factor = 2.0 if cold else 1.0  # stricter before a day of history
    material = (
        ratio >= test[MIN_RATIO] * factor and observed - expected >= test[MIN_EXCESS] * factor
    )
    strong = material and p <= test[STRONG_P] and ratio >= test[STRONG_RATIO] * factor
    return p, material, strong


@_inline
def _judge(
    i: int,
    minute: int,
    x: float,
    mu: float,
    inv_k: float,
    fraction: float,
    commit: bool,
    pos: int,
    ring_x: np.ndarray,
    ring_mu: np.ndarray,
    streak: np.ndarray,
    unusual: np.ndarray,
    seen: np.ndarray,
    last: np.ndarray,
    min_seen: int,
    test: np.ndarray,
) -> tuple[float, bool, bool]:
    """(p-value, alert, candidate or alert) of series ``i``: ``x`` (NaN: no data) against
    ``mu`` over the minute and the trailing windows; with ``commit``, its windows move on.

    ``fraction`` < 1 judges an unfinished minute: ``x`` is the count so far and the
    expectation is scaled to the elapsed part, so a surge is flagged before the minute ends.
    """
    if last[i] >= 0 and minute - last[i] > 60 * RING:  # after a long gap, old minutes say nothing
        ring_x[i, :] = np.nan
    valid = x == x
    xv = x if valid else 0.0
    mu_now = mu if fraction == 1.0 else mu * fraction
    cold = seen[i] < test[COLD_MINUTES]
    p, candidate, strong = _test(xv, mu_now, inv_k, cold, test)
    sum_x = sum_mu = 0.0
    for k in range(RING):  # the previous minutes, newest first
        at = pos - 1 - k if k < pos else pos - 1 - k + RING
        if ring_x[i, at] == ring_x[i, at]:
            sum_x += ring_x[i, at]
            sum_mu += ring_mu[i, at]
        width = k + 2
        if width == WINDOWS[0] or width == WINDOWS[1]:
            pw, cw, sw = _test(sum_x + xv, sum_mu + mu_now, inv_k / width, cold, test)
            p = min(p, pw)
            candidate |= cw
            strong |= sw
    candidate &= valid
    run = streak[i] + 1 if candidate else 0
    # An unfinished minute alerts on strength alone, and only once PEEK_FROM of it has passed.
    # Its trailing windows are mostly the minutes before it, so a few seconds of it would
    # carry on a candidate that has just ended (a media burst's fifth minute) and claim the
    # persistence of a moderate excess; and its first seconds, judged five more times a minute,
    # would find a media burst's noise strong (benchmarks/live_delay.py: twice the false alarms).
    lasted = commit and run >= test[PERSIST_MINUTES]
    judged = valid and seen[i] >= min_seen and fraction >= PEEK_FROM
    alert = judged and (strong or lasted)
    if commit:
        ring_x[i, pos] = x
        ring_mu[i, pos] = mu
        if valid:
            streak[i] = run
            last[i] = minute
            unusual[i] = unusual[i] + 1 if candidate or alert else max(unusual[i] - SHIFT_DECAY, 0)
    return p, alert, candidate or alert


@_inline
def _dispersion(inv_k: float, x: float, mu: float, learn: bool, rate: float) -> float:
    """1/size moved towards what this minute says: E[(x - mu)² - mu] = mu² / size.

    Only where mu is large enough for one minute to say anything; clipped so a single clump
    cannot make a series deaf for days.
    """
    if learn and mu > 0.3:
        m = _max(mu, 1e-9)
        r = ((x - mu) * (x - mu) - mu) / (m * m)
        r = min(r, 3.0) if r >= 0.0 else 0.0  # clipped to [0, 3], NaN to 0
        inv_k = inv_k + rate * (r - inv_k)
    return _max(inv_k, 0.02)


@_inline
def _position(minute: int) -> tuple[int, int, float, int]:
    """The profile slots around ``minute``, the weight of the second, the day of the week."""
    s = ((minute + 30) % 86_400) / SLOT_SECONDS - 0.5
    j0 = math.floor(s) % SLOTS
    return j0, (j0 + 1) % SLOTS, s - math.floor(s), (minute // 86_400 + 3) % 7


@_inline
def _expected(
    i: int, minute: int, level: np.ndarray, profile: np.ndarray, weekday: np.ndarray
) -> tuple[float, float]:
    """(expected count, time-of-day shape) of series ``i`` for ``minute``."""
    j0, j1, f, d = _position(minute)
    shape = profile[i, j0] * (1 - f) + profile[i, j1] * f
    return level[i] * shape * weekday[i, d], shape


@_inline
def _learn_season(
    i: int,
    minute: int,
    x: float,
    shape: float,
    level: np.ndarray,
    profile: np.ndarray,
    weekday: np.ndarray,
    seen: int,
    rates: np.ndarray,
) -> None:
    """Move series ``i``'s level, profile slots and weekday factor towards count ``x``."""
    j0, j1, f, d = _position(minute)
    day = weekday[i, d]
    deseasoned = x / _max(shape * day, 0.05)
    if seen == 0:  # a new series starts with what it sees
        level[i] = deseasoned
    else:  # a running mean at first, then the level's time constant
        rate = _max(1.0 / (seen + 1.0), 1.0 / rates[LEVEL_MINUTES])
        level[i] = level[i] + rate * (deseasoned - level[i])
    if not level[i] > 0:
        return
    ratio = _min(_max(x / _max(level[i] * day, 1e-9), 0.0), 5.0)
    before = profile[i, j0], profile[i, j1]
    profile[i, j0] = before[0] + rates[PROFILE_RATE] * (1 - f) * (ratio - before[0])
    profile[i, j1] = before[1] + rates[PROFILE_RATE] * f * (ratio - before[1])
    day_ratio = _min(_max(x / _max(level[i] * shape, 1e-9), 0.0), 5.0)
    weekday[i, d] = day + rates[WEEKDAY_RATE] * (day_ratio - day)


@_jit
def seasonal_expected(
    minute: int, level: np.ndarray, profile: np.ndarray, weekday: np.ndarray, out: np.ndarray
) -> None:
    for i in range(out.size):
        out[i] = _expected(i, minute, level, profile, weekday)[0]


@_jit
def seasonal_run(
    minutes: np.ndarray,
    x: np.ndarray,
    level: np.ndarray,
    profile: np.ndarray,
    weekday: np.ndarray,
    inv_k: np.ndarray,
    rates: np.ndarray,
    pos: int,
    ring_x: np.ndarray,
    ring_mu: np.ndarray,
    streak: np.ndarray,
    unusual: np.ndarray,
    seen: np.ndarray,
    last: np.ndarray,
    min_seen: int,
    test: np.ndarray,
    expected: np.ndarray,
    p: np.ndarray,
    alert: np.ndarray,
    flagged: np.ndarray,
) -> int:
    """Judge, then learn from, the finished minutes ``minutes`` of counts ``x`` (series ×
    minutes); the outputs are series × minutes too. Returns how many counts were missing.

    Series share nothing but the windows' position, so each runs through all its minutes in
    turn: the same arithmetic as minute by minute, with its state at hand.
    """
    missing = 0
    for i in range(x.shape[0]):
        for t in range(minutes.size):
            minute, xi = minutes[t], x[i, t]
            mu, shape = _expected(i, minute, level, profile, weekday)
            n_seen = seen[i]
            pt, alert[i, t], flagged[i, t] = _judge(
                i, minute, xi, mu, inv_k[i], 1.0, True, (pos + t) % RING,
                ring_x, ring_mu, streak, unusual, seen, last, min_seen, test,
            )  # fmt: skip
            expected[i, t], p[i, t] = mu, pt
            if unusual[i] >= SHIFT_MINUTES:  # a new level: the series starts over
                streak[i] = unusual[i] = 0
                n_seen = seen[i] = 0
            # Minutes judged unusual are not learned from, so a long outage never becomes normal.
            learn = xi == xi and (not flagged[i, t] or n_seen < WARM_UP_MINUTES)
            if learn:
                _learn_season(i, minute, xi, shape, level, profile, weekday, n_seen, rates)
                seen[i] = n_seen + 1
            inv_k[i] = _dispersion(inv_k[i], xi, mu, learn and n_seen > 0, rates[DISPERSION_RATE])
            if minute % 86_400 == 0:  # keep the profile's mean at 1, so the level means the level
                _normalise(profile, i)
                _normalise(weekday, i)
            missing += xi != xi
    return missing


@_jit
def seasonal_peek(
    minute: int,
    x: np.ndarray,
    fraction: float,
    level: np.ndarray,
    profile: np.ndarray,
    weekday: np.ndarray,
    inv_k: np.ndarray,
    pos: int,
    ring_x: np.ndarray,
    ring_mu: np.ndarray,
    streak: np.ndarray,
    unusual: np.ndarray,
    seen: np.ndarray,
    last: np.ndarray,
    min_seen: int,
    test: np.ndarray,
    expected: np.ndarray,
    p: np.ndarray,
    alert: np.ndarray,
    flagged: np.ndarray,
) -> int:
    missing = 0
    for i in range(x.size):
        expected[i] = _expected(i, minute, level, profile, weekday)[0]
        p[i], alert[i], flagged[i] = _judge(
            i, minute, x[i], expected[i], inv_k[i], fraction, False, pos,
            ring_x, ring_mu, streak, unusual, seen, last, min_seen, test,
        )  # fmt: skip
        missing += x[i] != x[i]
    return missing


@_inline
def _share(i: int, h: int, part: np.ndarray, whole: np.ndarray) -> tuple[float, bool, float]:
    """(share of part ``i`` for hour ``h``, whether the hour is unseen, the parent's total over
    all hours): an unseen hour (its total is 0) takes the overall share; the total is only
    computed then (0 otherwise)."""
    if not whole[i, h] <= 0:
        return part[i, h] / _max(whole[i, h], 1e-9), False, 0.0
    total = _row_sum(whole[i])
    return _row_sum(part[i]) / _max(total, 1e-9), True, total


@_jit
def share_now(minute: int, part: np.ndarray, whole: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.size):
        out[i] = _share(i, (minute // 3600) % HOURS, part, whole)[0]


@_jit
def share_step(
    minute: int,
    x: np.ndarray,
    totals: np.ndarray,
    parent: np.ndarray,
    parent_expected: np.ndarray,
    parent_flagged: np.ndarray,
    part: np.ndarray,
    whole: np.ndarray,
    inv_k: np.ndarray,
    pos: int,
    ring_x: np.ndarray,
    ring_mu: np.ndarray,
    streak: np.ndarray,
    unusual: np.ndarray,
    seen: np.ndarray,
    last: np.ndarray,
    min_seen: int,
    test: np.ndarray,
    expected: np.ndarray,
    p: np.ndarray,
    alert: np.ndarray,
    flagged: np.ndarray,
) -> int:
    """Judge, then learn from, parts ``x`` of their parents' counts ``totals``."""
    h = (minute // 3600) % HOURS
    missing = 0
    for i in range(x.size):
        g, xi = parent[i], x[i]
        t = totals[g]
        share, unseen, total = _share(i, h, part, whole)
        # A part is anomalous when it is over-represented, not when its whole service is busy
        # (a news story, a global outage): when the rest of the service surges too, the level
        # it implies for the total replaces the expected one.
        rest = (t if t == t else 0.0) - (xi if xi == xi else 0.0)
        implied = rest / _max(1.0 - share, 0.05)
        mu = share * _max(parent_expected[g], implied)
        n_seen = seen[i]
        expected[i] = mu
        p[i], alert[i], flagged[i] = _judge(
            i, minute, xi, mu, inv_k[i], 1.0, True, pos,
            ring_x, ring_mu, streak, unusual, seen, last, min_seen, test,
        )  # fmt: skip
        if unusual[i] >= SHIFT_MINUTES:  # a new share: the part starts over, hour by hour
            streak[i] = unusual[i] = 0
            n_seen = seen[i] = 0
            part[i, :] = 0.0
            whole[i, :] = 0.0
            unseen, total = True, 0.0
        calm = not flagged[i] and not parent_flagged[g]
        learn = xi == xi and t == t and (calm or n_seen < WARM_UP_MINUTES)
        if learn:
            if unseen:  # the hour's first minute: the new mean is the minute itself ...
                rate = 1.0
                if total > 0:  # ... seeded with the overall share
                    xi = share * t
            else:
                rate = 1.0 / SHARE_VISITS
            part[i, h] = part[i, h] + rate * (xi - part[i, h])
            whole[i, h] = whole[i, h] + rate * (t - whole[i, h])
            seen[i] = n_seen + 1
        inv_k[i] = _dispersion(inv_k[i], xi, mu, learn and n_seen > 0, SHARE_DISPERSION_RATE)
        missing += x[i] != x[i]
    return missing


@_jit
def share_peek(
    minute: int,
    x: np.ndarray,
    fraction: float,
    parent: np.ndarray,
    parent_expected: np.ndarray,
    part: np.ndarray,
    whole: np.ndarray,
    inv_k: np.ndarray,
    pos: int,
    ring_x: np.ndarray,
    ring_mu: np.ndarray,
    streak: np.ndarray,
    unusual: np.ndarray,
    seen: np.ndarray,
    last: np.ndarray,
    min_seen: int,
    test: np.ndarray,
    expected: np.ndarray,
    p: np.ndarray,
    alert: np.ndarray,
    flagged: np.ndarray,
) -> int:
    h = (minute // 3600) % HOURS
    missing = 0
    for i in range(x.size):
        expected[i] = _share(i, h, part, whole)[0] * parent_expected[parent[i]]
        p[i], alert[i], flagged[i] = _judge(
            i, minute, x[i], expected[i], inv_k[i], fraction, False, pos,
            ring_x, ring_mu, streak, unusual, seen, last, min_seen, test,
        )  # fmt: skip
        missing += x[i] != x[i]
    return missing
