"""A read API in the shape of Atlassian Statuspage v2, so that the clients and aggregators that
already poll vendors' status pages can poll panne too, with no code of their own.

Two kinds of page: the whole instance at ``/api/v2/…``, where each company is a component group,
and one page per company at ``/groups/{group}/api/v2/…``. Each catalog service is a component
whose id is derived from its slug, so ids survive restarts, re-imports and a new ``base_url``.
Nothing is stored for this API: every answer is computed from the incidents, their timelines and
the service statuses that the detector role wrote; the maintenance endpoints list the operators'
maintenance windows (statuspage_maintenance.py).

A service under a maintenance window in progress is ``under_maintenance``, unless panne has an
open incident for it: the window says the work was planned, not that people can use the
service, so an outage they report during it is still shown as one (its notifications stay
silenced). A company's outage is one incident with its members as components, as a vendor's page
would show it: the members' own incidents are not listed beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from sqlalchemy import Engine, func, select

from panne.catalog import Service
from panne.node import Node
from panne.status import all_statuses
from panne.store import incidents as incident_store
from panne.store import maintenance as maintenance_store
from panne.store import status_updates as update_store
from panne.store.incidents import IncidentRecord
from panne.store.schema import counts
from panne.store.schema import services as service_rows
from panne.store.status_updates import StatusUpdate
from panne.web.incident_text import update_body
from panne.web.problems import unknown_group
from panne.web.statuspage_maintenance import Which, entries, in_progress
from panne.web.statuspage_shapes import (
    AffectedComponent,
    Component,
    ComponentsResponse,
    ComponentStatus,
    Impact,
    Incident,
    IncidentsResponse,
    IncidentStatus,
    IncidentUpdate,
    MaintenancesResponse,
    Page,
    PageStatus,
    ScheduledMaintenance,
    StatusResponse,
    Summary,
    impact_of,
    outage_status,
    short_id,
    stamp,
)

RECENT_INCIDENTS = 50  # what Statuspage's incidents.json lists
_RANK: dict[str, int] = {  # how bad a component status is; a group shows its worst member's
    "operational": 0,
    "under_maintenance": 1,
    "degraded_performance": 2,
    "partial_outage": 3,
    "major_outage": 4,
}
_IMPACT_RANK: dict[str, int] = {"none": 0, "minor": 1, "major": 2, "critical": 3}
_INDICATOR_OF: dict[str, Impact] = {  # of the worst component; critical comes from an impact
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "minor",
    "major_outage": "major",
}
_DESCRIPTIONS: dict[str, str] = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}


@dataclass(frozen=True)
class Scope:
    """One page: the whole instance (``group`` None) or one company."""

    group: str | None
    page_id: str
    name: str
    url: str
    services: list[Service]


def scope_for(node: Node, group: str | None) -> Scope:
    base = node.settings.public_url()
    cat = node.catalog
    if group is None:
        return Scope(None, short_id("page"), "panne", base, list(cat.services.values()))
    if group not in cat.groups:
        raise unknown_group(group, 404)
    services = [s for s in cat.services.values() if s.group == group]
    name = f"panne: {cat.groups[group].name}"
    # The page people read: the company's status page (/groups/x is the company's outage page).
    return Scope(group, short_id("page", group), name, f"{base}/status/{group}", services)


def first_seen(engine: Engine, ids: dict[int, str]) -> dict[str, int]:
    """When panne first counted a report for each service (``ids``: database id to slug): a
    component's ``created_at``, which must not move (the catalog records no creation time). A
    service nobody has reported yet gets the first count of any service, since panne has
    watched it from then on; with no count at all there is nothing to give."""
    first = (
        select(func.min(counts.c.minute))
        .where(counts.c.service_id == service_rows.c.id)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(select(service_rows.c.id, first).where(service_rows.c.id.in_(ids)))
        found = {ids[sid]: int(minute) for sid, minute in rows if minute is not None}
        earliest = conn.execute(select(func.min(counts.c.minute))).scalar()
    if earliest is not None:
        found = {slug: found.get(slug, int(earliest)) for slug in ids.values()}
    return found


class PageView:
    """The components and the page of one scope, as of the latest stored judgement."""

    def __init__(self, node: Node, scope: Scope) -> None:
        self.node, self.scope = node, scope
        now = node.clock.now()
        ids = {s.id: s.slug for s in scope.services if s.id is not None}
        statuses = all_statuses(node.engine, ids, now)
        open_recs, _ = incident_store.query(node.engine, active=True, group=scope.group, limit=1000)
        self.open = open_recs
        by_service = {r.service: r for r in open_recs if r.kind == "service"}
        self.windows = maintenance_store.windows(node.engine)
        working = in_progress(self.windows, now)
        created = first_seen(node.engine, ids)
        times = [st.minute for st in statuses.values() if st.minute is not None]
        times += [r.updated_at for r in open_recs]
        times += [w.starts_at for w in working.values()]
        updated = stamp(max(times) if times else now)
        self.page: Page = {
            "id": scope.page_id,
            "name": scope.name,
            "url": scope.url,
            "time_zone": "Etc/UTC",
            "updated_at": updated,
        }
        self.by_slug: dict[str, Component] = {}
        self.label: dict[str, str] = {}  # "Meta - Facebook", as Statuspage names a member
        self.components: list[Component] = []
        groups: dict[str, Component] = {}
        for position, svc in enumerate(scope.services, start=1):
            st, rec = statuses.get(svc.slug), by_service.get(svc.slug)
            window = working.get(svc.slug)
            status: ComponentStatus = "operational"
            changed = updated
            if rec is not None:  # an outage during planned work is still an outage
                status, changed = outage_status(rec.severity), stamp(rec.detected_at)
            elif window is not None:  # reports rising during planned work are expected
                status, changed = "under_maintenance", stamp(window.starts_at)
            elif st is not None and st.state == "elevated" and st.minute is not None:
                status, changed = "degraded_performance", stamp(st.minute)
            born = stamp(created[svc.slug]) if svc.slug in created else updated
            parent = None
            if scope.group is None and svc.group is not None:
                parent = groups.get(svc.group)
                if parent is None:
                    name = node.catalog.groups[svc.group].name
                    gid = short_id("group", svc.group)
                    parent = self._component(
                        gid, name, updated, position, None, created=born, components=[]
                    )
                    groups[svc.group] = parent
                    self.components.append(parent)
                parent["components"].append(short_id("component", svc.slug))
                parent["created_at"] = min(parent["created_at"], born)  # same format: sortable
                if _RANK[status] > _RANK[parent["status"]]:
                    parent["status"] = status
            cid, parent_id = short_id("component", svc.slug), parent["id"] if parent else None
            comp = self._component(
                cid,
                svc.name,
                changed,
                position,
                svc.url,
                created=born,
                status=status,
                group_id=parent_id,
            )
            self.components.append(comp)
            self.by_slug[svc.slug] = comp
            group_name = node.catalog.groups[svc.group].name if parent and svc.group else None
            self.label[svc.slug] = f"{group_name} - {svc.name}" if group_name else svc.name
        statuses_shown = [c["status"] for c in self.components]
        worst = max(statuses_shown, key=lambda s: _RANK[s], default="operational")
        indicator = _INDICATOR_OF[worst]
        for r in open_recs:
            if _IMPACT_RANK[impact_of(r.severity)] > _IMPACT_RANK[indicator]:
                indicator = impact_of(r.severity)
        description = _DESCRIPTIONS[indicator]
        if indicator == "minor" and worst == "degraded_performance":
            description = "Partially Degraded Service"
        elif indicator == "none" and worst == "under_maintenance":
            description = "Service Under Maintenance"  # real pages' words for it
        self.status: PageStatus = {"indicator": indicator, "description": description}

    def _component(
        self, cid: str, name: str, at: str, pos: int, description: str | None, **kw: Any
    ) -> Component:
        """A service's component, or a group's with ``components=[]`` (its members' ids)."""
        comp: Component = {
            "id": cid,
            "name": name,
            "status": kw.get("status", "operational"),
            "created_at": kw.get("created", at),  # first seen: see first_seen()
            "updated_at": at,
            "position": pos,
            "description": description,
            "showcase": False,
            "start_date": None,
            "group_id": kw.get("group_id"),
            "page_id": self.scope.page_id,
            "group": "components" in kw,
            "only_show_if_degraded": False,
        }
        if "components" in kw:
            comp["components"] = kw["components"]
        return comp

    def incidents(self, *, active: bool | None) -> list[Incident]:
        if active:
            records = self.open
        else:
            records, _ = incident_store.query(self.node.engine, group=self.scope.group, limit=10**6)
        # A company's incident stands for its members' (which are among its components).
        top = [r for r in records if r.parent_id is None]
        return [self.incident(r) for r in top[:RECENT_INCIDENTS]]

    def incident(self, rec: IncidentRecord) -> Incident:
        slugs = [rec.service] if rec.kind == "service" and rec.service else rec.members
        catalog = self.node.catalog
        subject = rec.title
        if rec.kind == "service" and rec.service in catalog.services:
            subject = catalog.services[rec.service].name
        # Newest first, as Statuspage; within one second by id, an operator's note after what
        # the detector saw then (the note answers it).
        ranked: list[tuple[int, int, int, IncidentUpdate]] = []
        current: dict[str, ComponentStatus] = {}
        members: list[str] = []
        events = incident_store.timeline(self.node.engine, rec.id)
        for ev in events:
            snap = ev.snapshot
            in_snap = slugs if rec.kind == "service" else snap.get("members") or slugs
            now_members = [s for s in in_snap if s in self.by_slug]
            added = [catalog.services[s].name for s in now_members if s not in members]
            members = now_members
            if rec.kind == "group" and rec.group in catalog.groups:
                names = ", ".join(catalog.services[s].name for s in members)
                subject = f"{catalog.groups[rec.group].name} ({names})"
            resolved = ev.kind == "resolved"
            new: ComponentStatus = (
                "operational" if resolved else outage_status(str(snap.get("severity")))
            )
            affected: list[AffectedComponent] = []
            for s in members:
                old = current.get(s, "operational")
                current[s] = new
                code, name = short_id("component", s), self.label[s]
                affected.append({"code": code, "name": name, "old_status": old, "new_status": new})
            at = stamp(ev.at)
            ranked.append(
                (
                    ev.at,
                    0,
                    ev.id,
                    {
                        "id": short_id("update", str(ev.id)),
                        "status": "resolved" if resolved else "investigating",
                        "body": update_body(ev.kind, snap, subject, catalog, added),
                        "incident_id": rec.id,
                        "created_at": at,
                        "updated_at": at,
                        "display_at": at,
                        "affected_components": affected or None,
                        "deliver_notifications": True,
                        "custom_tweet": None,
                        "tweet_id": None,
                    },
                )
            )
        # What operators wrote (identified, monitoring…) sits beside what the detector saw;
        # on a company's incident, what they wrote on its members' too.
        notes = self._notes(rec)
        for note in notes:
            at = stamp(note.created_at)
            ranked.append(
                (
                    note.created_at,
                    1,
                    note.id,
                    {
                        "id": short_id("note", str(note.id)),
                        "status": cast(IncidentStatus, note.state),
                        "body": f"{note.title}: {note.body}" if note.title else note.body,
                        "incident_id": rec.id,
                        "created_at": at,
                        "updated_at": at,
                        "display_at": at,
                        "affected_components": None,
                        "deliver_notifications": True,
                        "custom_tweet": None,
                        "tweet_id": None,
                    },
                )
            )
        ranked.sort(key=lambda r: r[:3], reverse=True)
        updates = [u for *_, u in ranked]
        last = max([e.at for e in events] + [n.created_at for n in notes], default=rec.detected_at)
        resolved_at = rec.ended_at if rec.status == "resolved" else None
        said = [n.state for n in notes if n.state != "resolved"]
        monitoring = [n.created_at for n in notes if n.state == "monitoring"]
        return {
            "id": rec.id,
            "name": rec.title,
            "status": "resolved"
            if rec.status == "resolved"
            else cast(IncidentStatus, said[-1] if said else "investigating"),
            "created_at": stamp(rec.detected_at),
            "updated_at": stamp(last),
            "monitoring_at": stamp(monitoring[0]) if monitoring else None,
            "resolved_at": None if resolved_at is None else stamp(resolved_at),
            "impact": impact_of(rec.severity),
            "shortlink": f"{self.node.settings.public_url()}/incidents/{rec.id}",
            "started_at": stamp(rec.started_at),
            "page_id": self.scope.page_id,
            "incident_updates": updates,
            "components": [self.by_slug[s] for s in slugs if s in self.by_slug],
            "reminder_intervals": None,
        }

    def _notes(self, rec: IncidentRecord) -> list[StatusUpdate]:
        """The operators' updates on an incident (and on its members, for a company's), by time
        then id, oldest first."""
        ids = [rec.id]
        if rec.kind == "group":
            ids += [c.id for c in incident_store.children(self.node.engine, rec.id)]
        found = update_store.for_incidents(self.node.engine, ids)
        return sorted(
            (n for i in ids for n in found.get(i, [])), key=lambda n: (n.created_at, n.id)
        )


def build_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["statuspage"])

    def whole() -> Scope:
        return scope_for(node, None)

    def company(group: Annotated[str, PathParam(description="group (company) slug")]) -> Scope:
        return scope_for(node, group)

    for prefix, dep in (("/api/v2", whole), ("/groups/{group}/api/v2", company)):
        _add_routes(router, node, prefix, dep)
    return router


