"""Incidents opened on probes alone: the pure machine tick by tick, then the detector role end to
end on a real SQLite file (probe states stored as the probe role stores them)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tests.conftest import START

from panne.clock import ManualClock
from panne.fusion_store import probe_incident_cause
from panne.incidents import Incident, Policy, ServiceState, Tally
from panne.node import Node
from panne.probe_incidents import (
    ProbeFact,
    ProbeIncidentState,
    ProbeIncidentTransition,
    probe_step,
)
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.status import all_statuses
from panne.store import incidents as incident_store
from panne.store import probes as probe_store
from panne.web.api_incidents import incident_json
from panne.web.incident_text import incident_summary, update_body

P = Policy()
T = 1_709_652_300.0  # 2024-03-05 15:25 UTC


def down(pid: str, since: float) -> ProbeFact:
    return ProbeFact(pid, "down", since)


def run(
    state: ProbeIncidentState,
    ticks: Sequence[tuple[float, Sequence[ProbeFact], str | None]],
) -> tuple[ProbeIncidentState, list[ProbeIncidentTransition]]:
    made: list[ProbeIncidentTransition] = []
    for at, facts, report in ticks:
        state, out = probe_step(state, facts, report, at, service="acme", group="acme-co")
        made += out
    return state, made


# -- the pure machine ----------------------------------------------------------------------------


def test_two_probes_down_open_one_incident_once() -> None:
    facts = [down("a", T - 30), down("b", T - 20), ProbeFact("c", "up", T - 3600)]
    state, made = run(ProbeIncidentState(), [(T + i * 10, facts, None) for i in range(30)])
    assert [t.kind for t in made] == ["opened"]
    inc = made[0].incident
    assert inc.id == f"acme-p{int(T - 30)}" and inc.started_at == T - 30
    assert (inc.severity, inc.peak_per_minute, inc.countries, inc.problems) == ("minor", 0, (), {})
    assert inc.detected_at == T and inc.group == "acme-co" and made[0].probes == ("a", "b")
    assert state.incident is not None and state.incident.status == "open"


def test_one_probe_waits_for_three_minutes_down() -> None:
    facts = [down("a", T)]
    _, early = run(ProbeIncidentState(), [(T + s, facts, None) for s in range(0, 180, 10)])
    assert early == []
    _, made = run(ProbeIncidentState(), [(T + s, facts, None) for s in range(0, 200, 10)])
    assert [(t.kind, t.at) for t in made] == [("opened", T + 180)]
    assert made[0].incident.started_at == T  # the onset is the probe's, not the detection


def test_nothing_down_nothing_opens() -> None:
    state, made = run(ProbeIncidentState(), [(T, [ProbeFact("a", "up", T - 60)], None)])
    assert made == [] and state.incident is None


def test_resolves_after_the_quiet_period() -> None:
    facts = [down("a", T - 30), down("b", T - 30)]
    state, made = run(ProbeIncidentState(), [(T, facts, None), (T + 10, facts, None)])
    back = T + 600
    quiet_ticks: list[tuple[float, list[ProbeFact], str | None]] = [
        (back + s, [], None) for s in range(0, int(P.resolve_after_seconds), 10)
    ]
    state, quiet = run(state, quiet_ticks)
    assert quiet == [] and state.incident is not None  # not yet: quiet for 890 s
    blip = [(back + 900, facts[:1], None)]  # one probe down again: the quiet starts over
    state, still = run(state, blip)
    assert still == [] and state.quiet_since is None
    state, done = run(state, [(back + 910 + s, [], None) for s in range(0, 910, 10)])
    assert [t.kind for t in done] == ["resolved"]
    inc = done[0].incident
    assert inc.status == "resolved" and inc.ended_at == back + 910
    assert inc.id == made[0].incident.id and state.incident is None


def test_superseded_by_a_report_incident_at_the_same_tick() -> None:
    facts = [down("a", T - 30), down("b", T - 30)]
    state, made = run(ProbeIncidentState(), [(T, facts, None)])
    state, handed = run(state, [(T + 60, facts, "acme-1709652240")])
    assert [(t.kind, t.superseded_by) for t in handed] == [("resolved", "acme-1709652240")]
    assert handed[0].incident.ended_at == T + 60 and state.incident is None
    # While the report incident is open, nothing opens again, however long probes fail.
    state, more = run(state, [(T + 60 + s, facts, "acme-1709652240") for s in range(10, 900, 10)])
    assert more == []
    # Once it has resolved and probes still fail, a new incident starts where it left off.
    state, again = run(state, [(T + 1000, facts, None)])
    assert [t.kind for t in again] == ["opened"]
    assert again[0].incident.started_at == T + 950  # the last tick it covered
    assert again[0].incident.id not in (made[0].incident.id, "acme-1709652240")


def test_no_opening_while_a_report_incident_is_open() -> None:
    facts = [down("a", T - 600), down("b", T - 600)]
    _, made = run(ProbeIncidentState(), [(T + s, facts, "acme-1") for s in range(0, 300, 10)])
    assert made == []


def test_a_tick_not_newer_changes_nothing() -> None:
    facts = [down("a", T - 30), down("b", T - 30)]
    state, _ = run(ProbeIncidentState(), [(T, facts, None)])
    again, made = probe_step(state, [], "acme-1", T, service="acme")
    assert again is state and made == []


def test_restart_via_to_dict_neither_repeats_nor_loses() -> None:
    facts = [down("a", T - 30), down("b", T - 30)]
    state, made = run(ProbeIncidentState(), [(T, facts, None), (T + 10, facts, None)])
    state, _ = run(state, [(T + 20, [], None)])  # quiet from T + 20
    saved = json.loads(json.dumps(state.to_dict()))
    restored = ProbeIncidentState.from_dict(saved)
    assert restored == state
    _, after = run(restored, [(T + 30, facts[:0], None), (T + 920, [], None)])
    assert [t.kind for t in after] == ["resolved"]  # the quiet began before the restart
    assert after[0].incident.id == made[0].incident.id
    assert after[0].incident.ended_at == T + 20


# -- the detector role, end to end ---------------------------------------------------------------


def probes_down(node: Node, since: float, until: float) -> None:
    """Facebook's two probes failing from ``since`` (a run a minute), through ``until``."""
    specs = [
        ProbeSpec("fb-dns", "facebook", "dns", "facebook.com"),
        ProbeSpec("fb-web", "facebook", "http", "https://www.facebook.com/"),
    ]
    probe_store.upsert_specs(node.engine, specs, now=since - 3600)
    recorder = probe_store.ProbeRecorder(node.engine, specs)
    results = []
    for at in range(int(since) - 600, int(until) + 1, 60):
        ok = at < since
        for pid in ("fb-dns", "fb-web"):
            results.append(ProbeResult(pid, at, ok, 20.0, None if ok else "timeout", ""))
    recorder(results)


