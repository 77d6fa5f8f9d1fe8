"""Probe definitions through the admin API, and each service's probes through the public API.

Definitions are stored (store/probes.py) and run by the node's probe role, which is told at
once when they change here. A definition is checked as the runs will be: the spec's own
validation, a service of the catalog, and the outbound-address guard (probe_guard.py), so a
private or loopback target is refused when it is defined, with the guard's own message, rather
than failing quietly at every run. A name that does not resolve yet is accepted: its runs will
say ``dns_failure``, which is what a probe is for. What may be defined here is narrower than
what a spec allows (:func:`~panne.signals.probes.check_definition`: a run every 10 s at most).
Every 422 names the field it refuses in ``field``. ``panne catalog import`` applies the same
checks to the probes a catalog file defines (catalog.py, signals/definition_guard.py); such a
probe (``origin`` "catalog") may be paused here, but is changed or removed in the file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from panne.node import Node
from panne.signals.definition_guard import probe_refusal
from panne.signals.probes import ProbeSpec, ProbeSpecError, check_definition
from panne.signals.probes import shown_target as shown_target  # the pages import it from here
from panne.store import probe_defs
from panne.store import probes as probe_store
from panne.store.catalog_signals import CATALOG
from panne.store.probe_defs import StoredProbe
from panne.web.admin_auth import admin_router
from panne.web.api_incidents import iso
from panne.web.problems import ProblemError, catalog_owned, unknown_service

UPTIME_DAYS = 30


def _invalid(detail: str, field: str | None = None) -> ProblemError:
    return ProblemError(422, detail, title="Invalid probe", field=field)


def admin_json(p: StoredProbe) -> dict[str, Any]:
    return {
        **p.spec.to_dict(),
        "paused": p.paused,
        "state": p.state,
        "since": iso(p.since),
        "updated_at": iso(p.updated_at),
        "origin": p.origin,
    }


def _catalog_owned(probe_id: str) -> ProblemError:
    return catalog_owned(f"probe {probe_id!r}", "it", " (pausing and resuming it here is allowed)")


def build_router(node: Node) -> APIRouter:
    router = APIRouter()
    admin = admin_router(node, "/api/v1/admin/probes")

    def checked(data: dict[str, Any]) -> ProbeSpec:
        try:
            spec = ProbeSpec.from_dict(data)
            check_definition(spec)
        except ProbeSpecError as exc:
            raise _invalid(str(exc), exc.field) from None
        if spec.service not in node.catalog.services:
            raise _invalid(f"service: no service {spec.service!r} in the catalog", "service")
        if not node.settings.probe_allow_private:
            why = probe_refusal(spec)
            if why is not None:
                raise _invalid(f"target: {why}", "target")
        return spec

    def stored(probe_id: str) -> StoredProbe:
        found = probe_defs.get_probe(node.engine, probe_id)
        if found is None:
            raise ProblemError(404, f"no probe {probe_id!r}", title="Unknown probe")
        return found

    @admin.post("", status_code=201, summary="Define a probe")
    def create_probe(data: dict[str, Any]) -> dict[str, Any]:
        spec = checked(data)
        if probe_defs.get_probe(node.engine, spec.id) is not None:
            raise ProblemError(409, f"probe {spec.id!r} exists: PATCH it", title="Conflict")
        probe_store.upsert_specs(node.engine, [spec], now=node.clock.now())
        node.probes.changed()
        return admin_json(stored(spec.id))

    @admin.get("", summary="Every probe, paused ones included")
    def list_probes() -> dict[str, Any]:
        return {"probes": [admin_json(p) for p in probe_defs.list_probes(node.engine)]}

    @admin.patch("/{probe_id}", summary="Pause, resume or change a probe")
    def patch_probe(probe_id: str, data: dict[str, Any]) -> dict[str, Any]:
        current = stored(probe_id)
        changes = dict(data)
        paused = changes.pop("paused", None)
        if paused is not None and not isinstance(paused, bool):
            raise _invalid("paused: must be true or false", "paused")
        if changes.get("id", probe_id) != probe_id:
            raise _invalid("id: a probe cannot be renamed; delete it and define another", "id")
        if changes and current.origin == CATALOG:
            raise _catalog_owned(probe_id)  # the next import would undo it
        now = node.clock.now()
        if changes:
            spec = checked({**current.spec.to_dict(), **changes})
            probe_store.upsert_specs(node.engine, [spec], now=now)
        if paused is not None:
            probe_defs.set_paused(node.engine, probe_id, paused, now=now)
        node.probes.changed()
        return admin_json(stored(probe_id))

    @admin.delete("/{probe_id}", status_code=204, summary="Remove a probe")
    def delete_probe(probe_id: str) -> Response:
        if stored(probe_id).origin == CATALOG:
            raise _catalog_owned(probe_id)  # the next import would bring it back
        if not probe_defs.delete_probe(node.engine, probe_id):
            raise ProblemError(404, f"no probe {probe_id!r}", title="Unknown probe")
        node.probes.changed()
        return Response(status_code=204)

    @router.get(
        "/api/v1/services/{slug}/probes",
        tags=["probes"],
        summary="A service's probes: state, last result, daily uptime",
    )
    def service_probes(slug: str) -> dict[str, Any]:
        if slug not in node.catalog.services:
            raise unknown_service(slug)
        now = node.clock.now()
        out = []
        for p in probe_defs.list_probes(node.engine, slug):
            last = probe_defs.last_result(node.engine, p.spec.id)
            days = probe_store.uptime_by_day(node.engine, p.spec.id, UPTIME_DAYS, now=now)
            out.append(
                {
                    "id": p.spec.id,
                    "kind": p.spec.kind,
                    "target": shown_target(p.spec),
                    "interval_seconds": p.spec.interval_seconds,
                    "paused": p.paused,
                    "state": p.state,
                    "since": iso(p.since),
                    "last_result": None
                    if last is None
                    else {
                        "at": iso(last.at),
                        "ok": last.ok,
                        "latency_ms": last.latency_ms,
                        "error_class": last.error_class,
                        "detail": last.detail,
                    },
                    "uptime": [
                        {
                            "day": d.day.isoformat(),
                            "uptime_percent": d.uptime_percent,
                            "checks": d.checks,
                        }
                        for d in days
                    ],
                }
            )
        return {"service": slug, "probes": out}

    router.include_router(admin)
    return router
