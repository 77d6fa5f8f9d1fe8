"""The JSON API for what detection found: incidents, their timelines, service status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from panne.clock import iso_utc
from panne.fusion_store import evidence_for, evidence_json
from panne.node import Node
from panne.signals.countries import COUNTRY_CODES
from panne.status import all_statuses
from panne.store import incidents as incident_store
from panne.store.incidents import IncidentEvent, IncidentRecord
from panne.web.problems import ProblemError, unknown_group, unknown_service
from panne.web.query_time import QueryTime


def iso(ts: float | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def incident_json(rec: IncidentRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "kind": rec.kind,
        "title": rec.title,
        "service": rec.service,
        "group": rec.group,
        "parent_id": rec.parent_id,
        "members": rec.members,
        "status": rec.status,
        "severity": rec.severity,
        "started_at": iso(rec.started_at),
        "detected_at": iso(rec.detected_at),
        "ended_at": iso(rec.ended_at),
        "duration_seconds": rec.duration_seconds,
        "peak_per_minute": rec.peak_per_minute,
        "peak_ratio": rec.peak_ratio,
        "countries": [{"country": c, "reports": n} for c, n in rec.countries],
        "problems": rec.problems,
        # What opened it: crowd reports, or the service's probes failing clearly on their own.
        "opened_by": rec.detail.get("opened_by", "reports"),
        "superseded_by": rec.detail.get("superseded_by"),
    }


def event_json(ev: IncidentEvent) -> dict[str, Any]:
    return {"kind": ev.kind, "at": iso(ev.at), "snapshot": ev.snapshot}


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def build_router(node: Node) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["incidents"])

    @router.get("/incidents", summary="Incidents, newest first")
    def list_incidents(
        active: bool | None = Query(None, description="only open (true) or resolved (false)"),
        service: str | None = Query(None, description="service slug"),
        group: str | None = Query(None, description="group (company) slug"),
        country: str | None = Query(None, description="ISO 3166-1 alpha-2 code"),
        from_: QueryTime | None = Query(None, alias="from", description="ISO 8601"),
        to: QueryTime | None = Query(None, description="ISO 8601"),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        if service is not None and service not in node.catalog.services:
            raise unknown_service(service, 422)
        if group is not None and group not in node.catalog.groups:
            raise unknown_group(group)
        if country is not None and country.upper() not in COUNTRY_CODES:
            raise ProblemError(
                422,
                f"country: {country!r} is not an ISO 3166-1 alpha-2 code",
                title="Invalid request",
            )
        records, total = incident_store.query(
            node.engine,
            active=active,
            service=service,
            group=group,
            country=country.upper() if country else None,
            start=_epoch(from_),
            end=_epoch(to),
            limit=limit,
            offset=offset,
        )
        return {"total": total, "incidents": [incident_json(r) for r in records]}

    @router.get("/incidents/{incident_id}", summary="One incident with its timeline")
    def get_incident(incident_id: str) -> dict[str, Any]:
        rec = incident_store.get(node.engine, incident_id)
        if rec is None:
            raise ProblemError(404, f"no incident {incident_id!r}", title="Unknown incident")
        out = incident_json(rec)
        out["timeline"] = [event_json(e) for e in incident_store.timeline(node.engine, rec.id)]
        out["evidence"] = evidence_json(evidence_for(node.engine, rec, node.clock.now()))
        if rec.kind == "group":
            out["children"] = [
                incident_json(c) for c in incident_store.children(node.engine, rec.id)
            ]
        return out

    @router.get("/services/{slug}/status", summary="Normal, elevated or outage, now")
    def get_status(slug: str) -> dict[str, Any]:
        svc = node.catalog.services.get(slug)
        if svc is None or svc.id is None:
            raise unknown_service(slug)
        st = all_statuses(node.engine, {svc.id: slug}, node.clock.now())[slug]
        return {
            "service": slug,
            "status": st.state,
            "observed": st.observed,
            "expected": round(st.expected, 2),
            "minute": iso(st.minute),
            "incident": st.incident_id,
            "since": iso(st.since),
        }

    return router