def probes_up(node: Node, at: float) -> None:
    recorder = probe_store.ProbeRecorder(node.engine)
    recorder([ProbeResult(p, at + i, True, 20.0) for i in (0, 1) for p in ("fb-dns", "fb-web")])


def kinds(node: Node, incident_id: str) -> list[str]:
    return [e.kind for e in incident_store.timeline(node.engine, incident_id)]


def status(node: Node, clock: ManualClock) -> str:
    slugs = {s.id: s.slug for s in node.catalog.services.values() if s.id is not None}
    return all_statuses(node.engine, slugs, clock.now())["facebook"].state


def restart(node: Node, clock: ManualClock) -> Node:
    node.stop()
    again = Node(node.settings, clock=clock, background=False)
    again.start()
    return again


def test_the_detector_role_opens_and_resolves_on_probes_alone(
    node: Node, clock: ManualClock
) -> None:
    onset = START - 120
    probes_down(node, onset, START)
    result = node.watcher.tick()
    assert [(t.kind, t.incident.service) for t in result.probe_transitions] == [
        ("opened", "facebook")
    ]
    iid = f"facebook-p{int(onset)}"
    rec = incident_store.get(node.engine, iid)
    assert rec is not None and rec.status == "open" and rec.kind == "service"
    assert rec.detail["opened_by"] == "probes" and rec.detail["probes"] == ["fb-dns", "fb-web"]
    assert (rec.started_at, rec.detected_at, rec.severity) == (onset, START, "minor")
    assert rec.title == "Facebook" and rec.countries == [] and rec.peak_per_minute == 0
    assert incident_json(rec)["opened_by"] == "probes"  # as the incident API shows it
    events = incident_store.timeline(node.engine, iid)
    assert [e.kind for e in events] == ["opened"]
    assert events[0].snapshot["opened_by"] == "probes"
    active, _ = incident_store.query(node.engine, active=True, service="facebook")
    assert [r.id for r in active] == [iid]
    assert status(node, clock) == "outage"
    # Told as failing checks, with what fails, not as "a surge of problem reports … about 0".
    cause = probe_incident_cause(node.engine, "facebook", rec.started_at, START)
    assert cause is not None and cause[0] == "facebook.com does not answer in time"
    assert (rec.detail["cause"], rec.detail["cause_fr"]) == cause
    assert (events[0].snapshot["cause"], events[0].snapshot["cause_fr"]) == cause
    assert incident_summary(rec, node.catalog).startswith(
        "panne's checks of Facebook fail: facebook.com does not answer in time, since 14:58 UTC"
    )
    assert update_body("opened", events[0].snapshot, "Facebook", node.catalog, []).startswith(
        "panne's checks of Facebook fail: facebook.com does not answer in time."
    )

    for _ in range(3):
        clock.advance(10)
        assert node.watcher.tick().probe_transitions == []
    node = restart(node, clock)  # a restart while open: nothing repeated
    try:
        clock.advance(10)
        assert node.watcher.tick().probe_transitions == []
        assert kinds(node, iid) == ["opened"]

        back = clock.now() + 50
        probes_up(node, back)
        clock.set(back + 5)
        assert node.watcher.tick().probe_transitions == []  # quiet from here
        clock.advance(600)
        assert node.watcher.tick().probe_transitions == []
        node = restart(node, clock)  # a restart while quiet: the quiet period is kept
        clock.advance(300)
        result = node.watcher.tick()
        assert [t.kind for t in result.probe_transitions] == ["resolved"]
        rec = incident_store.get(node.engine, iid)
        assert rec is not None and rec.status == "resolved" and rec.ended_at == int(back + 5)
        assert kinds(node, iid) == ["opened", "resolved"]
        assert status(node, clock) != "outage"
        clock.advance(10)
        node = restart(node, clock)
        clock.advance(10)
        assert node.watcher.tick().probe_transitions == []
        assert kinds(node, iid) == ["opened", "resolved"]
        assert len(incident_store.query(node.engine, service="facebook")[0]) == 1
    finally:
        node.stop()


