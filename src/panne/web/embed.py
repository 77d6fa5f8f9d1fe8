"""The report widget other sites embed: ``/embed/{slug}`` for an iframe, ``/embed.js`` to add it.

A bank or a game studio shows panne's report button on its own pages to collect its users'
reports. The widget is a tiny page of panne's own origin in an iframe, so the report it sends
is a same-origin JSON ``fetch`` to ``POST /api/v1/reports``, counted like any other: the
embedding site can neither see nor forge it (that endpoint stays JSON-only, with no CORS).
Which sites may frame the widget is the operator's choice, ``embed_origins``, and is enforced
by the browser through the page's ``frame-ancestors``; every other directive is the pages' own.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from panne.node import Node
from panne.status import all_statuses
from panne.web import i18n
from panne.web.pages import CSP, PAGE_METHODS, SECURITY_HEADERS, VARY, Pages, lang_of

SCRIPT = "embed.js"
LIVE_BLOCK = "live"  # the state line, refreshed by app.js like the pages' live blocks


def frame_ancestors(origins: Iterable[str]) -> str:
    """The ``frame-ancestors`` sources: the allowed origins, ``*``, or ``'none'`` for none."""
    allowed = tuple(origins)
    if "*" in allowed:
        return "*"
    return " ".join(allowed) or "'none'"


def embed_csp(origins: Iterable[str]) -> str:
    """The pages' policy with only ``frame-ancestors`` opened to the allowed sites."""
    directives = [
        f"frame-ancestors {frame_ancestors(origins)}" if d.startswith("frame-ancestors ") else d
        for d in CSP.split("; ")
    ]
    return "; ".join(directives)


def widget_lang(request: Request) -> str:
    """``?lang=`` (set by embed.js from the host page), else the usual negotiation.

    Inside another site's frame the language cookie is usually not sent (third-party), so the
    host page's language is the better guess of what its reader understands.
    """
    wanted = request.query_params.get("lang", "").replace("_", "-").split("-")[0].lower()
    return wanted if wanted in i18n.LANGUAGES else lang_of(request)


def build_router(node: Node, pages: Pages) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    csp = embed_csp(node.settings.embed_origins)
    headers = {**SECURITY_HEADERS, "content-security-policy": csp}
    script = resources.files("panne.web").joinpath(f"static/{SCRIPT}").read_bytes()

    @router.api_route("/embed/{slug}", methods=PAGE_METHODS)
    def widget(request: Request, slug: str) -> Response:
        svc = pages.service_or_none(slug)
        if svc is None or svc.id is None:
            return pages.not_found(request, slug)
        lang = widget_lang(request)
        status = all_statuses(node.engine, {svc.id: svc.slug}, node.clock.now())[svc.slug]
        context = {
            **i18n.template_globals(lang),
            "path": request.url.path,
            "svc": svc,
            "status": status,
            "problem_names": {p: node.catalog.problems[p].name(lang) for p in svc.problems},
        }
        tmpl = pages.env.get_template("embed.html")
        if request.query_params.get("live") == LIVE_BLOCK:
            html = "".join(tmpl.blocks[LIVE_BLOCK](tmpl.new_context(context)))
        else:
            html = tmpl.render(context)
        response = HTMLResponse(html, headers=headers)
        response.headers["content-language"] = lang
        response.headers["vary"] = VARY
        return response

    @router.get(f"/{SCRIPT}")
    def embed_script() -> Response:
        """The loader other sites include; cached for an hour, so a new version spreads soon.

        ``cross-origin-resource-policy`` lets sites that isolate themselves (COEP) load it.
        """
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers={
                "cache-control": "public, max-age=3600",
                "x-content-type-options": "nosniff",
                "cross-origin-resource-policy": "cross-origin",
            },
        )

    return router
