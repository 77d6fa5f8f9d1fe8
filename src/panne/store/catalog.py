"""The catalog in the database: read it whole, merge a catalog file into it."""

from __future__ import annotations

from sqlalchemy import Engine, select

from panne.catalog import Catalog, Group, Problem, Service
from panne.store.schema import groups, problem_categories, services, settings_kv

_DEFAULT_PROBLEMS = "default_problems"


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
            )
            for row in conn.execute(
                select(services).where(services.c.active).order_by(services.c.name)
            )
        }
    return Catalog(problems, tuple(default or ()), grps, svcs)


def merge(engine: Engine, catalog: Catalog) -> tuple[int, int]:
    """Add or update every entry of ``catalog``; nothing is deleted, since reports refer to
    services. Returns (services added, services updated)."""
    added = updated = 0
    with engine.begin() as conn:
        for pos, p in enumerate(catalog.problems.values()):
            values = {"names": p.names, "position": pos}
            if (
                conn.execute(
                    problem_categories.update()
                    .where(problem_categories.c.slug == p.slug)
                    .values(**values)
                ).rowcount
                == 0
            ):
                conn.execute(problem_categories.insert().values(slug=p.slug, **values))
        if (
            conn.execute(
                settings_kv.update()
                .where(settings_kv.c.key == _DEFAULT_PROBLEMS)
                .values(value=list(catalog.default_problems))
            ).rowcount
            == 0
        ):
            conn.execute(
                settings_kv.insert().values(
                    key=_DEFAULT_PROBLEMS, value=list(catalog.default_problems)
                )
            )
        for g in catalog.groups.values():
            if (
                conn.execute(
                    groups.update().where(groups.c.slug == g.slug).values(name=g.name)
                ).rowcount
                == 0
            ):
                conn.execute(groups.insert().values(slug=g.slug, name=g.name))
        for s in catalog.services.values():
            values = {
                "name": s.name,
                "group_slug": s.group,
                "url": s.url,
                "aliases": list(s.aliases),
                "problems": list(s.problems),
                "active": True,
            }
            if conn.execute(
                services.update().where(services.c.slug == s.slug).values(**values)
            ).rowcount:
                updated += 1
            else:
                conn.execute(services.insert().values(slug=s.slug, **values))
                added += 1
    return added, updated


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(services.c.id).limit(1)).first() is None
