"""The report button without JavaScript: a same-site form post, then back to the service page.

Cross-site posting is refused twice over: the form carries a token equal to a ``SameSite=Strict``
cookie that another site's request does not send, and a browser's ``Origin`` must be this site.
"This site" is its public address (``base_url``), or the host the request was sent to with
either scheme: behind a TLS-terminating proxy the request reaches panne over plain HTTP
(uvicorn does not believe ``X-Forwarded-Proto``; panne decides whom to believe), so
``request.url`` says ``http://`` while the browser, rightly, says ``https://``. Another site
cannot make a browser send this site's host with its own origin, so the host is safe to trust
for this comparison, and nothing else is accepted.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from panne.signals.ingest import IngestError
from panne.signals.reports import ReportIn
from panne.web.admin_session import same_secret
from panne.web.client import request_client

if TYPE_CHECKING:
    from panne.node import Node
    from panne.web.pages import Pages

CSRF_COOKIE = "panne_csrf"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lowercased as browsers send it (None if not one)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(public_url: str, host: str | None) -> frozenset[str]:
    """The origins a browser may send for a form of this site (see the module's docstring)."""
    origins = {origin_of(public_url)}
    if host:
        origins |= {f"http://{host}".lower(), f"https://{host}".lower()}
    return frozenset(o for o in origins if o)


def same_site(request: Request, public_url: str) -> bool:
    """No ``Origin`` (an old browser, or a same-origin GET turned POST by a proxy) passes: the
    SameSite cookie already stands in the way of other sites."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.lower() in own_origins(public_url, request.headers.get("host"))


def build_router(node: Node, pages: Pages) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post("/services/{slug}/report")
    async def report_form(request: Request, slug: str) -> Response:
        svc = pages.service_or_none(slug)
        if svc is None:
            return pages.not_found(request, slug)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("csrf") or [""])[0]
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if (
            not cookie
            or not same_secret(cookie, token)
            or not same_site(request, node.settings.public_url())
        ):
            return pages.render(request, "refused.html", status=403, service=svc)
        problem = (form.get("problem") or [""])[0]
        back = f"/services/{slug}"
        if problem not in svc.problems:
            return RedirectResponse(f"{back}?reported=choose#report", 303)
        started = perf_counter()
        try:
            report = await node.ingestor.accept(
                ReportIn(service=slug, problem=problem),
                request_client(request, pages.trusted),
                "web",
            )
        except IngestError as exc:
            node.metrics.rejected(exc.status, exc.title)
            outcome = "limited" if exc.status == 429 else "failed"
            return RedirectResponse(f"{back}?reported={outcome}#report", 303)
        node.metrics.accepted("web", 1, report.counted, perf_counter() - started)
        # Within the dedupe window a report is accepted but not counted again: say so, as the
        # script does, rather than thank the reporter for a count that did not happen.
        outcome = "ok" if report.counted else "again"
        return RedirectResponse(f"{back}?reported={outcome}#report", 303)

    return router
