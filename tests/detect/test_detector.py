"""The detector's contract and behaviour on synthetic seasonal negative-binomial series."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from panne.detect import PEEK_FROM, Detector, SeasonalBank, ShareBank
from panne.detect.reference import same_time_yesterday
from panne.detect.test import tail_p

T0 = calendar.timegm((2024, 5, 6, 0, 0, 0))  # a Monday, no DST change for weeks
DAY = 1440


def seasonal(rng: np.random.Generator, base: float, days: float, start: int = T0) -> np.ndarray:
    """Counts with an evening peak, quiet nights and over-dispersion (gamma-Poisson)."""
    t = start + np.arange(int(days * DAY)) * 60
    hour = (t % 86_400) / 3600
    shape = 0.2 + 0.8 * (1 + np.cos(2 * np.pi * (hour - 19) / 24)) / 2
    rate = base * shape
    return rng.poisson(rng.gamma(8.0, rate / 8.0)).astype(float)


def run(counts: np.ndarray, start: int = T0, det: Detector | None = None) -> list[bool]:
    det = det or Detector()
    return [det.update(start + 60 * i, c).alert for i, c in enumerate(counts)]


@pytest.mark.parametrize("base", [0.02, 3.0, 400.0])
def test_quiet_on_four_weeks_of_noise(base: float) -> None:
    counts = seasonal(np.random.default_rng(1), base, 28)
    assert sum(run(counts)) <= 3


@pytest.mark.parametrize("base", [3.0, 400.0])
def test_sharp_outage_caught_within_two_minutes_and_stays_caught(base: float) -> None:
    counts = seasonal(np.random.default_rng(2), base, 9)
    onset = 8 * DAY + 19 * 60  # an evening
    counts[onset : onset + 120] = counts[onset : onset + 120] * 10 + 5
    alerts = run(counts)
    assert any(alerts[onset : onset + 3])
    assert sum(alerts[onset : onset + 120]) > 100  # a long outage never becomes normal
    assert not any(alerts[onset + 140 : onset + 400])


def test_a_fourteen_hour_outage_is_caught_until_it_ends() -> None:
    counts = seasonal(np.random.default_rng(11), 40.0, 10)
    onset = 8 * DAY + 8 * 60  # as long as the longest on record (Facebook, March 2019)
    counts[onset : onset + 14 * 60] = counts[onset : onset + 14 * 60] * 8 + 5
    alerts = run(counts)
    assert sum(alerts[onset : onset + 14 * 60]) > 14 * 60 - 10
    assert not any(alerts[onset + 14 * 60 + 20 : onset + 16 * 60])


def test_a_level_unusual_for_a_day_becomes_the_new_normal() -> None:
    counts = seasonal(np.random.default_rng(12), 10.0, 12)
    shift = 7 * DAY + 600  # six times the reports from here on: a launch, not an outage
    counts[shift:] = seasonal(np.random.default_rng(13), 60.0, 12)[shift:]
    alerts = run(counts)
    assert sum(alerts[shift : shift + DAY]) > DAY - 10  # a day is still an outage ...
    assert sum(alerts[shift + DAY + 15 :]) <= 3  # ... then it is the usual level


def test_a_share_unusual_for_a_day_becomes_the_new_normal() -> None:
    rng = np.random.default_rng(14)
    minutes = 12 * DAY
    parts = np.stack([seasonal(rng, 200.0 * s, 12) for s in (0.6, 0.35, 0.05)])
    shift = 7 * DAY + 600  # the small country's reports quintuple for good: the service grew there
    parts[2, shift:] *= 5
    totals = parts.sum(axis=0)
    bank, share = SeasonalBank(1), ShareBank(np.zeros(3, dtype=np.int64))
    alerts = np.zeros(minutes, dtype=bool)
    for i in range(minutes):
        j = bank.step(T0 + 60 * i, totals[i : i + 1])
        alerts[i] = share.step(T0 + 60 * i, parts[:, i], totals[i : i + 1], j).alert[2]
    assert alerts[shift : shift + DAY].sum() > DAY - 200  # flickers, so it takes longer ...
    assert alerts[shift + 2 * DAY :].sum() <= 3  # ... but not for ever


def test_media_burst_is_not_an_outage() -> None:
    counts = seasonal(np.random.default_rng(3), 50.0, 9)
    b = 8 * DAY + 18 * 60
    counts[b : b + 3] *= 3
    assert not any(run(counts)[b - 5 : b + 20])


def test_growth_and_a_gap_cause_no_alarm() -> None:
    rng = np.random.default_rng(4)
    counts = seasonal(rng, 40.0, 21)
    counts *= np.linspace(1.0, 1.5 * 1.5, counts.size)  # +50 % a week
    gap = 12 * DAY
    counts[gap : gap + 360] = np.nan
    det = Detector()
    alerts = [
        det.update(T0 + 60 * i, None if np.isnan(c) else c).alert for i, c in enumerate(counts)
    ]
    assert sum(alerts) <= 3


def test_dst_shift_causes_no_alarm() -> None:
    rng = np.random.default_rng(5)
    before = seasonal(rng, 60.0, 14)
    after = seasonal(rng, 60.0, 7, start=T0 + 14 * 86_400 - 3600)  # the day moves an hour
    assert sum(run(np.concatenate([before, after]))[14 * DAY :]) <= 3


def test_cold_start_only_alerts_on_clear_bursts() -> None:
    counts = seasonal(np.random.default_rng(6), 20.0, 1)
    assert sum(run(counts)) == 0
    burst = counts.copy()
    burst[1000:1030] = burst[1000:1030] * 20 + 20
    assert any(run(burst)[1000:1010])


def test_partial_minute_flags_a_surge_before_the_minute_ends() -> None:
    det = Detector()
    counts = seasonal(np.random.default_rng(7), 30.0, 8)
    for i, c in enumerate(counts):
        det.update(T0 + 60 * i, c)
    now = T0 + 60 * len(counts)
    expected = det.peek(now, 0, 0.5).expected
    assert det.peek(now, expected * 0.5 * 12 + 10, 0.5).alert
    assert not det.peek(now, expected * 0.5, 0.5).alert
    before = det.to_state()
    det.peek(now, 10_000, 0.5)
    assert det.to_state() == before  # peeking learns nothing


def test_an_unfinished_minute_alerts_on_strength_once_a_quarter_has_passed() -> None:
    """Its first seconds are too few reports to judge, and a moderate excess must last five
    whole minutes: a peek cannot make the fifth out of the previous four and a few seconds."""
    det = Detector()
    counts = seasonal(np.random.default_rng(7), 30.0, 8)
    for i, c in enumerate(counts):
        det.update(T0 + 60 * i, c)
    now = T0 + 60 * len(counts)
    surge = det.peek(now, 0, 1.0).expected * 20
    assert not det.peek(now, surge * 0.2, 0.2).alert
    assert det.peek(now, surge * PEEK_FROM, PEEK_FROM).alert
    peeked, judged = [], []
    for k in range(10):  # a moderate excess (3.5x): no strength, it must last
        minute = now + 60 * k
        x = det.peek(minute, 0, 1.0).expected * 3.5 + 10
        peeked.append(det.peek(minute, x * 0.9, 0.9).alert)
        judged.append(det.update(minute, x).alert)
    assert any(judged) and not any(peeked)  # alerted by whole minutes only


def test_state_round_trip_is_small_and_exact() -> None:
    counts = seasonal(np.random.default_rng(8), 25.0, 3)
    a = Detector()
    for i, c in enumerate(counts[:3000]):
        a.update(T0 + 60 * i, c)
    b = Detector.from_state(json.loads(json.dumps(a.to_state())))
    assert a.state_bytes() <= 4096
    for i, c in enumerate(counts[3000:], start=3000):
        ja, jb = a.update(T0 + 60 * i, c), b.update(T0 + 60 * i, c)
        assert ja.alert == jb.alert
        assert ja.expected == pytest.approx(jb.expected, rel=1e-4)
        assert 0.0 <= ja.score <= 1.0


def test_bank_rows_match_single_detectors() -> None:
    rng = np.random.default_rng(9)
    series = np.stack([seasonal(rng, b, 2) for b in (1.0, 10.0, 100.0)])
    bank = SeasonalBank(3)
    singles = [Detector() for _ in range(3)]
    for i in range(series.shape[1]):
        j = bank.step(T0 + 60 * i, series[:, i])
        for k, d in enumerate(singles):
            assert d.update(T0 + 60 * i, series[k, i]).alert == bool(j.alert[k])


def test_share_catches_a_single_country_outage_invisible_in_the_total() -> None:
    rng = np.random.default_rng(10)
    total_rate = 300.0
    minutes = 9 * DAY
    shares = np.array([0.5, 0.3, 0.2, 0.01])
    parts = np.stack([seasonal(rng, total_rate * s, 9) for s in shares])
    onset = 8 * DAY + 600
    parts[3, onset : onset + 60] += 12  # the small country: 4x its normal, +3 % worldwide
    totals = parts.sum(axis=0)
    bank, share = SeasonalBank(1), ShareBank(np.zeros(4, dtype=np.int64))
    total_alerts, part_alerts = [], []
    for i in range(minutes):
        j = bank.step(T0 + 60 * i, totals[i : i + 1])
        s = share.step(T0 + 60 * i, parts[:, i], totals[i : i + 1], j)
        total_alerts.append(bool(j.alert[0]))
        part_alerts.append(list(np.flatnonzero(s.alert)))
    assert not any(total_alerts[onset : onset + 60])
    hits = [p for p in part_alerts[onset : onset + 15] if p]
    assert hits and hits[0] == [3]
    assert sum(1 for p in part_alerts[: onset - 10] if p) <= 3


def test_tail_probability_matches_the_negative_binomial() -> None:
    from scipy.stats import nbinom

    mean, inv_k = 4.0, 0.25
    size = 1 / inv_k
    for k in (5, 12, 30):
        ref = nbinom.sf(k - 1, size, size / (size + mean))
        got = tail_p(np.array([float(k)]), np.array([mean]), np.array([inv_k]))[0]
        assert got == pytest.approx(ref, rel=1e-6)
    at_or_below = tail_p(np.array([0.0, 4.0]), np.array([mean, mean]), np.array([inv_k] * 2))
    assert list(at_or_below) == [1.0, 1.0]  # no evidence of an outage


def test_same_time_yesterday_reference() -> None:
    counts = np.ones(3 * DAY) * 5
    counts[2 * DAY + 10] = 40
    alerts = same_time_yesterday(counts)
    assert alerts[2 * DAY + 10] and alerts.sum() == 1
