"""Loopback servers for the vendor-status tests, serving recorded real Statuspage payloads:
:func:`vendor_server` in the test's own event loop (the poller's tests), and
:func:`threaded_vendor_server` in a thread with its own loop, so synchronous tests (a live panne,
``node.vendor_once()``, a CLI subprocess) can poll it while switching its answers."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.threaded import in_thread

FIXTURES = Path(__file__).parents[1] / "web" / "fixtures" / "statuspage"
SUMMARY = (FIXTURES / "instructure-summary.json").read_bytes()


def summary_with(**changes: Any) -> bytes:
    """The recorded summary with components' statuses changed by name, or keys replaced."""
    data = copy.deepcopy(json.loads(SUMMARY))
    for comp in data["components"]:
        if comp["name"] in changes.get("components", {}):
            comp["status"] = changes["components"][comp["name"]]
    for key in ("status", "incidents", "scheduled_maintenances"):
        if key in changes:
            data[key] = changes[key]
    return json.dumps(data).encode()


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class VendorServer:
    """A loopback HTTP/1.1 server answering each path with the :class:`Answer` the test sets;
    it keeps every request's headers, and a conditional request matching the answer's ETag
    gets a 304 as a real page would."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = {
                k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)
            }
            self.requests.append((path, headers))
            answer = self.answers.get(path, Answer(404, b"not found"))
            if answer.hang:
                await asyncio.sleep(30)
            status, body = answer.status, answer.body
            etag = answer.headers.get("ETag")
            if status == 200 and etag is not None and headers.get("if-none-match") == etag:
                status, body = 304, b""
            reason = {200: "OK", 304: "Not Modified", 500: "Internal Server Error"}
            lines = [f"HTTP/1.1 {status} {reason.get(status, 'Other')}"]
            lines += [f"{k}: {v}" for k, v in answer.headers.items()]
            lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def vendor_server() -> AsyncIterator[VendorServer]:
    srv = VendorServer()
    server = await asyncio.start_server(srv._handle, "127.0.0.1", 0)
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()


@contextmanager
def threaded_vendor_server() -> Iterator[VendorServer]:
    with in_thread(vendor_server(), "vendor-page") as srv:
        yield srv
