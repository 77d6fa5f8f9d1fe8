"""The HTML pages people open when something is down: thin routes over :mod:`panne.web.views`.

Every page is rendered on the server and readable without JavaScript; the page script only
refreshes the ``live`` block (the same template block, asked for with ``?live=1``), sends
reports through the JSON API and shows times in the viewer's zone. The report form also works
without script (``report_form.py``).

Pages answer ``HEAD`` as well as ``GET`` (link checkers and monitors ask with it), and say
that they vary by language (``Accept-Language`` and the ``lang`` cookie), so that no cache
gives one reader's French page to another who asked for English.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from panne import __version__
from panne.catalog import Service
from panne.clock import iso_utc
from panne.node import Node
from panne.signals.countries import COUNTRY_CODES, country_name
from panne.store import incidents as incident_store
from panne.web import admin_pages, i18n, report_form, search, status_page, views
from panne.web.client import parse_networks
from panne.web.report_form import CSRF_COOKIE
from panne.web.worldmap import VIEWBOX, dots, shapes

PAGE_SIZE = 25
LIVE_BLOCKS = ("live", "headline")  # template blocks a page's script may refresh alone
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cache-control": "no-cache",
}
VARY = "Accept-Language, Cookie"  # a page's language comes from either (GZip adds its own)
PAGE_METHODS = ["GET", "HEAD"]


@cache
def template_env() -> Environment:
    """The process's one environment, every template compiled at the first call and never read
    again: files changed under a running server (an upgrade in place, an edited checkout) would
    otherwise mix new templates with the code that runs, and pages broke until a restart."""
    env = Environment(
        loader=PackageLoader("panne.web", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.globals.update(
        version=__version__,
        map_viewbox=VIEWBOX,
        map_shapes=shapes,
        map_dots=dots,
        country_name=country_name,
    )
    env.filters["iso"] = iso_utc
    env.filters["search_terms"] = search.search_terms
    for name in env.list_templates():
        env.get_template(name)
    return env


def lang_of(request: Request) -> str:
    return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


def safe_next(target: str | None) -> str:
    """A local path to return to, never another site (``//host`` or ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class Pages:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.env = template_env()
        self.trusted = parse_networks(node.settings.trusted_proxies)
        self.sparks = views.SparkCache()

    def render(self, request: Request, name: str, *, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = lang_of(request)
        return self.respond(self.html(request, name, lang, **ctx), lang, status)

    def html(self, request: Request, name: str, lang: str, **ctx: Any) -> str:
        """The page, or the block that ``?live=`` asks for, in ``lang``."""
        tmpl = self.env.get_template(name)
        context = {
            **i18n.template_globals(lang),
            "request": request,
            "path": request.url.path,
            "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "now": self.node.clock.now(),
            "catalog": self.node.catalog,
            **ctx,
        }
        block = request.query_params.get("live")
        if block and block in LIVE_BLOCKS and block in tmpl.blocks:
            return "".join(tmpl.blocks[block](tmpl.new_context(context)))
        return tmpl.render(context)

    def respond(self, html: str, lang: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(html, status, headers=SECURITY_HEADERS)
        response.headers["content-language"] = lang
        response.headers["vary"] = VARY
        return response

    def not_found(self, request: Request, what: str) -> HTMLResponse:
        return self.render(request, "not_found.html", status=404, what=what)

    def service_or_none(self, slug: str) -> Service | None:
        svc = self.node.catalog.services.get(slug)
        return svc if svc is not None and svc.id is not None else None


def build_router(node: Node, pages: Pages) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(path: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        return router.api_route(path, methods=PAGE_METHODS)

    @page("/")
    def home(request: Request, q: str = "") -> Response:
        q = q[:100]
        view = views.home(node, node.clock.now(), pages.sparks, q)
        if q and not request.query_params.get("live"):
            # A name typed in full goes to its service even when it is part of other names.
            found = search.exact(node.catalog, q)
            if found is None and len(view.cards) == 1:
                found = view.cards[0].service
            if found is not None:
                return RedirectResponse(f"/services/{found.slug}", 303)
        return pages.render(request, "home.html", view=view)

    @page("/services/{slug}")
    def service(request: Request, slug: str, step: str = "15m") -> Response:
        svc = pages.service_or_none(slug)
        if svc is None:
            return pages.not_found(request, slug)
        step = step if step in views.CHART_STEPS else "15m"
        view = views.service(node, svc, node.clock.now(), step, lang_of(request))
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(16)
        response = pages.render(
            request,
            "service.html",
            view=view,
            svc=svc,
            csrf=token,
            reported=request.query_params.get("reported"),
            base_url=node.settings.public_url(),
        )
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response

    router.include_router(report_form.build_router(node, pages))

    @page("/incidents")
    def archive(
        request: Request,
        service: str = "",
        group: str = "",
        country: str = "",
        since: str = "",
        until: str = "",
        page: str = "1",
    ) -> Response:
        cat = node.catalog
        filters = {
            "service": service if service in cat.services else "",
            "group": group if group in cat.groups else "",
            "country": country.upper() if country.upper() in COUNTRY_CODES else "",
            "since": _date(since),
            "until": _date(until),
        }

        def read(number: int) -> tuple[list[incident_store.IncidentRecord], int]:
            return incident_store.query(
                node.engine,
                service=filters["service"] or None,
                group=filters["group"] or None,
                country=filters["country"] or None,
                start=_epoch(filters["since"]),
                end=_epoch(filters["until"], end_of_day=True),
                limit=PAGE_SIZE,
                offset=(number - 1) * PAGE_SIZE,
            )

        # A page past the end (an old link, the archive shrunk by a filter) shows the last one,
        # and a page that is not a number the first: the archive, never an empty page or an error.
        number = _page_number(page)
        records, total = read(number)
        pages_n = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        if number > pages_n:
            number = pages_n
            records, total = read(number)
        query = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
        return pages.render(
            request,
            "incidents.html",
            incidents=records,
            total=total,
            page=number,
            pages_n=pages_n,
            filters=filters,
            query=query,
            countries=sorted(COUNTRY_CODES),
        )

    @page("/incidents/{incident_id}")
    def incident(request: Request, incident_id: str) -> Response:
        rec = incident_store.get(node.engine, incident_id)
        if rec is None:
            return pages.not_found(request, incident_id)
        view = views.incident(node, rec, node.clock.now(), lang_of(request))
        grp = node.catalog.groups.get(rec.group or "")
        svc = node.catalog.services.get(rec.service or "")
        subject = grp.name if rec.kind == "group" and grp else svc.name if svc else rec.title
        return pages.render(
            request,
            "incident.html",
            view=view,
            inc=rec,
            subject=subject,
            base_url=node.settings.public_url(),
        )

    @page("/map")
    def world_map(request: Request, service: str = "") -> Response:
        svc = pages.service_or_none(service) if service else None
        view = views.world(node, svc, node.clock.now(), lang_of(request))
        return pages.render(request, "map.html", view=view)

    @page("/groups/{slug}")
    def group(request: Request, slug: str) -> Response:
        grp = node.catalog.groups.get(slug)
        if grp is None:
            return pages.not_found(request, slug)
        members = [s for s in node.catalog.services.values() if s.group == slug]
        now = node.clock.now()
        recent, _ = incident_store.query(node.engine, group=slug, limit=10)
        return pages.render(
            request,
            "group.html",
            group=grp,
            cards=views.cards(node, members, now, pages.sparks),
            incidents=recent,
        )

    def cut_short(request: Request) -> Response:
        """A path cut short by hand: the site's own "not found", not the API's JSON one."""
        return pages.not_found(request, request.url.path)

    for bare in ("/groups", "/groups/", "/services", "/services/"):
        router.add_api_route(bare, cut_short, methods=PAGE_METHODS)

    router.include_router(status_page.build_router(node, pages))
    router.include_router(admin_pages.build_router(node, pages))

    @router.get("/lang/{code}")
    def switch_language(code: str, next: str = "/") -> Response:
        response = RedirectResponse(safe_next(next), 303)
        if code in i18n.LANGUAGES:
            response.set_cookie(
                i18n.COOKIE, code, max_age=365 * 86_400, samesite="lax", httponly=True
            )
        return response

    return router


def _page_number(text: str) -> int:
    """``?page=`` as a page number: 1 unless it is a positive integer (a million at most, so the
    offset stays a number the database takes; the archive then shows its last page)."""
    try:
        return min(max(int(text), 1), 1_000_000)
    except ValueError:
        return 1


def _date(text: str) -> str:
    """An ISO date (YYYY-MM-DD) from a filter field, or "" when it is not one."""
    try:
        return date.fromisoformat(text).isoformat() if text else ""
    except ValueError:
        return ""


def _epoch(day: str, *, end_of_day: bool = False) -> int | None:
    if not day:
        return None
    start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
    return int(start + (86_400 if end_of_day else 0))