def test_a_report_incident_takes_over_the_probe_incident(node: Node, clock: ManualClock) -> None:
    onset = START - 120
    probes_down(node, onset, START)
    node.watcher.tick()
    probe_id = f"facebook-p{int(onset)}"
    # The report machine has an incident open for Facebook (as if reports had surged).
    report = Incident(
        "facebook-1709650740", "facebook", "meta", "open", "major", START - 60, START + 10, None,
        0.0, 120.0, 8.0, START + 10, 900, (("US", 600),), (), {"login": 100.0},
    )  # fmt: skip
    tally = Tally({"US": 600.0}, {"login": 900.0}, START + 10, 120.0, "major", ("US",), ("login",))
    node.watcher.machines["facebook"] = ServiceState(
        "open", START + 10, START - 60, START + 10, incident=report, tally=tally
    )
    clock.set(START + 20)
    result = node.watcher.tick()
    assert [(t.kind, t.superseded_by) for t in result.probe_transitions] == [
        ("resolved", report.id)
    ]
    old = incident_store.get(node.engine, probe_id)
    assert old is not None and old.status == "resolved"
    assert old.detail["superseded_by"] == report.id
    assert incident_store.timeline(node.engine, probe_id)[-1].snapshot["superseded_by"] == (
        report.id
    )
    active, _ = incident_store.query(node.engine, active=True, service="facebook")
    assert [r.id for r in active] == [report.id]  # one open incident for the service
    clock.advance(10)
    assert node.watcher.tick().probe_transitions == []  # probes still down: no second one
    assert status(node, clock) == "outage"
