"""HEAD over real HTTP: what a GET would answer, headers only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest


@pytest.fixture
def srv(make_server: Callable[..., Any]) -> Any:
    return make_server()


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/api/v1/services",
        "/api/v1/incidents",
        "/badges/services/steam.svg",
        "/feeds/incidents.atom",
        "/api/v2/summary.json",
        "/services/steam",
        "/",
    ],
)
def test_head_answers_what_get_would_without_a_body(srv: Any, path: str) -> None:
    with httpx.Client(base_url=srv.url, headers={"accept-encoding": "identity"}) as client:
        got = client.get(path)
        head = client.head(path)
    assert got.status_code == 200, (path, got.text[:200])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if "content-length" in got.headers and path != "/":  # the home page shows the time
        assert head.headers["content-length"] == got.headers["content-length"]


def test_head_of_an_unknown_page_is_still_a_404_and_post_routes_still_refuse_it(srv: Any) -> None:
    assert httpx.head(f"{srv.url}/api/v1/services/nope").status_code == 404
    assert httpx.head(f"{srv.url}/api/v1/reports/batch").status_code == 405
