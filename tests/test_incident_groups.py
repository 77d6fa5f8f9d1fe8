"""A company's outage: its services' incidents, one parent, opened, grown and resolved."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

import pytest
from tests.test_incidents import P, T, alerting, drive, kinds, sig, ticks

from panne.incident_groups import GroupState, GroupTransition, group_step
from panne.incidents import Incident, ServiceState, step

SIBLINGS = ("facebook", "instagram", "threads", "messenger", "whatsapp")


def meta_outage(
    onsets: Mapping[str, float], ends: Mapping[str, float], until: float
) -> list[GroupTransition]:
    """Every sibling's machine and the group tracker, tick by tick, restarting half-way."""
    states = {s: ServiceState() for s in SIBLINGS}
    group = GroupState()
    out: list[GroupTransition] = []
    for at in ticks(T, until - T):
        for s in SIBLINGS:
            down = s in onsets and onsets[s] <= at < ends[s]
            states[s], _ = step(states[s], sig(at, alert=down, service=s), P)
        incidents = [st.incident for st in states.values() if st.incident is not None]
        group, made = group_step(group, "meta", incidents, at)
        out += made
        if at == T + 900:
            group = GroupState.from_dict(json.loads(json.dumps(group.to_dict())))
    return out


def test_siblings_failing_together_form_one_parent_without_the_quiet_one() -> None:
    onsets = {"facebook": T + 60, "instagram": T + 120, "threads": T + 300, "messenger": T + 600}
    ends = {"facebook": T + 3000, "instagram": T + 2400, "threads": T + 2700, "messenger": T + 1800}
    out = meta_outage(onsets, ends, T + 5400)
    assert kinds(out) == ["opened", "member_added", "member_added", "resolved"]
    parent = out[-1].incident
    assert parent.members == ("facebook", "instagram", "threads", "messenger")
    assert "whatsapp" not in parent.members and len(parent.incidents) == 4
    assert all(t.incident.id == parent.id for t in out)
    assert parent.started_at == T + 60  # the earliest child onset
    assert parent.ended_at == T + 3000  # when the last child went quiet
    assert out[-1].at >= T + 3000 + P.resolve_after_seconds  # only once it resolved
    assert [c for c, _ in parent.countries] == ["US", "GB", "TN"]
    assert sum(parent.problems.values()) == pytest.approx(100.0)
    names = {"meta": "Meta", "facebook": "Facebook", "instagram": "Instagram"}
    names |= {"threads": "Threads", "messenger": "Messenger"}
    assert parent.title(names) == "Meta: Facebook, Instagram, Threads, Messenger"


def test_a_single_service_outage_makes_no_parent() -> None:
    assert meta_outage({"facebook": T + 60}, {"facebook": T + 1800}, T + 3600) == []


def test_a_parent_outlives_its_first_children_until_the_last_resolves() -> None:
    onsets = {"facebook": T + 60, "instagram": T + 60}
    ends = {"facebook": T + 600, "instagram": T + 2400}
    out = meta_outage(onsets, ends, T + 4800)
    assert kinds(out) == ["opened", "resolved"]
    assert out[-1].incident.ended_at == T + 2400


def test_a_member_growing_worse_updates_the_parent_once() -> None:
    _, out = drive(alerting(T, 120))
    facebook = replace(out[0].incident, severity="major")
    instagram = replace(facebook, id="instagram-1", service="instagram")
    group, made = group_step(GroupState(), "meta", [facebook, instagram], T + 120)
    assert kinds(made) == ["opened"] and made[0].incident.severity == "major"
    worse = replace(facebook, severity="critical")
    group, made = group_step(group, "meta", [worse, instagram], T + 180)
    assert kinds(made) == ["updated"] and made[0].incident.severity == "critical"
    group, made = group_step(group, "meta", [worse, instagram], T + 240)
    assert made == []  # no news, no update
    group, made = group_step(group, "meta", [facebook, instagram], T + 300)
    assert made == []  # the company's severity is the worst its members reached


def test_a_group_refuses_incidents_of_another_group() -> None:
    _, out = drive(alerting(T, 120))
    stranger = Incident.from_dict({**out[0].incident.to_dict(), "group": "google"})
    with pytest.raises(ValueError, match="other groups"):
        group_step(GroupState(), "meta", [stranger], T)
