"""Services, their groups (companies), aliases and problem categories.

The catalog is data: a default ships as ``panne/data/catalog.json`` and is loaded into the database
on first start; operators change it with ``panne catalog import``. This module owns its shape and
its validation so that a bad file is refused whole, with a message naming the offending entry.

A service may also carry its ``probes`` and its vendor's ``status_page``, each in the admin API's
JSON shape (the service implied), checked by the very code the admin API runs
(:meth:`ProbeSpec.from_dict` and :func:`check_definition`, :meth:`VendorSource.from_dict`), so a
definition is refused with the same words wherever it is written. A key a service cannot have
is refused too: a misspelt ``probe`` silently ignored would leave a service unwatched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from panne.signals.probes import ProbeSpec, ProbeSpecError, check_definition
from panne.signals.typed_text import address_text_problem, http_url_problem
from panne.signals.vendor_status import VendorSource, VendorSourceError

# The sizes of the columns that hold them (store/schema.py; tests/store keeps them equal), so a
# file is refused here rather than cut or refused by the database halfway through an import.
# A problem's labels (a JSON column) are names shown on buttons and pages: NAME_MAX likewise.
SLUG_MAX = 64
NAME_MAX = 200
URL_MAX = 2000
SLUG_RE = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{SLUG_MAX - 2}}}[a-z0-9])?$")
SERVICE_KEYS = ("slug", "name", "group", "url", "aliases", "problems", "probes", "status_page")
# Written by to_dict even when they hold their default: what people look for in a probe.
_PROBE_SHOWN = ("id", "kind", "target", "interval_seconds", "timeout_ms", "retries")
_PROBE_DEFAULTS = {f.name: f.default for f in fields(ProbeSpec)}


class CatalogError(ValueError):
    """A catalog file or entry is invalid; the message names where."""


@dataclass(frozen=True, slots=True)
class Problem:
    slug: str
    names: dict[str, str]  # language code -> label

    def name(self, lang: str = "en") -> str:
        return self.names.get(lang) or self.names.get("en") or self.slug


@dataclass(frozen=True, slots=True)
class Group:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Service:
    slug: str
    name: str
    group: str | None
    url: str
    aliases: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # the effective list, never empty once validated
    id: int | None = None  # database id, once stored
    probes: tuple[ProbeSpec, ...] = ()  # those the catalog defines (not the admin API's)
    status_page: VendorSource | None = None  # likewise


@dataclass(slots=True)
class Catalog:
    problems: dict[str, Problem] = field(default_factory=dict)
    default_problems: tuple[str, ...] = ()
    groups: dict[str, Group] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def service(self, slug: str) -> Service | None:
        return self.services.get(slug)

    def siblings(self, slug: str) -> list[Service]:
        """Services of the same group, the service itself excluded."""
        svc = self.services.get(slug)
        if svc is None or svc.group is None:
            return []
        return [s for s in self.services.values() if s.group == svc.group and s.slug != slug]

    def to_dict(self) -> dict[str, Any]:
        """The catalog in the file format, services keeping an override only where they differ."""
        default = self.default_problems
        return {
            "problems": {p.slug: dict(p.names) for p in self.problems.values()},
            "default_problems": list(default),
            "groups": [{"slug": g.slug, "name": g.name} for g in self.groups.values()],
            "services": [
                {
                    "slug": s.slug,
                    "name": s.name,
                    "group": s.group,
                    "url": s.url,
                    "aliases": list(s.aliases),
                    **({"problems": list(s.problems)} if s.problems != default else {}),
                    **({"probes": [_probe_dict(p) for p in s.probes]} if s.probes else {}),
                    **(
                        {"status_page": _source_dict(s.status_page)}
                        if s.status_page is not None
                        else {}
                    ),
                }
                for s in self.services.values()
            ],
        }


def _probe_dict(spec: ProbeSpec) -> dict[str, Any]:
    """A probe as a catalog file writes it: the service implied, options at their default
    left out."""
    return {
        k: v
        for k, v in spec.to_dict().items()
        if k != "service"
        and (k in _PROBE_SHOWN or v != _PROBE_DEFAULTS[k])
        and not (k == "expect_status" and tuple(v) == _PROBE_DEFAULTS[k])
    }


def _source_dict(source: VendorSource) -> dict[str, Any]:
    data = source.to_dict()
    del data["service"]
    return data


def _implied(raw: dict[str, Any], slug: str, where: str) -> dict[str, Any]:
    """A definition with its service set: a ``service`` key may only repeat the one it is in."""
    if raw.get("service", slug) != slug:
        raise CatalogError(
            f"{where}: service: must be this service ({slug!r}) or left out"
            f" (got {raw['service']!r})"
        )
    return {**raw, "service": slug}


def _probes(raw: Any, slug: str, where: str, seen: dict[str, str]) -> tuple[ProbeSpec, ...]:
    """A service's probes, each checked as the admin API checks one; ``seen`` maps the probe
    ids of the services before to their service, since an id names one probe of the node."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogError(f"{where}: probes must be a list of probe definitions")
    specs: list[ProbeSpec] = []
    for j, item in enumerate(raw):
        if not isinstance(item, dict):
            raise CatalogError(f"{where}: probes[{j}]: must be an object")
        try:
            spec = ProbeSpec.from_dict(_implied(item, slug, f"{where}: probes[{j}]"))
            check_definition(spec)
        except ProbeSpecError as exc:
            raise CatalogError(f"{where}: {exc}") from None
        if spec.id in seen:
            other = seen[spec.id]
            also = "" if other == slug else f" (also in {other!r})"
            raise CatalogError(f"{where}: probe {spec.id!r}: id: duplicate probe id{also}")
        seen[spec.id] = slug
        specs.append(spec)
    return tuple(specs)


