"""``POST /api/v1/reports`` as a bare ASGI endpoint in front of the application.

This is the hot path: every person pressing "I have a problem" lands here, thousands a second
during a big outage. Through the framework's routing, dependency and middleware layers a request
costs about three times what the report itself costs (parsing, checks, the commit), so this one
endpoint answers before those layers, and everything else passes through to the application.
It keeps the API's contract: the same checks, the same problem+json errors, the same OpenAPI
description (added by :func:`openapi_operation`).
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from panne.metrics import Metrics
from panne.signals.ingest import Client, IngestError, Ingestor
from panne.signals.reports import Report, ReportIn
from panne.web.client import Network, client_address
from panne.web.problems import problem, validation_detail

log = logging.getLogger(__name__)
PATH = "/api/v1/reports"
JSON_TYPES = (b"application/json", b"application/problem+json")


class ReportEndpoint:
    def __init__(
        self,
        app: ASGIApp,
        ingestor: Ingestor,
        *,
        metrics: Metrics,
        trusted: tuple[Network, ...],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.ingestor = ingestor
        self.metrics = metrics
        self.trusted = trusted
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        try:
            report = await self._handle(scope, receive)
        except IngestError as exc:
            self.metrics.rejected(exc.status, exc.title)
            response = problem(
                exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
            )
            await response(scope, receive, send)
            return
        except _Refusal as exc:
            self.metrics.rejected(exc.status, exc.title)
            await exc.response(scope, receive, send)
            return
        except Exception:
            self.metrics.rejected(500, None)
            log.exception("unhandled error on POST %s", PATH)
            await problem(500, "an internal error occurred; it has been logged")(
                scope, receive, send
            )
            return
        self.metrics.accepted("api", 1, report.counted, perf_counter() - started)
        payload = orjson.dumps({"id": report.id, "counted": report.counted})
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _handle(self, scope: Scope, receive: Receive) -> Report:
        forwarded = agent = ctype = None
        length = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                ctype = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else 0
            elif name == b"user-agent":
                agent = value
            elif name == b"x-forwarded-for":
                forwarded = value
        if ctype is None or ctype.split(b";", 1)[0].strip().lower() not in JSON_TYPES:
            # Only a JSON body: a cross-site form cannot send one without a CORS preflight,
            # which panne never grants, so the endpoint cannot be used for cross-site posting.
            raise _Refusal(415, "send the report as JSON (Content-Type: application/json)")
        if length > self.max_body_bytes:
            raise _Refusal(413, f"the body is larger than {self.max_body_bytes} bytes")
        body = await self._read(receive)
        try:
            item = ReportIn.model_validate_json(body)
        except ValidationError as exc:
            errors = exc.errors()
            if any(e["type"] == "json_invalid" for e in errors):
                raise _Refusal(400, "the body is not valid JSON", "Malformed JSON") from None
            detail, items = validation_detail(list(errors))
            raise _Refusal(422, detail, "Invalid report", errors=items) from None
        peer = scope["client"][0] if scope.get("client") else None
        address = client_address(
            peer, forwarded.decode("latin-1") if forwarded else None, self.trusted
        )
        client = Client(address, agent.decode("latin-1") if agent else "")
        return await self.ingestor.accept(item, client, "api")

    async def _read(self, receive: Receive) -> bytes:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refusal(400, "the client went away before sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Refusal(413, f"the body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _Refusal(Exception):
    def __init__(self, status: int, detail: str, title: str | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.response = problem(status, detail, title=title, **extra)


def openapi_operation() -> dict[str, Any]:
    """The OpenAPI description of the endpoint, for the application's schema."""
    problem_content = {"application/problem+json": {"schema": {"type": "object"}}}
    return {
        "post": {
            "tags": ["reports"],
            "summary": "Report a problem with a service",
            "operationId": "post_report",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ReportIn.model_json_schema()}},
            },
            "responses": {
                "202": {
                    "description": "Committed to the database. `counted` is false when the same "
                    "person already reported this service within the dedupe window.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "counted": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "400": {"description": "Malformed JSON", "content": problem_content},
                "413": {"description": "Body too large", "content": problem_content},
                "415": {"description": "Not JSON", "content": problem_content},
                "422": {
                    "description": "Unknown service, problem or country",
                    "content": problem_content,
                },
                "429": {
                    "description": "Rate limited; see Retry-After",
                    "content": problem_content,
                },
            },
        }
    }
