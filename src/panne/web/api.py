"""The JSON API, version 1: reports in, catalog and counts out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from panne import counts
from panne.catalog import Catalog, Service
from panne.clock import utc
from panne.node import Node
from panne.signals.ingest import Client
from panne.signals.reports import BatchReportIn
from panne.store import counts as count_store
from panne.store import keys
from panne.web.client import client_address, parse_networks
from panne.web.problems import ProblemError, validation_detail

_BATCH = TypeAdapter(list[BatchReportIn])


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _iso(ts: float) -> str:
    return utc(ts).isoformat().replace("+00:00", "Z")


def _parse_json_error(exc: ValidationError) -> ProblemError:
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return ProblemError(400, "the body is not valid JSON", title="Malformed JSON")
    detail, items = validation_detail(list(errors))
    return ProblemError(422, detail, title="Invalid report", errors=items)


def _schema_body(model: Any, *, ndjson: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": model}}
    if ndjson:
        content["application/x-ndjson"] = {
            "schema": {"type": "string", "description": "One report object per line."}
        }
    return {"requestBody": {"required": True, "content": content}}


def service_json(svc: Service, cat: Catalog, lang: str = "en") -> dict[str, Any]:
    return {
        "slug": svc.slug,
        "name": svc.name,
        "group": svc.group,
        "url": svc.url,
        "aliases": list(svc.aliases),
        "problems": [{"slug": p, "name": cat.problems[p].name(lang)} for p in svc.problems],
    }


def build_router(node: Node) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    trusted = parse_networks(node.settings.trusted_proxies)

    def client_of(request: Request) -> Client:
        peer = request.client.host if request.client else None
        address = client_address(peer, request.headers.get("x-forwarded-for"), trusted)
        return Client(address, request.headers.get("user-agent", ""))

    def service_or_404(slug: str) -> Service:
        svc = node.catalog.services.get(slug)
        if svc is None:
            raise ProblemError(404, f"no service {slug!r} in the catalog", title="Unknown service")
        return svc

    @router.post(
        "/reports/batch",
        status_code=202,
        tags=["reports"],
        summary="Send many reports at once (API key)",
        description="A JSON array or NDJSON of up to 10,000 reports, all stored or none. "
        "Authenticate with `Authorization: Bearer KEY` (`panne apikey create`).",
        openapi_extra=_schema_body(
            {"type": "array", "items": BatchReportIn.model_json_schema()}, ndjson=True
        ),
    )
    async def post_batch(request: Request) -> Response:
        key = await run_in_threadpool(_api_key, request)
        body = await request.body()
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        try:
            if ctype in ("application/x-ndjson", "application/jsonl"):
                raw = [orjson.loads(ln) for ln in body.split(b"\n") if ln.strip()]
            else:
                raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ProblemError(400, "the body is not valid JSON", title="Malformed JSON") from None
        if not isinstance(raw, list):
            raise ProblemError(
                422, "the body must be a JSON array of reports or NDJSON", title="Invalid batch"
            )
        _check_batch_size(len(raw), node.settings.batch_max_reports)
        try:
            items = _BATCH.validate_python(raw)
        except ValidationError as exc:
            raise _parse_json_error(exc) from None
        if not items:
            raise ProblemError(422, "the batch is empty", title="Empty batch")
        reports = await node.ingestor.accept_batch(items, key, client_of(request))
        return _json(
            {
                "accepted": len(reports),
                "counted": sum(r.counted for r in reports),
                "ids": [r.id for r in reports],
            },
            202,
        )

    def _api_key(request: Request) -> keys.ApiKey:
        auth = request.headers.get("authorization", "")
        plain = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        plain = plain or request.headers.get("x-api-key", "")
        if not plain:
            raise ProblemError(
                401,
                "this endpoint needs an API key: `Authorization: Bearer KEY`",
                title="API key required",
            )
        key = keys.verify(node.engine, plain)
        if key is None:
            raise ProblemError(403, "the API key is unknown or revoked", title="Bad API key")
        return key

    @router.get("/services", tags=["catalog"], summary="The services in the catalog")
    def list_services(group: str | None = None) -> Any:
        cat = node.catalog
        return [service_json(s, cat) for s in cat.services.values() if group in (None, s.group)]

    @router.get("/services/{slug}", tags=["catalog"], summary="One service")
    def get_service(slug: str) -> Any:
        svc = service_or_404(slug)
        out = service_json(svc, node.catalog)
        out["siblings"] = [s.slug for s in node.catalog.siblings(slug)]
        return out

    @router.get("/groups", tags=["catalog"], summary="Companies and their services")
    def list_groups() -> Any:
        cat = node.catalog
        return [
            {
                "slug": g.slug,
                "name": g.name,
                "services": [s.slug for s in cat.services.values() if s.group == g.slug],
            }
            for g in cat.groups.values()
        ]

    @router.get(
        "/services/{slug}/counts",
        tags=["counts"],
        summary="Reports per bucket, optionally split by country or problem",
    )
    def get_counts(
        slug: str,
        from_: datetime | None = Query(
            None, alias="from", description="ISO 8601; default 24 h ago"
        ),
        to: datetime | None = Query(None, description="ISO 8601; default now"),
        step: Literal["1m", "5m", "15m", "1h", "1d"] = "15m",
        by: Literal["country", "problem"] | None = None,
    ) -> Response:
        svc = service_or_404(slug)
        if (to and to.tzinfo is None) or (from_ and from_.tzinfo is None):
            raise ProblemError(
                422, "times need a time zone, e.g. 2024-03-05T15:00:00Z", title="Invalid request"
            )
        end = to.timestamp() if to else node.clock.now()
        start = from_.timestamp() if from_ else end - 86_400
        try:
            first, last, step_s = counts.plan(start, end, step)
        except counts.RangeError as exc:
            raise ProblemError(422, str(exc), title="Invalid range") from None
        assert svc.id is not None
        rows = count_store.bucketed(node.engine, svc.id, first, last, step_s, by)
        series = counts.densify(rows, first, last, step_s)
        buckets = []
        for i, t in enumerate(series.times()):
            b: dict[str, Any] = {"time": _iso(t), "count": series.total[i]}
            if by:
                b[by] = {k: v[i] for k, v in series.by.items() if v[i]}
            buckets.append(b)
        return _json(
            {
                "service": svc.slug,
                "from": _iso(first),
                "to": _iso(last),
                "step": step,
                "by": by,
                "total": sum(series.total),
                "buckets": buckets,
            }
        )

    return router


def _check_batch_size(n: int, limit: int) -> None:
    if n > limit:
        raise ProblemError(
            413,
            f"a batch holds at most {limit} reports, this one has {n}",
            title="Batch too large",
        )