def _status_page(raw: Any, slug: str, where: str) -> VendorSource | None:
    if raw is None:
        return None
    where = f"{where}: status_page"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be an object (kind, url, components…)")
    try:
        return VendorSource.from_dict(_implied(raw, slug, where))
    except VendorSourceError as exc:  # the service is said already: not twice
        raise CatalogError(
            f"{where}: {str(exc).removeprefix(f'vendor source {slug!r}: ')}"
        ) from None


def _str(
    obj: dict[str, Any], key: str, where: str, *, required: bool = True, most: int = NAME_MAX
) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: '{key}' must be a non-empty string")
    if len(value.strip()) > most:
        raise CatalogError(f"{where}: '{key}' is longer than {most} characters")
    return value.strip()


def _known(items: Any, problems: dict[str, Problem], where: str, what: str) -> list[str]:
    """A non-empty list of problem slugs of the catalog, or the error naming the first that
    is not one (whatever JSON value it is)."""
    if not isinstance(items, list) or not items:
        raise CatalogError(f"{where}: {what} must be a non-empty list")
    for p in items:
        if not isinstance(p, str) or p not in problems:
            raise CatalogError(f"{where}: unknown problem {p!r}")
    return items


def _slug(obj: dict[str, Any], where: str) -> str:
    slug = _str(obj, "slug", where, most=SLUG_MAX)
    assert slug is not None
    if not SLUG_RE.match(slug):
        raise CatalogError(f"{where}: slug {slug!r} must be lowercase letters, digits and hyphens")
    return slug


def _url(obj: dict[str, Any], where: str) -> str:
    """A service's address, checked as a subscription's webhook URL is (scheme, host, port),
    and refused with a space or a control character in it: the pages link to it, and a space
    there is a mistake in the file that a browser would silently encode or cut at."""
    url = _str(obj, "url", where, most=URL_MAX)
    assert url is not None
    why = address_text_problem(url) or http_url_problem(url)
    if why is not None:
        raise CatalogError(f"{where}: url: {why}")
    return url


def _problem(slug: Any, names: Any) -> Problem:
    """One entry of ``problems``: a slug, and labels by language code, ``en`` among them. The
    pages show a label on buttons and charts, as they show a service's name: NAME_MAX holds
    both."""
    if isinstance(slug, str) and len(slug) > SLUG_MAX:
        raise CatalogError(f"problems: slug {slug[:24]!r}… is longer than {SLUG_MAX} characters")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise CatalogError(f"problems: slug {slug!r} must be lowercase letters, digits, hyphens")
    if (
        not isinstance(names, dict)
        or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in names.items())
        or "en" not in names
    ):
        raise CatalogError(f"problems.{slug}: names must map language codes to labels, with 'en'")
    long = next((lang for lang, label in names.items() if len(label) > NAME_MAX), None)
    if long is not None:
        raise CatalogError(f"problems.{slug}: label {long!r} is longer than {NAME_MAX} characters")
    return Problem(slug, dict(names))


