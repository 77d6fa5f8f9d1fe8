"""The probes and status pages a catalog file defines, beside those of the admin API.

Each row of ``probes`` and ``vendor_sources`` records where it was defined, its ``origin``:
``catalog`` or ``admin``. An import speaks for the catalog's own definitions of the services its
file lists: it adds and replaces them, and removes those the file no longer has. It never
replaces or removes one made through the admin API; a file that would (a probe id taken by an
operator's probe, a status page for a service whose source an operator defined) is refused,
naming both. Services the file does not list keep theirs, as the merge keeps services, so a
file of one service is still a valid import. Everything happens in the caller's transaction
(store/catalog.py), so a refused file changes nothing.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select

from panne.catalog import Catalog, CatalogError
from panne.signals.probes import ProbeSpec
from panne.signals.vendor_status import VendorSource
from panne.store.probe_defs import drop_probe
from panne.store.probes import write_specs
from panne.store.schema import probes, vendor_sources
from panne.store.vendor_status import drop_source, source_of, write_source

CATALOG = "catalog"
ADMIN = "admin"


class Tally(NamedTuple):
    """What an import did to one kind of definition."""

    added: int = 0
    updated: int = 0
    removed: int = 0


def merge(conn: Connection, catalog: Catalog, *, now: float) -> tuple[Tally, Tally]:
    """Write the catalog's probes and status pages; (probes, status pages) done. Raises
    :class:`CatalogError` on a clash with the admin API's, before the caller commits."""
    where = {slug: f"services[{i}] ({slug})" for i, slug in enumerate(catalog.services)}
    return _merge_probes(conn, catalog, where, now), _merge_pages(conn, catalog, where, now)


def _merge_probes(conn: Connection, catalog: Catalog, where: dict[str, str], now: float) -> Tally:
    stored = {r.id: r for r in conn.execute(select(probes.c.id, probes.c.service, probes.c.origin))}
    specs = {
        r.id: ProbeSpec.from_dict(r.spec)
        for r in conn.execute(select(probes.c.id, probes.c.spec).where(probes.c.origin == CATALOG))
    }
    wanted: dict[str, ProbeSpec] = {}
    for svc in catalog.services.values():
        for spec in svc.probes:
            row = stored.get(spec.id)
            if row is not None and row.origin != CATALOG:
                raise CatalogError(
                    f"{where[svc.slug]}: probe {spec.id!r}: id: taken by a probe of"
                    f" {row.service!r} defined through the admin API; rename one of them, or"
                    f" delete that one (DELETE /api/v1/admin/probes/{spec.id}) to let the"
                    " catalog define it"
                )
            wanted[spec.id] = spec
    changed = [s for s in wanted.values() if specs.get(s.id) != s]
    added, updated = write_specs(conn, changed, now=now, origin=CATALOG)
    removed = 0
    for row in stored.values():
        if row.origin == CATALOG and row.service in catalog.services and row.id not in wanted:
            removed += drop_probe(conn, row.id)
    return Tally(added, updated, removed)


def _merge_pages(conn: Connection, catalog: Catalog, where: dict[str, str], now: float) -> Tally:
    stored = {r.service: r for r in conn.execute(select(vendor_sources))}
    added = updated = removed = 0
    for svc in catalog.services.values():
        row, page = stored.get(svc.slug), svc.status_page
        if row is not None and row.origin != CATALOG:
            if page is not None:
                raise CatalogError(
                    f"{where[svc.slug]}: status_page: the vendor source of {svc.slug!r} was"
                    " defined through the admin API; leave status_page out, or delete that"
                    f" source (DELETE /api/v1/admin/vendors/{svc.slug}) to let the catalog"
                    " define it"
                )
        elif page is None:
            if row is not None and drop_source(conn, svc.slug):
                removed += 1
        elif row is None:
            write_source(conn, page, now=now, origin=CATALOG)
            added += 1
        elif source_of(row) != page:
            write_source(conn, page, now=now, origin=CATALOG)
            updated += 1
    return Tally(added, updated, removed)


def load(conn: Connection) -> tuple[dict[str, list[ProbeSpec]], dict[str, VendorSource]]:
    """The catalog's own definitions by service: its probes (by id) and status pages."""
    found: dict[str, list[ProbeSpec]] = {}
    query = select(probes.c.spec).where(probes.c.origin == CATALOG).order_by(probes.c.id)
    for raw in conn.execute(query).scalars():
        spec = ProbeSpec.from_dict(raw)
        found.setdefault(spec.service, []).append(spec)
    query = select(vendor_sources).where(vendor_sources.c.origin == CATALOG)
    pages = {r.service: source_of(r) for r in conn.execute(query)}
    return found, pages