def _add_routes(router: APIRouter, node: Node, prefix: str, dep: Callable[..., Scope]) -> None:
    # A default, not Annotated[...]: annotations are strings here, resolved in module globals.
    scoped = Depends(dep)

    def planned(view: PageView, which: Which) -> list[ScheduledMaintenance]:
        return entries(
            view.windows,
            view.by_slug,
            view.label,
            page_id=view.scope.page_id,
            base_url=node.settings.public_url(),
            now=node.clock.now(),
            which=which,
        )

    @router.get(f"{prefix}/summary.json", summary="Statuspage summary")
    def summary(scope: Scope = scoped) -> Summary:
        view = PageView(node, scope)
        return {
            "page": view.page,
            "components": view.components,
            "incidents": view.incidents(active=True),
            "scheduled_maintenances": planned(view, "active") + planned(view, "upcoming"),
            "status": view.status,
        }

    @router.get(f"{prefix}/status.json", summary="Statuspage status rollup")
    def status(scope: Scope = scoped) -> StatusResponse:
        view = PageView(node, scope)
        return {"page": view.page, "status": view.status}

    @router.get(f"{prefix}/components.json", summary="Statuspage components")
    def components(scope: Scope = scoped) -> ComponentsResponse:
        view = PageView(node, scope)
        return {"page": view.page, "components": view.components}

    @router.get(f"{prefix}/incidents.json", summary="The 50 most recent incidents")
    def incidents(scope: Scope = scoped) -> IncidentsResponse:
        view = PageView(node, scope)
        return {"page": view.page, "incidents": view.incidents(active=False)}

    @router.get(f"{prefix}/incidents/unresolved.json", summary="Unresolved incidents")
    def unresolved(scope: Scope = scoped) -> IncidentsResponse:
        view = PageView(node, scope)
        return {"page": view.page, "incidents": view.incidents(active=True)}

    def maintenances_of(which: Which) -> Callable[..., MaintenancesResponse]:
        def maintenances(scope: Scope = scoped) -> MaintenancesResponse:
            view = PageView(node, scope)
            return {"page": view.page, "scheduled_maintenances": planned(view, which)}

        return maintenances

    routes: tuple[tuple[str, Which], ...] = (
        ("", "all"),
        ("/upcoming", "upcoming"),
        ("/active", "active"),
    )
    for path, which in routes:
        router.get(
            f"{prefix}/scheduled-maintenances{path}.json",
            summary=f"Scheduled maintenances ({which})",
            name=f"maintenances{path.replace('/', '_')}",
        )(maintenances_of(which))
