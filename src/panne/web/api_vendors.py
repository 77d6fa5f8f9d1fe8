"""Vendors' status sources through the admin API, and each service's vendor state in public.

A source is stored (store/vendor_status.py) and polled by the node's vendor role, which is told
at once when sources change here. A source is checked as its polls will be: the source's own
validation, a service of the catalog, and the outbound-address guard (probe_guard.py), so a page
on a private or loopback address is refused when it is defined (unless
``vendor_allow_private``) rather than going stale at every poll. A name that does not resolve
yet is accepted: its polls will say so in the state's error. ``panne catalog import`` applies
the same checks to a catalog file's ``status_page``; such a source (``origin`` "catalog") is
changed or removed in the file, not here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from panne.node import Node
from panne.signals.definition_guard import source_refusal
from panne.signals.probes import without_credentials
from panne.signals.vendor_status import VendorSource, VendorSourceError, VendorState
from panne.store import vendor_status as store
from panne.store.catalog_signals import CATALOG
from panne.store.vendor_status import SourceRow
from panne.web.admin_auth import admin_router
from panne.web.api_incidents import iso
from panne.web.problems import ProblemError, catalog_owned, unknown_service


def _invalid(detail: str, field: str | None = None) -> ProblemError:
    return ProblemError(422, detail, title="Invalid vendor source", field=field)


def public_url(url: str) -> str:
    """A URL as anyone may see it: without any ``user:password@``."""
    return without_credentials(url)


def state_json(state: VendorState | None) -> dict[str, Any]:
    """The normalised state; a source not read yet is ``unknown`` without an error."""
    if state is None:
        return {
            "state": "unknown",
            "description": "The vendor's page has not been read yet",
            "incidents": [],
            "fetched_at": None,
            "stale": False,
            "error": None,
        }
    return {
        "state": state.state,
        "description": state.description,
        "incidents": [{**i.to_dict(), "updated_at": iso(i.updated_at)} for i in state.incidents],
        "fetched_at": iso(state.fetched_at),
        "stale": state.stale,
        "error": state.error,
    }


def admin_json(row: SourceRow, state: VendorState | None) -> dict[str, Any]:
    s = row.source
    return {
        "service": s.service,
        "kind": s.kind,
        "url": s.url,
        "components": list(s.components),
        "interval_seconds": s.interval_seconds,
        "next_poll_at": iso(row.next_poll_at),
        "failures": row.failures,
        "status": state_json(state),
        "origin": row.origin,
    }


def _catalog_owned(service: str) -> ProblemError:
    return catalog_owned(f"the vendor source of {service!r}", "its status_page")


def build_router(node: Node) -> APIRouter:
    router = APIRouter()
    admin = admin_router(node, "/api/v1/admin/vendors")

    def checked(data: dict[str, Any]) -> VendorSource:
        try:
            source = VendorSource.from_dict(data)
        except VendorSourceError as exc:
            raise _invalid(str(exc), exc.field) from None
        if source.service not in node.catalog.services:
            raise _invalid(f"service: no service {source.service!r} in the catalog", "service")
        if not node.settings.vendor_allow_private:
            why = source_refusal(source)
            if why is not None:
                raise _invalid(f"url: {why}", "url")
        return source

    def stored(service: str) -> SourceRow | None:
        return next(
            (r for r in store.load_sources(node.engine) if r.source.service == service), None
        )

    @admin.post("", summary="Add or replace a service's vendor status source")
    def put_source(data: dict[str, Any], response: Response) -> dict[str, Any]:
        source = checked(data)
        current = stored(source.service)
        if current is not None and current.origin == CATALOG:
            raise _catalog_owned(source.service)
        created = store.upsert_source(node.engine, source, now=node.clock.now())
        response.status_code = 201 if created else 200
        node.vendors.changed()
        row = stored(source.service)
        assert row is not None
        return admin_json(row, store.load_state(node.engine, source.service))

    @admin.get("", summary="Every vendor source, with its poller's bookkeeping and state")
    def list_sources() -> dict[str, Any]:
        states = store.load_states(node.engine)
        rows = store.load_sources(node.engine)
        return {"vendors": [admin_json(r, states.get(r.source.service)) for r in rows]}

    @admin.delete("/{service}", status_code=204, summary="Remove a service's vendor source")
    def delete_source(service: str) -> Response:
        current = stored(service)
        if current is not None and current.origin == CATALOG:
            raise _catalog_owned(service)
        if not store.remove_source(node.engine, service):
            raise ProblemError(404, f"no vendor source for {service!r}", title="Unknown source")
        node.vendors.changed()
        return Response(status_code=204)

    @router.get(
        "/api/v1/services/{slug}/vendor",
        tags=["vendors"],
        summary="What the service's vendor says on its own status page",
    )
    def service_vendor(slug: str) -> dict[str, Any]:
        if slug not in node.catalog.services:
            raise unknown_service(slug)
        row = stored(slug)
        if row is None:
            raise ProblemError(
                404, f"no vendor status source for {slug!r}", title="No vendor source"
            )
        return {
            "service": slug,
            "kind": row.source.kind,
            "url": public_url(row.source.url),
            **state_json(store.load_state(node.engine, slug)),
        }

    router.include_router(admin)
    return router
