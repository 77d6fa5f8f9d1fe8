"""The live loop of the detector role: counts in, judgements and incidents out, every tick.

Each tick (``detect_interval_seconds``) it feeds the minutes that have finished since the last
tick to the detectors (a :class:`~panne.detect.SeasonalBank` row per service, a
:class:`~panne.detect.ShareBank` row per service × country and service × problem that carries
reports), judges the unfinished current minute too (so a surge is flagged before its first full
minute ends), steps each service's incident machine and each company's group tracker, and
stores what changed in one transaction: expectations, incidents, their transitions, and its own
state (so a restart resumes instead of relearning, and neither repeats nor loses an incident).

Each tick also reads the probes that are down (one query) and steps each service's probe
incident (probe_incidents.py): a service whose probes fail clearly gets an incident even before
anyone reports, stored the same way, and handed over to the report incident if one opens.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from panne.catalog import Catalog
from panne.clock import Clock, minute_of
from panne.detect import PEEK_FROM, Judgements, SeasonalBank, ShareBank
from panne.fusion_store import probe_incident_cause
from panne.incident_groups import GroupIncident, GroupState, GroupTransition, group_step
from panne.incidents import (
    Incident,
    Policy,
    ServiceState,
    Signal,
    Transition,
    step,
)
from panne.probe_incidents import (
    ProbeFact,
    ProbeIncidentState,
    ProbeIncidentTransition,
    probe_step,
)
from panne.store import counts as count_store
from panne.store import expectations as expectation_store
from panne.store import incidents as incident_store
from panne.store.schema import detector_state, probe_state, probes

log = logging.getLogger(__name__)
WINDOW_MINUTES = 15
STATE_KEY = "watch.2"  # the incident state changed shape: start afresh, not fail
UNKNOWN = "ZZ"
# The last day of a warm-up is stored as expectations too, so the first charts have a baseline.
CHARTED_WARMUP_SECONDS = 86_400

PartKey = tuple[int, str, str]  # (service row, "country" | "problem", code or slug)
Minute = dict[tuple[int, str, str], int]  # (service row, country, problem) -> reports


@dataclass
class TickResult:
    minutes_fed: int = 0
    transitions: list[Transition] = field(default_factory=list)
    group_transitions: list[GroupTransition] = field(default_factory=list)
    probe_transitions: list[ProbeIncidentTransition] = field(default_factory=list)


class Watcher:
    def __init__(self, engine: Engine, clock: Clock, *, policy: Policy | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy or Policy()
        self.slugs: list[str] = []
        self.ids: list[int] = []
        self.groups: dict[str, str | None] = {}
        self.names: dict[str, str] = {}
        self.group_names: dict[str, str] = {}
        self.bank = SeasonalBank(0)
        self.parts: list[PartKey] = []
        self.part_index: dict[PartKey, int] = {}
        self.shares = ShareBank(np.zeros(0, dtype=np.int64))
        self.machines: dict[str, ServiceState] = {}
        self.group_states: dict[str, GroupState] = {}
        self.fed_until: int | None = None  # the next minute to feed
        self.recent: deque[tuple[int, Minute]] = deque(maxlen=WINDOW_MINUTES)
        self.last: Judgements | None = None
        self.last_observed = np.zeros(0)
        self.share_alerts: dict[int, list[str]] = {}
        self.parent_of: dict[str, str] = {}  # service incident id -> its group incident id
        self.probe_states: dict[str, ProbeIncidentState] = {}  # services with something to keep

    # -- catalog and state -------------------------------------------------------------------

    def set_catalog(self, catalog: Catalog) -> None:
        new = [s for s in catalog.services.values() if s.slug not in self.groups]
        for s in new:
            assert s.id is not None
            self.slugs.append(s.slug)
            self.ids.append(s.id)
            self.machines.setdefault(s.slug, ServiceState())
        if new:
            self.bank.grow(len(new))
            self.last_observed = np.concatenate([self.last_observed, np.zeros(len(new))])
            self.last = None
        for s in catalog.services.values():
            self.groups[s.slug] = s.group
            self.names[s.slug] = s.name
        self.group_names = {g.slug: g.name for g in catalog.groups.values()}

    def load(self) -> bool:
        """Restore the saved state; False if there was none (a first start)."""
        with self.engine.connect() as conn:
            saved = conn.execute(
                select(detector_state.c.state).where(detector_state.c.key == STATE_KEY)
            ).scalar()
        if not saved:
            return False
        rows = {slug: i for i, slug in enumerate(self.slugs)}
        for slug, state in saved["services"].items():
            if slug in rows:
                self.bank.load(rows[slug], state)
        parts = [
            (rows[slug], kind, key, st) for slug, kind, key, st in saved["parts"] if slug in rows
        ]
        self._register([(r, k, key) for r, k, key, _ in parts])
        for r, k, key, st in parts:
            self.shares.load(self.part_index[(r, k, key)], st)
        for slug, st in saved["machines"].items():
            if slug in rows:
                self.machines[slug] = ServiceState.from_dict(st)
        self.group_states = {g: GroupState.from_dict(d) for g, d in saved["groups"].items()}
        self.parent_of = dict(saved.get("parents", {}))
        self.probe_states = {
            slug: ProbeIncidentState.from_dict(st)
            for slug, st in saved.get("probes", {}).items()
            if slug in rows
        }
        # Minutes while the node was down are unknown, not quiet: skip them.
        self.fed_until = minute_of(self.clock.now())
        return True

    def warm_up(self, days: float) -> int:
        """Learn from the stored history (a first start); no incidents are opened from it, but
        the last day's expectations are stored, for the charts' baseline band."""
        now_minute = minute_of(self.clock.now())
        start = now_minute - int(days * 86_400) // 60 * 60
        by_minute = self._read(start)
        first = min(by_minute, default=now_minute)
        charted = now_minute - CHARTED_WARMUP_SECONDS
        expectations: list[expectation_store.Expectation] = []
        for m in range(first, now_minute, 60):
            self._feed(m, by_minute.get(m, {}), expectations if m >= charted else None)
        self.fed_until = now_minute
        with self.engine.begin() as conn:
            expectation_store.record(conn, expectations)
        return (now_minute - first) // 60

    def _state(self) -> dict[str, Any]:
        return {
            "services": {slug: self.bank.state_of(i) for i, slug in enumerate(self.slugs)},
            "parts": [
                [self.slugs[r], kind, key, self.shares.state_of(i)]
                for i, (r, kind, key) in enumerate(self.parts)
            ],
            "machines": {slug: st.to_dict() for slug, st in self.machines.items()},
            "groups": {g: st.to_dict() for g, st in self.group_states.items()},
            "parents": self.parent_of,
            "probes": {slug: st.to_dict() for slug, st in self.probe_states.items()},
        }

    # -- feeding ---------------------------------------------------------------------------

    def _read(self, since: int) -> dict[int, Minute]:
        rows = {sid: i for i, sid in enumerate(self.ids)}
        out: dict[int, Minute] = defaultdict(dict)
        for sid, minute, country, problem, n in count_store.minutes_since(self.engine, since):
            r = rows.get(sid)
            if r is not None:
                out[minute][(r, country, problem)] = n
        return out

    def _register(self, keys: list[PartKey]) -> None:
        fresh = [k for k in dict.fromkeys(keys) if k not in self.part_index]
        for k in fresh:
            self.part_index[k] = len(self.parts)
            self.parts.append(k)
        if fresh:
            self.shares.grow(np.array([r for r, _, _ in fresh], dtype=np.int64))

    def _vectors(self, data: Minute) -> tuple[np.ndarray, np.ndarray]:
        keys: list[PartKey] = []
        for r, country, problem in data:
            if country != UNKNOWN:
                keys.append((r, "country", country))
            keys.append((r, "problem", problem))
        self._register(keys)
        totals = np.zeros(len(self.slugs))
        parts = np.zeros(len(self.parts))
        for (r, country, problem), n in data.items():
            totals[r] += n
            if country != UNKNOWN:
                parts[self.part_index[(r, "country", country)]] += n
            parts[self.part_index[(r, "problem", problem)]] += n
        return totals, parts

    def _feed(self, minute: int, data: Minute, record: list[Any] | None) -> None:
        totals, parts = self._vectors(data)
        judged = self.bank.step(minute, totals)
        shared = self.shares.step(minute, parts, totals, judged)
        self.last, self.last_observed = judged, totals
        alerts: dict[int, list[str]] = defaultdict(list)
        for i in np.flatnonzero(shared.alert):
            r, kind, key = self.parts[i]
            if kind == "country":
                alerts[r].append(key)
        self.share_alerts = alerts
        self.recent.append((minute, data))
        if record is not None:
            record.extend(
                expectation_store.Expectation(
                    self.ids[r],
                    minute,
                    int(totals[r]),
                    float(judged.expected[r]),
                    float(judged.score[r]),
                    bool(judged.alert[r]),
                )
                for r in range(len(self.slugs))
            )

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> TickResult:
        now = self.clock.now()
        current = minute_of(now)
        if self.fed_until is None:
            self.fed_until = current
        result = TickResult()
        by_minute = self._read(min(self.fed_until, current))
        expectations: list[expectation_store.Expectation] = []
        for m in range(self.fed_until, current, 60):
            self._feed(m, by_minute.get(m, {}), expectations)
            result.minutes_fed += 1
        self.fed_until = max(self.fed_until, current)
        if not self.slugs:
            return result
        fraction = (now - current) / 60.0
        partial, _ = self._vectors(by_minute.get(current, {}))
        peek = self.bank.peek(current, partial, fraction)
        last = self.last or peek
        window: dict[int, tuple[dict[str, int], dict[str, int]]] = defaultdict(lambda: ({}, {}))
        for _, data in [*self.recent, (current, by_minute.get(current, {}))]:
            for (r, country, problem), n in data.items():
                c, p = window[r]
                c[country] = c.get(country, 0) + n
                p[problem] = p.get(problem, 0) + n
        for r, slug in enumerate(self.slugs):
            rate = partial[r] / fraction if fraction >= PEEK_FROM else self.last_observed[r]
            countries, problems = window[r]
            from_full = bool(last.alert[r]) or float(last.score[r]) >= self.policy.elevated_score
            sig = Signal(
                service=slug,
                group=self.groups.get(slug),
                at=now,
                observed=float(max(rate, 0.0)),
                expected=float(last.expected[r]),
                score=float(max(last.score[r], peek.score[r])),
                alert=bool(last.alert[r] or peek.alert[r]),
                countries=countries,
                alert_countries=tuple(self.share_alerts.get(r, ())),
                problems=problems,
                onset=float(current - 60) if from_full else float(current),
                window_seconds=WINDOW_MINUTES * 60 + (now - current),
            )
            self.machines[slug], made = step(self.machines[slug], sig, self.policy)
            result.transitions.extend(made)
        result.group_transitions = self._groups(now)
        result.probe_transitions = self._probes(now)
        self._store(now, result, expectations)
        return result

    def _probes(self, now: float) -> list[ProbeIncidentTransition]:
        """Step each service's probe incident on the probes down now (paused ones aside)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(probes.c.id, probes.c.service, probe_state.c.since)
                .join(probe_state, probe_state.c.probe_id == probes.c.id)
                .where(probe_state.c.state == "down", probes.c.enabled.is_(True))
                .order_by(probes.c.id)
            ).all()
        down: dict[str, list[ProbeFact]] = defaultdict(list)
        for pid, slug, since in rows:
            down[slug].append(ProbeFact(pid, "down", None if since is None else since / 1000))
        out: list[ProbeIncidentTransition] = []
        for slug in self.slugs:
            machine = self.machines[slug]
            report = (
                machine.incident.id
                if machine.incident is not None and machine.phase in ("open", "recovering")
                else None
            )
            state = self.probe_states.get(slug)
            if state is None and report is None and slug not in down:
                continue  # nothing to do, nothing to remember
            new, made = probe_step(
                state or ProbeIncidentState(),
                down.get(slug, []),
                report,
                now,
                service=slug,
                group=self.groups.get(slug),
                policy=self.policy,
            )
            self.probe_states[slug] = new
            out.extend(made)
        return out

    def _groups(self, now: float) -> list[GroupTransition]:
        out: list[GroupTransition] = []
        members: dict[str, list[Incident]] = defaultdict(list)
        for slug, st in self.machines.items():
            g = self.groups.get(slug)
            if g and st.incident is not None:  # open, or resolved and still remembered
                members[g].append(st.incident)
        for g in set(members) | set(self.group_states):
            state, made = group_step(
                self.group_states.get(g, GroupState()), g, members.get(g, []), now
            )
            if state.incident is None:
                self.group_states.pop(g, None)
            else:
                self.group_states[g] = state
            for parent in [t.incident for t in made] + ([state.incident] if state.incident else []):
                for child in parent.incidents:
                    self.parent_of[child] = parent.id
            out.extend(made)
        if len(self.parent_of) > 1000:  # only recent incidents can still change
            self.parent_of = dict(list(self.parent_of.items())[-500:])
        return out

    # -- storing ---------------------------------------------------------------------------

    def _record(self, inc: Incident, now: float) -> incident_store.IncidentRecord:
        return incident_store.IncidentRecord(
            id=inc.id,
            kind="service",
            service=inc.service,
            group=inc.group,
            parent_id=self.parent_of.get(inc.id),
            title=self.names.get(inc.service, inc.service),
            members=[],
            detail={"alert_countries": list(inc.alert_countries), "peak_at": inc.peak_at},
            **_measures(inc, now),
        )

    def _probe_record(
        self, inc: Incident, now: float, failing: tuple[str, ...], superseded_by: str | None
    ) -> incident_store.IncidentRecord:
        detail: dict[str, Any] = {"opened_by": "probes", "probes": list(failing)}
        # What failed, in words ("DNS resolution fails for …"), for the feeds, the Statuspage
        # API and the notifications, which read the stored incident and no probe results.
        cause = probe_incident_cause(
            self.engine, inc.service, inc.started_at, now if inc.ended_at is None else inc.ended_at
        )
        if cause is not None:
            detail["cause"], detail["cause_fr"] = cause
        if superseded_by is not None:
            detail["superseded_by"] = superseded_by
        return incident_store.IncidentRecord(
            id=inc.id,
            kind="service",
            service=inc.service,
            group=inc.group,
            parent_id=None,  # probe incidents stay out of group incidents
            title=self.names.get(inc.service, inc.service),
            members=[],
            detail=detail,
            **_measures(inc, now),
        )

    def _group_record(self, inc: GroupIncident, now: float) -> incident_store.IncidentRecord:
        return incident_store.IncidentRecord(
            id=inc.id,
            kind="group",
            service=None,
            group=inc.group,
            parent_id=None,
            title=inc.title(self.names, self.group_names.get(inc.group, inc.group)),
            members=list(inc.members),
            detail={},
            **_measures(inc, now),
        )

    def _store(
        self,
        now: float,
        result: TickResult,
        expectations: list[expectation_store.Expectation],
    ) -> None:
        records = {
            st.incident.id: self._record(st.incident, now)
            for st in self.machines.values()
            if st.incident is not None and st.phase in ("open", "recovering")
        }
        for t in result.transitions:
            records[t.incident.id] = self._record(t.incident, now)
        groups = {
            st.incident.id: self._group_record(st.incident, now)
            for st in self.group_states.values()
            if st.incident is not None
        }
        for gt in result.group_transitions:
            groups[gt.incident.id] = self._group_record(gt.incident, now)
        by_probes = {
            st.incident.id: self._probe_record(st.incident, now, st.probes, None)
            for st in self.probe_states.values()
            if st.incident is not None
        }
        for pt in result.probe_transitions:
            by_probes[pt.incident.id] = self._probe_record(
                pt.incident, now, pt.probes, pt.superseded_by
            )
        with self.engine.begin() as conn:
            expectation_store.record(conn, expectations)
            for rec in [*groups.values(), *records.values(), *by_probes.values()]:
                incident_store.save(conn, rec)
            for pt in result.probe_transitions:  # a hand-over is told before the report opening
                if pt.superseded_by is not None:
                    _probe_event(conn, pt, by_probes[pt.incident.id])
            for t in result.transitions:
                incident_store.add_event(
                    conn, t.incident.id, t.kind, int(t.at), _snapshot(records[t.incident.id])
                )
            for gt in result.group_transitions:
                incident_store.add_event(
                    conn, gt.incident.id, gt.kind, int(gt.at), _snapshot(groups[gt.incident.id])
                )
            for pt in result.probe_transitions:
                if pt.superseded_by is None:
                    _probe_event(conn, pt, by_probes[pt.incident.id])
            if (
                result.minutes_fed
                or result.transitions
                or result.group_transitions
                or result.probe_transitions
            ):
                state = self._state()
                done = conn.execute(
                    detector_state.update()
                    .where(detector_state.c.key == STATE_KEY)
                    .values(state=state, updated_at=int(now))
                )
                if done.rowcount == 0:
                    conn.execute(
                        detector_state.insert().values(
                            key=STATE_KEY, state=state, updated_at=int(now)
                        )
                    )


