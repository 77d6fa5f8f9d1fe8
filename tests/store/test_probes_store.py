"""The probe tables' contract, run on an SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select

from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store import migrate
from panne.store import probes as probe_store
from panne.store.schema import probe_results, probes

T0 = 1_709_650_800.0  # 2024-03-05 15:00 UTC
DAY = 86_400.0
TABLES = {"probes", "probe_results", "probe_state", "probe_events"}


def spec(probe_id: str = "api", **kw: object) -> ProbeSpec:
    return ProbeSpec(
        id=probe_id,
        service="acme",
        kind="http",
        target="https://acme.example/",
        **kw,  # type: ignore[arg-type]
    )


def res(at: float, ok: bool, probe_id: str = "api") -> ProbeResult:
    return ProbeResult(probe_id, at, ok, 12.5, None if ok else "http_5xx", "" if ok else "503")


def test_migration_creates_and_removes_the_probe_tables(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    cfg = migrate._config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()


def test_specs_upsert_by_id_and_round_trip(engine: Engine) -> None:
    assert probe_store.upsert_specs(engine, [spec("api"), spec("web")], now=T0) == (2, 0)
    changed = spec("api", keyword="ok", expect_status=(200, 299))
    assert probe_store.upsert_specs(engine, [changed], now=T0 + 1) == (0, 1)
    assert probe_store.load_specs(engine) == [changed, spec("web")]
    with engine.begin() as conn:  # paused, as an admin would
        conn.execute(probes.update().where(probes.c.id == "web").values(enabled=False))
    assert probe_store.upsert_specs(engine, [spec("web")], now=T0 + 2) == (0, 1)
    assert probe_store.load_specs(engine) == [changed]
    assert len(probe_store.load_specs(engine, enabled_only=False)) == 2


def test_recorder_stores_results_states_and_one_transition(engine: Engine) -> None:
    recorder = probe_store.ProbeRecorder(engine, [spec()])
    (up,) = recorder([res(T0, True), res(T0 + 60, False)])
    assert [up] == probe_store.load_transitions(engine)
    (down,) = recorder([res(T0 + 120, False), res(T0 + 180, False)])
    assert (down.from_status, down.to_status, down.since, down.at) == (
        "up",
        "down",
        T0 + 60,
        T0 + 120,
    )
    assert [t.to_status for t in probe_store.load_transitions(engine, "api")] == ["up", "down"]
    state = probe_store.load_states(engine)["api"]
    assert (state.status, state.fail_streak, state.since, state.last_at) == (
        "down",
        3,
        T0 + 60,
        T0 + 180,
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(probe_results)).scalar() == 4


def test_a_restart_neither_repeats_nor_loses_a_transition(engine: Engine) -> None:
    first = probe_store.ProbeRecorder(engine, [spec()])
    first([res(T0, True), res(T0 + 60.0004, False)])  # sub-millisecond times are rounded
    second = probe_store.ProbeRecorder(engine, [spec()])  # a restart mid-streak
    (down,) = second([res(T0 + 120, False)])
    assert down.to_status == "down"
    third = probe_store.ProbeRecorder(engine, [spec()])
    assert third([res(T0 + 60.0004, False), res(T0 + 120, False)]) == []  # redelivered
    assert third([res(T0 + 180, False)]) == []  # still down: nothing to say
    assert [t.to_status for t in probe_store.load_transitions(engine)] == ["up", "down"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(probe_results)).scalar() == 4


def test_recover_after_is_per_probe(engine: Engine) -> None:
    recorder = probe_store.ProbeRecorder(engine, [spec(fail_after=1, recover_after=3)])
    assert [t.to_status for t in recorder([res(T0, False)])] == ["down"]
    assert recorder([res(T0 + 60, True), res(T0 + 120, True)]) == []
    assert [t.to_status for t in recorder([res(T0 + 180, True)])] == ["up"]


def test_a_large_batch_goes_in_one_transaction(engine: Engine) -> None:
    recorder = probe_store.ProbeRecorder(engine)
    batch = [res(T0 + i, i % 7 != 0, f"p{i % 50}") for i in range(2000)]
    recorder(batch)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(probe_results)).scalar() == 2000
    assert len(probe_store.load_states(engine)) == 50


def test_uptime_by_day(engine: Engine) -> None:
    recorder = probe_store.ProbeRecorder(engine)
    day0 = T0 - 15 * 3600  # 2024-03-05 00:00 UTC
    batch = [res(day0 - 2 * DAY + 60 * i, True) for i in range(10)]  # 3 March: all up
    batch += [res(day0 + 60 * i, i % 4 != 0) for i in range(8)]  # 5 March: 6 of 8
    batch += [res(day0 - 2 * DAY, True, "other")]
    recorder(batch)
    days = probe_store.uptime_by_day(engine, "api", 4, now=T0)
    assert [(d.day, d.uptime_percent, d.checks) for d in days] == [
        (date(2024, 3, 2), None, 0),
        (date(2024, 3, 3), 100.0, 10),
        (date(2024, 3, 4), None, 0),
        (date(2024, 3, 5), 75.0, 8),
    ]
    with pytest.raises(ValueError):
        probe_store.uptime_by_day(engine, "api", 0, now=T0)
