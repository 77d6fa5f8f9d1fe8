"""The live loop end to end: simulated reports in, detectors, incidents out, on a real SQLite
file, with a clock the test moves (ten-second ticks, as the detector role runs them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import settings_for

from panne.clock import ManualClock
from panne.demo import replay
from panne.node import Node
from panne.simulate import TrafficModel, specs_from_catalog
from panne.status import all_statuses
from panne.store import incidents as incident_store

START = 1_709_650_800.0  # 2024-03-05 15:00 UTC
ONSET = START + 600.0


def run(node: Node, model: TrafficModel, clock: ManualClock, until: float) -> list[str]:
    kinds = []
    for result in replay(node, model, clock, until):
        kinds += [f"{x.kind}:{x.incident.service}" for x in result.transitions]
        kinds += [f"group-{x.kind}:{x.incident.group}" for x in result.group_transitions]
    return kinds


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Node, TrafficModel, ManualClock]]:
    clock = ManualClock(START)
    node = Node(
        settings_for(f"sqlite:///{tmp_path / 'w.db'}", demo=True), clock=clock, background=False
    )
    node.start()  # backfills a day of history and warms the detectors on it
    model = TrafficModel(specs_from_catalog(node.catalog), seed=3, scale=0.1, start=START)
    model.add_meta_2024(ONSET)
    yield node, model, clock
    node.stop()


@pytest.mark.slow
def test_meta_outage_is_detected_grouped_and_survives_a_restart(
    world: tuple[Node, TrafficModel, ManualClock], tmp_path: Path
) -> None:
    node, model, clock = world
    quiet = run(node, model, clock, ONSET)
    assert quiet == []  # ten minutes of ordinary traffic: nothing
    kinds = run(node, model, clock, ONSET + 1200)
    opened = [k for k in kinds if k.startswith("opened:")]
    assert {"opened:facebook", "opened:instagram"} <= set(opened)
    assert "opened:whatsapp" not in opened
    assert "group-opened:meta" in kinds
    records, _ = incident_store.query(node.engine, active=True, service="facebook")
    fb = next(r for r in records if r.kind == "service")
    assert fb.detected_at - ONSET <= 180  # flagged within three minutes of the onset
    assert fb.started_at <= fb.detected_at
    assert abs(fb.started_at - ONSET) <= 120  # the estimated onset, before detection
    assert next(iter(fb.problems)) == "login"
    assert "US" in [c for c, _ in fb.countries[:5]]
    group = next(r for r in records if r.kind == "group")
    assert group.title.startswith("Meta: ") and "facebook" in group.members
    assert fb.parent_id == group.id
    statuses = all_statuses(
        node.engine,
        {s.id: s.slug for s in node.catalog.services.values() if s.id is not None},
        clock.now(),
    )
    assert statuses["facebook"].state == "outage"
    assert statuses["whatsapp"].state != "outage"
    timeline = [e.kind for e in incident_store.timeline(node.engine, fb.id)]
    assert timeline[0] == "opened" and timeline.count("opened") == 1

    node.stop()  # a restart: the state is saved, nothing is repeated or lost
    again = Node(node.settings, clock=clock, background=False)
    again.start()
    try:
        more = run(again, model, clock, clock.now() + 120)
        assert not [k for k in more if k.startswith("opened:facebook")]
        assert incident_store.get(again.engine, fb.id) is not None
        # The outage ends at ONSET + 130 minutes; fifteen quiet minutes later it resolves.
        clock.set(ONSET + 7800 - 60)
        later = run(again, model, clock, ONSET + 7800 + 1200)
        assert "resolved:facebook" in later
        done = incident_store.get(again.engine, fb.id)
        assert done is not None and done.status == "resolved" and done.ended_at is not None
    finally:
        again.stop()
