"""The synthetic traffic looks like crowd reports, and its labels are right."""

from __future__ import annotations

import calendar
import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from panne.catalog import default_catalog
from panne.simulate import TrafficModel, detection_corpus, specs_from_catalog, write_csv
from panne.simulate.outages import META_2024_START
from panne.simulate.traffic import Rhythm, dst_changes

DAY = calendar.timegm((2024, 5, 7, 0, 0, 0))  # a Tuesday without DST changes around


def model(seed: int = 1) -> TrafficModel:
    return TrafficModel(specs_from_catalog(default_catalog()), seed=seed, start=DAY)


def totals(m: TrafficModel, minute: float) -> Counter[str]:
    c: Counter[str] = Counter()
    for service, _, _, n in m.minute_counts(minute):
        c[service] += n
    return c


def test_same_seed_same_traffic() -> None:
    assert model(3).minute_counts(DAY) == model(3).minute_counts(DAY)
    assert model(3).minute_counts(DAY) != model(4).minute_counts(DAY)


def test_daily_pattern_peaks_in_the_local_evening() -> None:
    hours = np.arange(24) * 3600.0 + DAY
    fr = Rhythm(("FR",)).activity(hours)[:, 0]
    assert int(np.argmax(fr)) in (17, 18)  # 19-20 h in Paris (UTC+2 in May)
    assert int(np.argmin(fr)) in (1, 2, 3)
    us = Rhythm(("US",)).activity(hours)[:, 0]
    assert int(np.argmax(us)) in (23, 0)  # 19-20 h in New York (UTC-4)


def test_dst_moves_the_daily_pattern_by_an_hour() -> None:
    changes = dst_changes(
        calendar.timegm((2024, 3, 1, 0, 0, 0)), calendar.timegm((2024, 4, 5, 0, 0, 0))
    )
    assert [rule for _, rule in changes] == ["us", "eu"]
    assert changes[0][0] == calendar.timegm((2024, 3, 10, 7, 0, 0))
    before = Rhythm(("FR",)).activity(
        calendar.timegm((2024, 3, 29, 0, 0, 0)) + np.arange(24) * 3600.0
    )
    after = Rhythm(("FR",)).activity(
        calendar.timegm((2024, 4, 2, 0, 0, 0)) + np.arange(24) * 3600.0
    )
    assert int(np.argmax(before)) - int(np.argmax(after)) == 1


def test_counts_are_over_dispersed() -> None:
    m = TrafficModel(specs_from_catalog(default_catalog()), seed=2, start=DAY)
    fb = np.array([totals(m, DAY + 19 * 3600.0)["facebook"] for _ in range(400)])
    assert fb.var() > 1.5 * fb.mean()


def test_meta_2024_scenario() -> None:
    m = model()
    outages = m.add_meta_2024()
    assert {o.service for o in outages} == {"facebook", "instagram", "threads", "messenger"}
    assert len({o.group_id for o in outages}) == 1
    before = totals(m, META_2024_START - 600)
    peak = totals(m, META_2024_START + 900)
    early = totals(m, META_2024_START + 60)
    for s in ("facebook", "instagram", "threads", "messenger"):
        assert peak[s] > 30 * max(before[s], 1)
        assert early[s] < peak[s]  # rises over minutes, not at once
    assert peak["whatsapp"] < 5 * max(before["whatsapp"], 5)
    problems: Counter[str] = Counter()
    for service, _, problem, n in m.minute_counts(META_2024_START + 1200):
        if service == "facebook":
            problems[problem] += n
    assert 0.7 < problems["login"] / sum(problems.values()) < 0.82


def test_single_country_outage_is_strong_there_and_small_in_the_world() -> None:
    m = model()
    m.add_outage(
        "single_country", "youtube", DAY + 3600, minutes=60, peak_ratio=20, countries=("TN",)
    )
    during = DAY + 3600 + 900
    tn = sum(n for s, c, _, n in m.minute_counts(during) if s == "youtube" and c == "TN")
    world = sum(n for s, c, _, n in m.minute_counts(during) if s == "youtube")
    quiet = sum(n for s, c, _, n in m.minute_counts(DAY + 600) if s == "youtube" and c == "TN")
    assert tn >= 2 and tn > 5 * max(quiet, 0.2)
    assert world < 20 * m.expected_rate("youtube", during)


def test_bursts_are_events_not_outages() -> None:
    m = model()
    m.add_burst("x", DAY + 600)
    assert m.outages == [] and [e.kind for e in m.events] == ["media_burst"]


def test_reports_are_in_time_order_within_the_range() -> None:
    m = model()
    reports = list(m.reports(DAY + 10, DAY + 130))
    assert reports and all(DAY + 10 <= r.at < DAY + 130 for r in reports)
    assert [r.at for r in reports] == sorted(r.at for r in reports)


def test_corpus_spans_scales_and_labels(tmp_path: Path) -> None:
    corpus = detection_corpus(n_series=12, weeks=2, seed=5)
    assert len(corpus) == 12
    means = [c.counts[c.counts >= 0].mean() for c in corpus]
    assert max(means) / max(min(means), 1e-9) > 1000
    assert all(c.outages for c in corpus)
    gaps = [e for c in corpus for e in c.events if e.kind == "gap"]
    for c in corpus:
        for e in c.events:
            if e.kind == "gap":
                i = int((e.start - c.start) // 60)
                assert c.counts[i] == -1
        assert len(c.counts) == 2 * 7 * 1440
    assert gaps
    write_csv(corpus[0], tmp_path / "s.csv")
    with (tmp_path / "s.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["timestamp", "count"] and rows[1][0].endswith("Z")


def test_several_series_share_one_csv_with_a_series_column(tmp_path: Path) -> None:
    corpus = detection_corpus(n_series=3, weeks=2, seed=2)
    write_csv(corpus, tmp_path / "many.csv")
    with (tmp_path / "many.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["series", "timestamp", "count"]
    assert {r[0] for r in rows[1:]} == {c.name for c in corpus}
    assert len(rows) - 1 == sum(int((c.counts >= 0).sum()) for c in corpus)


def test_meta_2024_problems_are_each_services_own() -> None:
    catalog = default_catalog()
    m = model()
    for o in m.add_meta_2024():
        assert set(o.problems) <= set(catalog.services[o.service].problems), o.service
        assert abs(sum(o.problems.values()) - 1) < 1e-9
    messenger = next(o for o in m.outages if o.service == "messenger")
    assert messenger.problems == {"login": 0.76, "messaging": 0.14, "photos-videos": 0.10}
    for service, _, problem, _ in m.minute_counts(META_2024_START + 1200):
        assert problem in catalog.services[service].problems, (service, problem)


def test_fit_problems_keeps_what_fits_and_moves_the_rest() -> None:
    from panne.simulate.outages import fit_problems

    assert fit_problems({"login": 0.5, "website": 0.5}, ("login", "website")) == {
        "login": 0.5,
        "website": 0.5,
    }
    assert fit_problems({"login": 0.6, "website": 0.4}, ("messaging", "login", "other")) == {
        "login": 0.6,
        "messaging": 0.4,
    }
    assert fit_problems({"a": 0.7, "b": 0.3}, ("login",)) == {"login": 1.0}


def test_growth_raises_the_usual_volume_week_after_week() -> None:
    grown = TrafficModel(specs_from_catalog(default_catalog()), growth_per_week=0.1, start=DAY)
    flat = model()
    week = 7 * 86_400
    assert grown.expected_rate("facebook", DAY + week) == pytest.approx(
        1.1 * flat.expected_rate("facebook", DAY + week)
    )