def _measures(inc: Incident | GroupIncident, now: float) -> dict[str, Any]:
    """The columns a service incident and a group incident fill alike."""
    return {
        "status": inc.status,
        "severity": inc.severity,
        "started_at": int(inc.started_at),
        "detected_at": int(inc.detected_at),
        "ended_at": None if inc.ended_at is None else int(inc.ended_at),
        "peak_per_minute": round(inc.peak_per_minute, 2),
        "peak_ratio": round(inc.peak_ratio, 2),
        "countries": list(inc.countries[:20]),
        "problems": dict(inc.problems),
        "updated_at": int(now),
    }


def _probe_event(
    conn: Connection, pt: ProbeIncidentTransition, rec: incident_store.IncidentRecord
) -> None:
    """A probe incident's timeline entry: the usual snapshot, saying it came from probes (and,
    on a hand-over, which report incident goes on with the story)."""
    snap = {**_snapshot(rec), "opened_by": "probes", "probes": list(pt.probes)}
    for key in ("cause", "cause_fr"):
        if key in rec.detail:
            snap[key] = rec.detail[key]
    if pt.superseded_by is not None:
        snap["superseded_by"] = pt.superseded_by
    incident_store.add_event(conn, pt.incident.id, pt.kind, int(pt.at), snap)


def _snapshot(rec: incident_store.IncidentRecord) -> dict[str, Any]:
    """What a timeline entry shows (and a notifier sends): the incident as it was then."""
    return {
        "title": rec.title,
        "status": rec.status,
        "severity": rec.severity,
        "peak_per_minute": rec.peak_per_minute,
        "peak_ratio": rec.peak_ratio,
        "countries": [list(c) for c in rec.countries[:5]],
        "problems": rec.problems,
        "members": rec.members,
    }
