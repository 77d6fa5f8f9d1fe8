"""The catalog in the database: read it whole, merge a catalog file into it.

Every merge that changes something writes a new ``catalog_version`` stamp (in ``settings_kv``),
so a running node, in this process or another, notices a ``panne catalog import`` by reading
one small row every few seconds and reloads the catalog only then (and wakes its probe and
vendor roles). The probes and status pages a file defines are merged in the same transaction
(store/catalog_signals.py), so a file refused there changes nothing either.
"""

from __future__ import annotations

import secrets
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, select

from panne.catalog import Catalog, Group, Problem, Service
from panne.store import catalog_signals
from panne.store.catalog_signals import Tally
from panne.store.schema import groups, problem_categories, services, settings_kv

_DEFAULT_PROBLEMS = "default_problems"
_VERSION = "catalog_version"


class MergeResult(NamedTuple):
    """What a merge did to the services (problems and groups are merged alike, not counted)."""

    added: int
    updated: int
    unchanged: int


class ImportResult(NamedTuple):
    """What an import did: to the services, and to the catalog's probes and status pages."""

    services: MergeResult
    probes: Tally
    status_pages: Tally


def load(engine: Engine) -> Catalog:
    with engine.connect() as conn:
        problems = {
            row.slug: Problem(row.slug, dict(row.names))
            for row in conn.execute(
                select(problem_categories).order_by(problem_categories.c.position)
            )
        }
        default = conn.execute(
            select(settings_kv.c.value).where(settings_kv.c.key == _DEFAULT_PROBLEMS)
        ).scalar()
        own_probes, own_pages = catalog_signals.load(conn)
        grps = {
            row.slug: Group(row.slug, row.name)
            for row in conn.execute(select(groups).order_by(groups.c.slug))
        }
        svcs = {
            row.slug: Service(
                slug=row.slug,
                name=row.name,
                group=row.group_slug,
                url=row.url,
                aliases=tuple(row.aliases),
                problems=tuple(row.problems),
                id=row.id,
                probes=tuple(own_probes.get(row.slug, ())),
                status_page=own_pages.get(row.slug),
            )
            for row in conn.execute(
                select(services).where(services.c.active).order_by(services.c.name)
            )
        }
    return Catalog(problems, tuple(default or ()), grps, svcs)


def merge(engine: Engine, catalog: Catalog, *, now: float | None = None) -> MergeResult:
    """:func:`import_catalog`, telling what it did to the services. ``now`` (epoch seconds,
    from the caller's clock) is needed only by a catalog that defines probes or status
    pages."""
    if now is None:
        if any(s.probes or s.status_page for s in catalog.services.values()):
            raise ValueError("merge: a catalog with probes or status pages needs now")
        now = 0.0  # written nowhere: there is nothing to date
    return import_catalog(engine, catalog, now=now).services


def import_catalog(engine: Engine, catalog: Catalog, *, now: float) -> ImportResult:
    """Add or update every entry of ``catalog``; no service is deleted, since reports refer to
    services. Rows that already say the same are left alone and counted as unchanged. The
    catalog's probes and status pages are merged as store/catalog_signals.py says (dated
    ``now``); a clash with the admin API's raises :class:`~panne.catalog.CatalogError` and
    nothing is written. If anything changed, the catalog version changes in the same
    transaction."""
    added = updated = unchanged = 0
    changed = False
    with engine.begin() as conn:
        problems_now = {
            r.slug: (r.names, r.position) for r in conn.execute(select(problem_categories))
        }
        for pos, p in enumerate(catalog.problems.values()):
            if p.slug not in problems_now:
                conn.execute(
                    problem_categories.insert().values(slug=p.slug, names=p.names, position=pos)
                )
            elif problems_now[p.slug] != (p.names, pos):
                conn.execute(
                    problem_categories.update()
                    .where(problem_categories.c.slug == p.slug)
                    .values(names=p.names, position=pos)
                )
            else:
                continue
            changed = True
        changed |= _put(conn, _DEFAULT_PROBLEMS, list(catalog.default_problems))
        groups_now = {r.slug: r.name for r in conn.execute(select(groups))}
        for g in catalog.groups.values():
            if g.slug not in groups_now:
                conn.execute(groups.insert().values(slug=g.slug, name=g.name))
            elif groups_now[g.slug] != g.name:
                conn.execute(groups.update().where(groups.c.slug == g.slug).values(name=g.name))
            else:
                continue
            changed = True
        services_now = {r.slug: r for r in conn.execute(select(services))}
        for s in catalog.services.values():
            values: dict[str, Any] = {
                "name": s.name,
                "group_slug": s.group,
                "url": s.url,
                "aliases": list(s.aliases),
                "problems": list(s.problems),
                "active": True,
            }
            row = services_now.get(s.slug)
            if row is None:
                conn.execute(services.insert().values(slug=s.slug, **values))
                added += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                conn.execute(services.update().where(services.c.slug == s.slug).values(**values))
                updated += 1
            else:
                unchanged += 1
        # After the services: a new service's probes belong to a service that exists.
        probes, pages = catalog_signals.merge(conn, catalog, now=now)
        if changed or added or updated or any(probes) or any(pages):
            _put(conn, _VERSION, secrets.token_hex(8))
    return ImportResult(MergeResult(added, updated, unchanged), probes, pages)


def version(engine: Engine) -> str | None:
    """The stamp of the stored catalog: a new value after every merge that changed it.

    A random token rather than a counter, so two imports at once cannot write the same
    value and leave a node believing it has the second when it read only the first.
    """
    with engine.connect() as conn:
        found = conn.execute(
            select(settings_kv.c.value).where(settings_kv.c.key == _VERSION)
        ).scalar()
    return None if found is None else str(found)


def _put(conn: Connection, key: str, value: Any) -> bool:
    """Set ``settings_kv[key]``; True if it was absent or different."""
    now = conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == key)).first()
    if now is None:
        conn.execute(settings_kv.insert().values(key=key, value=value))
        return True
    if now[0] == value:
        return False
    conn.execute(settings_kv.update().where(settings_kv.c.key == key).values(value=value))
    return True


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(services.c.id).limit(1)).first() is None
