"""The JSON API, version 1: reports in, catalog and counts out."""

from __future__ import annotations

import zlib
from operator import attrgetter, itemgetter
from time import perf_counter
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from panne import counts
from panne.catalog import Catalog, Service
from panne.clock import iso_utc
from panne.node import Node
from panne.signals.ingest import IngestError
from panne.signals.reports import BatchReportIn, Report, batch_items
from panne.store import counts as count_store
from panne.store import keys
from panne.web.client import parse_networks, request_client
from panne.web.limits import BodyTooLarge
from panne.web.problems import (
    ProblemError,
    malformed_json,
    unknown_group,
    unknown_service,
    validation_detail,
)
from panne.web.query_time import QueryTime

# What a batch may be sent as: a JSON array, or one report per line (NDJSON, also known as JSON
# Lines). Anything else is refused, as on the single-report endpoint, so that no cross-site form
# (text/plain, urlencoded, multipart) can post a batch.
BATCH_TYPES = ("application/json", "application/x-ndjson", "application/jsonl")
_NDJSON_TYPES = BATCH_TYPES[1:]

# The batch answer lists 10,000 ids (350 kB); the application's gzip middleware compresses at
# level 9, which cost more than validating the batch. Random hex compresses as well at level 1
# (its entropy, not the search, sets the size), at a tenth of the time.
_BATCH_GZIP_LEVEL = 1
_GZIP_MIN_BYTES = 1024  # as the middleware


def _parsed(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise malformed_json() from None


def _ndjson(body: bytes) -> list[Any]:
    """One report per line; a line that does not parse is named, as a file of 10,000 would
    otherwise be searched by hand."""
    out = []
    for number, line in enumerate(body.split(b"\n"), 1):
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise malformed_json(f"line {number} is not valid JSON", line=number) from None
    return out


def _empty_is_absent(value: Any) -> Any:
    """``?from=&to=`` as a form with blank fields sends it: the defaults, not a 422."""
    return None if value == "" else value


BlankIsNone = BeforeValidator(_empty_is_absent)
Step = Literal["1m", "5m", "15m", "1h", "1d"]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _batch_error(exc: ValidationError) -> ProblemError:
    """A batch's first bad report in the shape ingest gives its own refusals: ``report N: …``
    with ``index`` N and the ``field``, plus every error in ``errors``."""
    errors = list(exc.errors())
    _, items = validation_detail(errors)
    loc = errors[0]["loc"] if errors else ()
    index = loc[0] if loc and isinstance(loc[0], int) else None
    field = ".".join(str(p) for p in loc[1:]) or None
    where = f"{field}: " if field else ""
    detail = f"report {index}: {where}{errors[0]['msg'] if errors else 'invalid'}"
    return ProblemError(422, detail, title="Invalid report", index=index, field=field, errors=items)


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

    def service_or_404(slug: str) -> Service:
        svc = node.catalog.services.get(slug)
        if svc is None:
            raise unknown_service(slug)
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
        started = perf_counter()
        try:
            reports = await take_batch(request)
        except (IngestError, ProblemError) as exc:
            node.metrics.rejected(exc.status, exc.title)
            raise
        except BodyTooLarge:
            node.metrics.rejected(413, "Body too large")
            raise
        counted = sum(map(_COUNTED, reports))
        node.metrics.accepted("batch", len(reports), counted, perf_counter() - started)
        ids = list(map(_ID, reports))
        body = orjson.dumps({"accepted": len(reports), "counted": counted, "ids": ids})
        if len(body) < _GZIP_MIN_BYTES or "gzip" not in request.headers.get("accept-encoding", ""):
            return Response(body, 202, media_type="application/json")
        gz = await run_in_threadpool(_gzip, body)
        headers = {"content-encoding": "gzip", "vary": "Accept-Encoding"}
        return Response(gz, 202, headers=headers, media_type="application/json")

    async def take_batch(request: Request) -> list[Report]:
        key = await run_in_threadpool(_api_key, request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in BATCH_TYPES:
            raise ProblemError(
                415,
                "send the batch as application/json (an array) or application/x-ndjson "
                "(one report per line)",
                title="Unsupported media type",
            )
        body = await request.body()
        raw = _ndjson(body) if ctype in _NDJSON_TYPES else _parsed(body)
        if not isinstance(raw, list):
            raise ProblemError(
                422, "the body must be a JSON array of reports or NDJSON", title="Invalid batch"
            )
        _check_batch_size(len(raw), node.settings.batch_max_reports)
        try:
            items = batch_items(raw)
        except ValidationError as exc:
            raise _batch_error(exc) from None
        if not items:
            raise ProblemError(422, "the batch is empty", title="Empty batch")
        return await node.ingestor.accept_batch(items, key, request_client(request, trusted))

    def _api_key(request: Request) -> keys.ApiKey:
        auth = request.headers.get("authorization", "")
        plain = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        plain = plain or request.headers.get("x-api-key", "")
        if not plain:
            raise IngestError(
                401,
                "API key required",
                "this endpoint needs an API key: `Authorization: Bearer KEY`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = keys.verify(node.engine, plain)
        if key is None:
            raise ProblemError(403, "the API key is unknown or revoked", title="Bad API key")
        return key

    @router.get("/services", tags=["catalog"], summary="The services in the catalog")
    def list_services(group: str | None = None) -> Any:
        cat = node.catalog
        if group is not None and group not in cat.groups:
            raise unknown_group(group)
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
        from_: Annotated[
            QueryTime | None,
            Query(alias="from", description="ISO 8601; default 24 h ago"),
            BlankIsNone,
        ] = None,
        to: Annotated[
            QueryTime | None, Query(description="ISO 8601; default now"), BlankIsNone
        ] = None,
        step: Annotated[Step | None, Query(description="default 15m"), BlankIsNone] = None,
        by: Annotated[Literal["country", "problem"] | None, BlankIsNone] = None,
    ) -> Response:
        svc = service_or_404(slug)
        end = to.timestamp() if to else node.clock.now()
        start = from_.timestamp() if from_ else end - 86_400
        step = step or "15m"
        try:
            first, last, step_s = counts.plan(start, end, step)
        except counts.RangeError as exc:
            raise ProblemError(422, str(exc), title="Invalid range") from None
        assert svc.id is not None
        rows = count_store.bucketed(node.engine, svc.id, first, last, step_s, by)
        series = counts.densify(rows, first, last, step_s)
        buckets = []
        for i, t in enumerate(series.times()):
            b: dict[str, Any] = {"time": iso_utc(t), "count": series.total[i]}
            if by:
                b[by] = {k: v[i] for k, v in series.by.items() if v[i]}
            buckets.append(b)
        return _json(
            {
                "service": svc.slug,
                "from": iso_utc(first),
                "to": iso_utc(last),
                "step": step,
                "by": by,
                "total": sum(series.total),
                "buckets": buckets,
            }
        )

    return router


_COUNTED = attrgetter("counted")
_ID = itemgetter(0)


def _gzip(body: bytes) -> bytes:
    z = zlib.compressobj(_BATCH_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(body) + z.flush()


def _check_batch_size(n: int, limit: int) -> None:
    if n > limit:
        raise ProblemError(
            413,
            f"a batch holds at most {limit} reports, this one has {n}",
            title="Batch too large",
        )