def parse(data: Any) -> Catalog:
    """Validate a catalog document (the parsed JSON) and build a :class:`Catalog`."""
    if not isinstance(data, dict):
        raise CatalogError("catalog: the document must be a JSON object")
    raw_problems = data.get("problems")
    if not isinstance(raw_problems, dict) or not raw_problems:
        raise CatalogError("catalog: 'problems' must be a non-empty object of slug -> names")
    problems = {slug: _problem(slug, names) for slug, names in raw_problems.items()}

    default = data.get("default_problems")
    if not isinstance(default, list) or not default:
        raise CatalogError("catalog: 'default_problems' must be a non-empty list")
    _known(default, problems, "default_problems", "'default_problems'")

    groups: dict[str, Group] = {}
    raw_groups = data.get("groups") or []
    if not isinstance(raw_groups, list):
        raise CatalogError("catalog: 'groups' must be a list")
    for i, raw in enumerate(raw_groups):
        where = f"groups[{i}]"
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: must be an object")
        slug = _slug(raw, where)
        if slug in groups:
            raise CatalogError(f"{where}: duplicate group {slug!r}")
        name = _str(raw, "name", where)
        assert name is not None
        groups[slug] = Group(slug, name)

    services: dict[str, Service] = {}
    probe_ids: dict[str, str] = {}
    raw_services = data.get("services")
    if not isinstance(raw_services, list):
        raise CatalogError("catalog: 'services' must be a list")
    for i, raw in enumerate(raw_services):
        where = f"services[{i}]"
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: must be an object")
        slug = _slug(raw, where)
        where = f"services[{i}] ({slug})"
        if slug in services:
            raise CatalogError(f"{where}: duplicate service")
        unknown = sorted(str(k) for k in raw if k not in SERVICE_KEYS)
        if unknown:
            raise CatalogError(
                f"{where}: unknown key {unknown[0]!r} (a service has {', '.join(SERVICE_KEYS)})"
            )
        name = _str(raw, "name", where)
        assert name is not None
        url = _url(raw, where)
        group = _str(raw, "group", where, required=False)
        if group is not None and group not in groups:
            raise CatalogError(f"{where}: unknown group {group!r}")
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(
            isinstance(a, str) and 0 < len(a) <= NAME_MAX for a in aliases
        ):
            raise CatalogError(
                f"{where}: aliases must be a list of strings of 1 to {NAME_MAX} characters"
            )
        own = raw.get("problems")
        own = default if own is None else _known(own, problems, where, "problems")
        services[slug] = Service(
            slug,
            name,
            group,
            url,
            tuple(dict.fromkeys(aliases)),
            tuple(dict.fromkeys(own)),
            probes=_probes(raw.get("probes"), slug, where, probe_ids),
            status_page=_status_page(raw.get("status_page"), slug, where),
        )
    return Catalog(problems, tuple(default), groups, services)


def problem_lists_changed(before: Catalog, after: Catalog) -> list[str]:
    """The services of both catalogs whose problem list ``after`` changes, in its order: what
    an import of ``after`` over ``before`` changes that the service counts do not say (a
    service counted as updated may have only a new name)."""
    return [
        s.slug
        for s in after.services.values()
        if (old := before.services.get(s.slug)) is not None and old.problems != s.problems
    ]


def load_file(path: Path) -> Catalog:
    """The catalog in ``path``: JSON in UTF-8, with or without the byte order mark some
    Windows editors write first."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise CatalogError(f"{path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except RecursionError:
        raise CatalogError(f"{path}: nested too deeply to be a catalog") from None
    return parse(data)


def default_catalog() -> Catalog:
    """The catalog that ships with panne."""
    text = resources.files("panne.data").joinpath("catalog.json").read_text(encoding="utf-8")
    return parse(json.loads(text))
