"""The read side of the JSON API: catalog, counts, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from panne.clock import ManualClock

Server = Any


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server(rate_limit=False)


def test_services_and_one_service(srv: Server) -> None:
    services = httpx.get(f"{srv.url}/api/v1/services").json()
    slugs = {s["slug"] for s in services}
    assert {"facebook", "instagram", "whatsapp", "chatgpt"} <= slugs and len(slugs) >= 40
    fb = httpx.get(f"{srv.url}/api/v1/services/facebook").json()
    assert fb["group"] == "meta"
    assert {"instagram", "threads", "whatsapp", "messenger"} <= set(fb["siblings"])
    assert {"slug": "login", "name": "Login"} in [
        {"slug": p["slug"], "name": p["name"]} for p in fb["problems"]
    ]
    meta = [s["slug"] for s in httpx.get(f"{srv.url}/api/v1/services?group=meta").json()]
    assert "facebook" in meta and "youtube" not in meta
    groups = {g["slug"]: g for g in httpx.get(f"{srv.url}/api/v1/groups").json()}
    assert "instagram" in groups["meta"]["services"]
    r = httpx.get(f"{srv.url}/api/v1/services/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_counts_by_step_and_split(srv: Server, clock: ManualClock) -> None:
    for i, country in enumerate(["US", "US", "FR", "TN"]):
        clock.advance(61)
        r = httpx.post(
            f"{srv.url}/api/v1/reports",
            json={"service": "facebook", "problem": "login" if i else "app", "country": country},
            headers={"user-agent": f"agent-{i}"},
        )
        assert r.status_code == 202
    r = httpx.get(
        f"{srv.url}/api/v1/services/facebook/counts", params={"step": "1h", "by": "country"}
    )
    body = r.json()
    assert r.status_code == 200 and body["total"] == 4 and body["step"] == "1h"
    assert len(body["buckets"]) == 25  # 24 hours, the current one partial
    merged: dict[str, int] = {}
    for b in body["buckets"]:
        for k, v in b["country"].items():
            merged[k] = merged.get(k, 0) + v
    assert merged == {"US": 2, "FR": 1, "TN": 1}
    minute = httpx.get(
        f"{srv.url}/api/v1/services/facebook/counts",
        params={
            "step": "1m",
            "by": "problem",
            "from": "2024-03-05T15:00:00Z",
            "to": "2024-03-05T15:10:00Z",
        },
    ).json()
    assert [b["count"] for b in minute["buckets"]] == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert minute["buckets"][1]["problem"] == {"app": 1}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"step": "7m"}, 422),
        ({"by": "city"}, 422),
        ({"from": "yesterday"}, 422),
        ({"from": "2024-03-05T15:00:00"}, 422),
        ({"from": "2024-03-06T00:00:00Z", "to": "2024-03-05T00:00:00Z"}, 422),
        ({"from": "2000-01-01T00:00:00Z", "to": "2024-03-05T00:00:00Z", "step": "1m"}, 422),
    ],
)
def test_bad_count_queries(srv: Server, params: dict[str, str], status: int) -> None:
    r = httpx.get(f"{srv.url}/api/v1/services/facebook/counts", params=params)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]


def test_openapi_describes_the_report_body(srv: Server) -> None:
    spec = httpx.get(f"{srv.url}/api/openapi.json").json()
    body = spec["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["required"]) == {"service", "problem"}
    assert spec["paths"]["/api/v1/reports/batch"]["post"]["requestBody"]
    assert "/api/v1/services/{slug}/counts" in spec["paths"]
    assert httpx.get(f"{srv.url}/api/docs").status_code == 200


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+01:00", "0001-01-05T00:00:00Z"),
        ("9999-12-20T00:00:00Z", "9999-12-31T23:59:00Z"),
        ("1969-12-31T00:00:00Z", "1970-01-02T00:00:00Z"),
    ],
)
def test_counts_outside_the_calendar_are_a_422_not_a_crash(
    srv: Server, start: str, end: str
) -> None:
    r = httpx.get(
        f"{srv.url}/api/v1/services/facebook/counts",
        params={"step": "1d", "from": start, "to": end},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "1970" in r.json()["detail"] and "9999" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/services/facebook/counts", "/api/v1/incidents"])
@pytest.mark.parametrize(
    ("value", "detail"),
    [
        # Read as epoch seconds, and past 2e10 as milliseconds, before: a guess, not an error.
        ("1709650800", "from: must be an ISO 8601 time such as 2024-03-05T15:00:00Z"),
        ("1709650800000", "not a number"),
        ("1.7e9", "not a number"),
        ("2024-03-05T15:00:00", "from: needs a time zone, e.g. 2024-03-05T15:00:00Z"),
    ],
)
def test_times_in_queries_are_iso_8601_with_a_zone(
    srv: Server, path: str, value: str, detail: str
) -> None:
    r = httpx.get(f"{srv.url}{path}", params={"from": value})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]
    fine = httpx.get(f"{srv.url}{path}", params={"from": "2024-03-05T14:00:00+01:00"})
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/v1/services?group=nope", "no group 'nope' in the catalog"),
        ("/api/v1/incidents?group=nope", "no group 'nope' in the catalog"),
        ("/api/v1/incidents?country=XX", "country: 'XX' is not an ISO 3166-1 alpha-2 code"),
        ("/api/v1/incidents?country=usa", "not an ISO 3166-1 alpha-2 code"),
    ],
)
def test_an_unknown_filter_is_a_422_not_an_empty_list(srv: Server, path: str, detail: str) -> None:
    r = httpx.get(f"{srv.url}{path}")
    assert r.status_code == 422, r.text
    assert detail in r.json()["detail"]
    assert httpx.get(f"{srv.url}/api/v1/incidents?country=tn").status_code == 200


def test_empty_count_parameters_mean_their_defaults(srv: Server) -> None:
    url = f"{srv.url}/api/v1/services/facebook/counts"
    empty = httpx.get(url, params={"from": "", "to": "", "step": "", "by": ""})
    assert empty.status_code == 200, empty.text
    assert empty.json() == httpx.get(url).json()
    assert empty.json()["step"] == "15m" and empty.json()["by"] is None
