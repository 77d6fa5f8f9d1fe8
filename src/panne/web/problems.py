"""Every error as an ``application/problem+json`` body (RFC 9457), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from panne.signals.ingest import IngestError

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_TYPE)


class ProblemError(Exception):
    """Raised by handlers for a refusal that is not an ingest decision (bad query, auth…)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = headers
        self.extra = extra


_SOURCES = ("body", "query", "path", "header", "cookie")


def validation_detail(
    errors: list[Any], *, request: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """One readable sentence and the structured list, from pydantic's errors: a request's
    (FastAPI's, whose locations start with where the value came from) or, with ``request``
    false, a model's validated directly (the admin forms), whose locations are fields only."""
    items = []
    for err in errors:
        # FastAPI puts where the value came from first ("body", "query", "path"…); only that
        # one goes: a model's own field may be called "body" too.
        loc = [str(p) for p in err.get("loc", ())]
        if request and loc and loc[0] in _SOURCES:
            loc = loc[1:]
        items.append({"field": ".".join(loc) or None, "message": err.get("msg", "invalid")})
    first = items[0] if items else {"field": None, "message": "invalid"}
    where = f"{first['field']}: " if first["field"] else ""
    return where + str(first["message"]), items


def _is_json(content_type: str) -> bool:
    """``application/json``, ``application/merge-patch+json``…, with or without parameters."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _wants_a_page(request: Request) -> bool:
    """A browser that followed a link to no page gets the site's own "not found" page; API
    clients, scripts and missing static files keep the problem body."""
    path = request.url.path
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and not path.startswith(("/api/", "/static/", "/badges/", "/feeds/"))
    )


def _answer(exc: ProblemError) -> Response:
    return problem(exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra)


def install(app: FastAPI) -> None:
    @app.exception_handler(IngestError)
    async def _ingest(_: Request, exc: IngestError) -> Response:
        return problem(exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra)

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> Response:
        return _answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        raw = list(exc.errors())
        # As the report endpoints answer: a body that is not JSON at all is the client's
        # framing, not a field's value; FastAPI says 422 for both.
        if any(e.get("type") == "json_invalid" for e in raw):
            return _answer(malformed_json())
        ctype = request.headers.get("content-type")
        if ctype and not _is_json(ctype) and any(e.get("loc", ())[:1] == ("body",) for e in raw):
            return problem(
                415,
                "send the body as JSON (Content-Type: application/json)",
                title="Unsupported media type",
            )
        detail, errors = validation_detail(raw)
        return problem(422, detail, title="Invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        page = getattr(request.app.state, "not_found_page", None)
        if exc.status_code == 404 and page is not None and _wants_a_page(request):
            return await run_in_threadpool(page, request)
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "an internal error occurred; it has been logged")


def catalog_owned(what: str, change: str, aside: str = "") -> ProblemError:
    """The one refusal for changing through the API what the catalog file defines: the next
    `panne catalog import` would undo it."""
    return ProblemError(
        409,
        f"{what} is defined by the catalog: change {change} in the catalog file and"
        f" run `panne catalog import`{aside}",
        title="Defined by the catalog",
    )


def unknown_service(slug: str, status: int = 404) -> ProblemError:
    """The one refusal for a service slug that is not in the catalog."""
    return ProblemError(status, f"no service {slug!r} in the catalog", title="Unknown service")


def unknown_group(slug: str, status: int = 422) -> ProblemError:
    """The one refusal for a group (company) slug that is not in the catalog: 422 as a
    filter, 404 as a path."""
    return ProblemError(status, f"no group {slug!r} in the catalog", title="Unknown group")


def malformed_json(detail: str = "the body is not valid JSON", **extra: Any) -> ProblemError:
    """The one refusal for a body that does not parse, whichever route reads it (the single
    report endpoint, ahead of the app, words it alike)."""
    return ProblemError(400, detail, title="Malformed JSON", **extra)
