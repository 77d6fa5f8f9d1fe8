from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from panne.signals.reports import Deduper, Fingerprinter, new_report_id


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1))
def test_report_ids_are_milliseconds_then_random_bits(ms: int, rnd: int) -> None:
    uid = new_report_id(ms, lambda bits: rnd)
    assert re.fullmatch(r"[0-9a-f]{32}", uid)
    assert int(uid, 16) == (ms << 80) | rnd


def test_report_ids_sort_by_time() -> None:
    ids = [new_report_id(ms) for ms in (1, 2, 1_709_650_800_000, 1_709_650_800_001, 2**47)]
    assert ids == sorted(ids)
    assert new_report_id(5, lambda bits: 0) < new_report_id(5)  # the floor of a millisecond
    assert len({new_report_id(5) for _ in range(1000)}) == 1000


def test_fingerprints_change_with_the_daily_salt_and_hide_the_address() -> None:
    salts: dict[int, bytes] = {}
    fp = Fingerprinter(lambda day: salts.setdefault(day, bytes([day % 256]) * 32))
    day0 = 19_787 * 86_400.0
    a = fp.reporter(day0 + 10, "203.0.113.9", "Firefox")
    assert a == fp.reporter(day0 + 80_000, "203.0.113.9", "Firefox")
    assert a != fp.reporter(day0 + 10, "203.0.113.9", "Chrome")
    assert a != fp.reporter(day0 + 86_400, "203.0.113.9", "Firefox")
    assert "203" not in a and len(a) == 32
    assert list(salts) == [19_787, 19_788]


def test_dedupe_counts_each_reporter_once_per_service_per_window() -> None:
    d = Deduper(window_seconds=900)
    assert d.first_in_window("r1", 1, 0)
    assert not d.first_in_window("r1", 1, 899)
    assert d.first_in_window("r1", 2, 899)
    assert d.first_in_window("r2", 1, 899)
    assert d.first_in_window(None, 1, 899)  # an unknown reporter always counts
    assert d.first_in_window("r1", 1, 900)
    assert not d.first_in_window("r1", 1, 100)  # out of order within the window (imports)
    d.first_in_window("r9", 9, 10_000)  # prunes what is older than the window
    assert len(d) == 1


def test_remembered_reports_survive_a_restart() -> None:
    d = Deduper(window_seconds=900)
    d.remember("r1", 1, 100)
    assert not d.first_in_window("r1", 1, 500)
