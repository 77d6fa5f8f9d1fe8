"""Sibling services failing together, as one parent incident: a pure state machine per company.

Sibling services failing together become one parent incident with its own timeline ("Meta:
Facebook, Instagram, Threads, Messenger"), so readers see one outage and notifiers send one
message. A parent opens when two or more services of one group have open incidents at the same
tick, gains members as more siblings open, and resolves when its last member resolves. Each
tick the live loop hands :func:`group_step` a company's service incidents
(:mod:`panne.incidents`) as they stand; like them, nothing here reads a clock or the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from panne.incidents import (
    SEVERITIES,
    Incident,
    IncidentStatus,
    Severity,
    percentages,
    ranked,
)

GroupTransitionKind = Literal["opened", "member_added", "updated", "resolved"]


@dataclass(frozen=True)
class GroupIncident:
    """A parent incident as it stands at one tick."""

    # "<group>.<detection epoch seconds>": one parent at a time per group, so unique (an onset
    # would not be: a member reopening after the parent closed brings its old onset along);
    # the dot, never in a slug, keeps it apart from every service incident's id.
    id: str
    group: str
    status: IncidentStatus
    severity: Severity
    members: tuple[str, ...]  # service slugs, in the order they joined
    incidents: tuple[str, ...]  # the member incidents' ids, for the caller to link them
    started_at: float  # the earliest member onset
    detected_at: float  # the tick the parent opened
    ended_at: float | None  # the latest member end, once all have resolved
    duration_seconds: float  # to ended_at, or to this snapshot's tick while open
    peak_per_minute: float  # the largest member peak, with that member's ratio and time
    peak_ratio: float
    peak_at: float
    reports: int
    countries: tuple[tuple[str, int], ...]
    problems: Mapping[str, float]  # percent, weighted by each member's reports

    def title(self, names: Mapping[str, str], group_name: str | None = None) -> str:
        """A title such as "Meta: Facebook, Instagram". ``names`` maps slugs to display names;
        the group's name may be given apart, in case a group and a service share a slug."""
        group = group_name or names.get(self.group, self.group)
        return f"{group}: {', '.join(names.get(m, m) for m in self.members)}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["members"] = list(self.members)
        d["incidents"] = list(self.incidents)
        d["countries"] = [list(c) for c in self.countries]
        d["problems"] = dict(self.problems)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupIncident:
        return cls(
            **{
                **d,
                "members": tuple(d["members"]),
                "incidents": tuple(d["incidents"]),
                "countries": tuple((str(c), int(n)) for c, n in d["countries"]),
                "problems": dict(d["problems"]),
            }
        )


@dataclass(frozen=True)
class GroupTransition:
    kind: GroupTransitionKind
    at: float
    incident: GroupIncident

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "incident": self.incident.to_dict()}


@dataclass(frozen=True)
class GroupState:
    """A group's open parent (None between outages) and its members' latest snapshots."""

    incident: GroupIncident | None = None
    children: Mapping[str, Incident] = field(default_factory=dict)  # by incident id, in join order

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident.to_dict() if self.incident else None,
            "children": [c.to_dict() for c in self.children.values()],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupState:
        children = [Incident.from_dict(c) for c in d["children"]]
        return cls(
            GroupIncident.from_dict(d["incident"]) if d["incident"] else None,
            {c.id: c for c in children},
        )


def group_step(
    state: GroupState, group: str, incidents: Sequence[Incident], at: float
) -> tuple[GroupState, list[GroupTransition]]:
    """Advance one group by one tick, given its services' current incidents (any status)."""
    strangers = sorted({i.service for i in incidents if i.group != group})
    if strangers:
        raise ValueError(f"group {group!r} was given incidents of other groups: {strangers}")
    live = [i for i in incidents if i.status == "open"]
    parent = state.incident
    if parent is None:
        if len({i.service for i in live}) < 2:
            return state, []
        children = {i.id: i for i in sorted(live, key=lambda i: (i.started_at, i.service))}
        opened = _merge(None, group, children, at)
        return GroupState(opened, children), [GroupTransition("opened", at, opened)]

    children = dict(state.children)
    for i in incidents:
        if i.id in children or i.status == "open":
            children[i.id] = i
    for cid, child in children.items():  # a member gone from view has ended, however it did
        if child.status == "open" and all(i.id != cid for i in incidents):
            children[cid] = _ended(child, at)
    merged = _merge(parent, group, children, at)
    if all(c.status == "resolved" for c in children.values()):
        return GroupState(), [GroupTransition("resolved", at, merged)]
    if merged.members != parent.members:
        made = [GroupTransition("member_added", at, merged)]
    elif SEVERITIES.index(merged.severity) > SEVERITIES.index(parent.severity):
        # A member grew worse: the company's incident is the one its subscribers hear of
        # (members' own updates are not sent), and a "critical only" subscriber hears it here.
        made = [GroupTransition("updated", at, merged)]
    else:
        made = []
    return GroupState(merged, children), made


def _ended(child: Incident, at: float) -> Incident:
    return replace(child, status="resolved", ended_at=at, duration_seconds=at - child.started_at)


def _merge(
    parent: GroupIncident | None, group: str, children: Mapping[str, Incident], at: float
) -> GroupIncident:
    kids = list(children.values())
    started = min(c.started_at for c in kids)
    top = max(kids, key=lambda c: (c.peak_per_minute, -c.peak_at))
    countries: dict[str, float] = {}
    problems: dict[str, float] = {}
    for c in kids:
        for code, n in c.countries:
            countries[code] = countries.get(code, 0.0) + n
        for slug, share in c.problems.items():
            problems[slug] = problems.get(slug, 0.0) + share * c.reports
    ended = (
        max(c.ended_at or at for c in kids) if all(c.status == "resolved" for c in kids) else None
    )
    return GroupIncident(
        id=parent.id if parent else f"{group}.{int(at)}",
        group=group,
        status="open" if ended is None else "resolved",
        severity=max((c.severity for c in kids), key=SEVERITIES.index),
        members=tuple(dict.fromkeys(c.service for c in kids)),
        incidents=tuple(children),
        started_at=started,
        detected_at=parent.detected_at if parent else at,
        ended_at=ended,
        duration_seconds=(at if ended is None else ended) - started,
        peak_per_minute=top.peak_per_minute,
        peak_ratio=top.peak_ratio,
        peak_at=top.peak_at,
        reports=sum(c.reports for c in kids),
        countries=ranked(countries),
        problems=percentages(problems),
    )
