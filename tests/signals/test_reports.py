from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from panne.signals.reports import (
    BatchReportIn,
    Deduper,
    Fingerprinter,
    batch_items,
    new_report_id,
    new_report_ids,
)


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


def test_batch_ids_are_report_ids_of_one_millisecond() -> None:
    ms = 1_709_650_800_123
    ids = new_report_ids(ms, 1000)
    assert len(set(ids)) == 1000 and new_report_ids(ms, 0) == []
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) and int(i, 16) >> 80 == ms for i in ids)
    assert new_report_ids(ms, 3, lambda bits: (1 << 80) + 2) == [
        f"{ms:012x}" + f"{n:020x}" for n in (0, 1, 2)
    ]


# Values of every kind a JSON body can hold, near the bounds the models check.
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.text(alphabet="aZ\u00e9\u0130\n1 ", min_size=1, max_size=3),
    st.sampled_from(["", "a" * 64, "a" * 65, "a" * 200, "b" * 201, "u" * 2000, "u" * 2001]),
    st.lists(st.integers(), max_size=1),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
)
_KEYS = st.sampled_from(["service", "problem", "country", "url", "timestamp", "reporter", "extra"])
_ITEM = st.one_of(
    st.dictionaries(_KEYS, _VALUES, max_size=7),
    st.fixed_dictionaries(
        {"service": st.text(min_size=1, max_size=3), "problem": st.just("login")},
        optional={"country": _VALUES, "timestamp": _VALUES, "reporter": _VALUES, "url": _VALUES},
    ),
    _VALUES,
)
_ADAPTER = TypeAdapter(list[BatchReportIn])


@given(st.lists(_ITEM, max_size=4))
def test_batch_validation_is_exactly_the_models(raw: list[Any]) -> None:
    """The hand-written check accepts what the models accept, with the same values, and
    refuses with the models' own errors."""
    try:
        models = _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            batch_items(raw)
        assert got.value.errors() == exc.errors()
        return
    items = batch_items(raw)
    expect = [(m.service, m.problem, m.country, m.timestamp, m.reporter) for m in models]
    assert items == expect
    assert [type(t) for it in items for t in it] == [type(t) for it in expect for t in it]


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


def test_a_report_that_was_not_accepted_is_forgotten() -> None:
    d = Deduper(window_seconds=900)
    assert d.first_in_window("r1", 1, 100.25)
    d.forget("r1", 1, 100_249)  # another report's time: kept
    assert not d.first_in_window("r1", 1, 200)
    d.forget("r1", 1, 100_250)
    assert d.first_in_window("r1", 1, 200)


def test_just_after_midnight_the_reporter_is_also_known_under_yesterdays_salt() -> None:
    salts: dict[int, bytes] = {}
    fp = Fingerprinter(lambda day: salts.setdefault(day, bytes([day % 256]) * 32))
    midnight = 19_788 * 86_400.0
    before = fp.reporter(midnight - 60, "203.0.113.9", "Firefox")
    assert fp.yesterdays(midnight + 60, "203.0.113.9", "Firefox", 900) == before
    assert fp.reporter(midnight + 60, "203.0.113.9", "Firefox") != before
    assert fp.yesterdays(midnight + 900, "203.0.113.9", "Firefox", 900) is None


def test_dedupe_looks_at_the_other_fingerprint_too() -> None:
    d = Deduper(window_seconds=900)
    assert d.first_in_window("old", 1, 100)
    assert not d.first_in_window("new", 1, 200, also="old")
    assert d.first_in_window("new", 1, 200, also="someone-else")
    assert d.first_in_window("new", 2, 300, also="old")  # another service


@pytest.mark.parametrize("ts", ["1709650800", True, "2024-03-05T15:00:00Z"])
def test_a_batch_timestamp_is_a_number_not_text_or_a_boolean(ts: object) -> None:
    """Lax, the model took "1709650800" and true (1.0: a report of 1970)."""
    with pytest.raises(ValidationError) as got:
        batch_items([{"service": "facebook", "problem": "login", "timestamp": ts}])
    assert got.value.errors()[0]["loc"] == (0, "timestamp")
