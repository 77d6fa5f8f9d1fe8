"""The FastAPI application over one :class:`~panne.node.Node`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from panne import __version__
from panne.node import Node
from panne.web import (
    api,
    api_admin,
    api_incidents,
    api_probes,
    api_vendors,
    badges,
    embed,
    feeds,
    pages,
    problems,
    statuspage,
)
from panne.web.client import parse_networks
from panne.web.head import HeadAsGet
from panne.web.limits import BodyLimit
from panne.web.report_path import PATH as REPORT_PATH
from panne.web.report_path import ReportEndpoint, openapi_operation

DESCRIPTION = """panne counts crowd reports of problems with online services, per minute, per
country and per problem, and compares them with the usual volume to tell outages from noise."""


def create_app(node: Node, *, ingest_only: bool = False) -> FastAPI:
    """The whole app, or with ``ingest_only`` what ``panne ingest`` serves: the report
    endpoints (and the JSON API's reads, which they share a router with), /healthz, /metrics."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        node.start()
        try:
            yield
        finally:
            node.stop()

    app = FastAPI(
        title="panne",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: blank offline (below)
        redoc_url=None,
        lifespan=lifespan,
        # OpenTelemetry is off: its per-request check of the environment costs a tenth of the
        # ingest path's time, and panne exports its own Prometheus metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    problems.install(app)
    app.include_router(api.build_router(node))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(node.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if not ingest_only:
        app.include_router(api_incidents.build_router(node))
        app.include_router(api_admin.build_router(node))
        app.include_router(api_probes.build_router(node))
        app.include_router(api_vendors.build_router(node))
        app.include_router(badges.build_router(node))
        app.include_router(statuspage.build_router(node))
        app.include_router(feeds.build_router(node))
        site = pages.Pages(node)  # one for every page: its caches are shared
        app.include_router(embed.build_router(node, site))
        app.include_router(pages.build_router(node, site))
        app.state.not_found_page = lambda request: site.not_found(request, request.url.path)
        app.mount("/static", StaticFiles(packages=[("panne.web", "static")]), name="static")

        @app.get("/api/docs", include_in_schema=False)
        def api_docs() -> Response:
            # Swagger UI from the package (static/vendor/swagger-ui): the demo and
            # self-hosted nodes often have no way out, and a page's scripts come from here.
            ui = "/static/vendor/swagger-ui"
            return get_swagger_ui_html(
                openapi_url="/api/openapi.json",
                title="panne API",
                swagger_js_url=f"{ui}/swagger-ui-bundle.js",
                swagger_css_url=f"{ui}/swagger-ui.css",
                swagger_favicon_url=f"{ui}/favicon-32x32.png",
            )

    settings = node.settings
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: (
            settings.batch_max_body_bytes
            if path.endswith("/reports/batch")
            else settings.max_body_bytes
        ),
    )
    # Pages, charts and the map compress to a fifth; the report endpoint answers before this.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HeadAsGet)
    # Added last, so outermost: the hot ingest path answers before the other layers.
    app.add_middleware(
        ReportEndpoint,
        ingestor=node.ingestor,
        metrics=node.metrics,
        trusted=parse_networks(settings.trusted_proxies),
        max_body_bytes=settings.max_body_bytes,
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.node = node
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the report endpoint that answers in front of its router."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema["paths"] = {REPORT_PATH: openapi_operation(), **schema["paths"]}
        app.openapi_schema = schema
    return app.openapi_schema
