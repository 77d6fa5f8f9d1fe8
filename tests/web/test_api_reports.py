"""Reports over real HTTP on loopback, into a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from panne.clock import ManualClock
from panne.store import keys
from panne.store.schema import counts, reports

Server = Any


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server()


def stored(srv: Server) -> list[Any]:
    with srv.node.engine.connect() as conn:
        return list(conn.execute(select(reports).order_by(reports.c.id)))


def counted(srv: Server) -> int:
    with srv.node.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(counts.c.count), 0))).scalar_one())


def assert_problem(resp: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    for w in words:
        assert w in body["detail"] or w in body["title"], body
    return body


def test_a_report_is_committed_before_its_202(srv: Server) -> None:
    r = httpx.post(
        f"{srv.url}/api/v1/reports",
        json={"service": "facebook", "problem": "login", "country": "tn"},
    )
    assert r.status_code == 202
    body = r.json()
    assert body["counted"] is True and len(body["id"]) == 32
    rows = stored(srv)
    assert [(x.id, x.country, x.problem) for x in rows] == [(body["id"], "TN", "login")]
    assert counted(srv) == 1


def test_no_raw_address_is_stored(srv: Server) -> None:
    httpx.post(f"{srv.url}/api/v1/reports", json={"service": "x", "problem": "app"})
    with srv.node.engine.connect() as conn:
        dump = repr([tuple(r) for r in conn.execute(select(reports))])
    assert "127.0.0.1" not in dump
    (row,) = stored(srv)
    assert row.reporter and len(row.reporter) == 32
    assert row.country == "ZZ"  # loopback has no country


def test_same_person_same_service_is_counted_once_within_the_window(
    srv: Server, clock: ManualClock
) -> None:
    post = lambda: httpx.post(  # noqa: E731
        f"{srv.url}/api/v1/reports", json={"service": "facebook", "problem": "login"}
    )
    assert post().json()["counted"] is True
    assert post().json()["counted"] is False
    assert httpx.post(
        f"{srv.url}/api/v1/reports", json={"service": "instagram", "problem": "login"}
    ).json()["counted"]
    clock.advance(15 * 60 + 1)
    assert post().json()["counted"] is True
    assert len(stored(srv)) == 4 and counted(srv) == 3


def test_country_from_forwarded_address_only_behind_a_trusted_proxy(
    make_server: Callable[..., Server],
) -> None:
    behind = make_server(trusted_proxies=["127.0.0.1/32"])
    direct = make_server()
    hdr = {"X-Forwarded-For": "203.0.113.9, 8.8.8.8"}
    body = {"service": "youtube", "problem": "app"}
    assert httpx.post(f"{behind.url}/api/v1/reports", json=body, headers=hdr).status_code == 202
    assert httpx.post(f"{direct.url}/api/v1/reports", json=body, headers=hdr).status_code == 202
    assert stored(behind)[0].country == "US"  # 8.8.8.8, the hop the proxy saw
    assert stored(direct)[0].country == "ZZ"  # the header is not believed


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b'{"service": "facebook", ', 400, ["not valid JSON"]),
        (b'{"service": "nope", "problem": "login"}', 422, ["nope"]),
        (b'{"service": "facebook", "problem": "atm"}', 422, ["atm"]),
        (b'{"service": "facebook", "problem": "login", "country": "XQ"}', 422, ["XQ"]),
        (b'{"service": "facebook", "problem": "login", "country": "USA"}', 422, ["country"]),
        (b'{"service": "facebook"}', 422, ["problem"]),
        (b'{"service": "facebook", "problem": "login", "extra": 1}', 422, ["extra"]),
        (b"[1, 2]", 422, []),
    ],
)
def test_bad_reports_get_a_problem_and_store_nothing(
    srv: Server, body: bytes, status: int, words: list[str]
) -> None:
    r = httpx.post(
        f"{srv.url}/api/v1/reports", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(r, status, *words)
    assert stored(srv) == []


def test_unknown_problem_names_the_allowed_values(srv: Server) -> None:
    r = httpx.post(f"{srv.url}/api/v1/reports", json={"service": "facebook", "problem": "atm"})
    body = assert_problem(r, 422)
    assert body["field"] == "problem" and "login" in body["allowed"]


def test_oversized_body_is_refused(srv: Server) -> None:
    big = b'{"service": "facebook", "problem": "login", "url": "' + b"a" * 20_000 + b'"}'
    hdr = {"content-type": "application/json"}
    assert_problem(httpx.post(f"{srv.url}/api/v1/reports", content=big, headers=hdr), 413)

    def chunks() -> Any:
        yield big[:10_000]
        yield big[10_000:]

    assert_problem(
        httpx.post(f"{srv.url}/api/v1/reports", content=chunks(), headers=hdr), 413, "larger"
    )
    assert stored(srv) == []


def test_only_json_is_accepted_so_no_cross_site_form_can_post(srv: Server) -> None:
    body = b'{"service": "facebook", "problem": "login"}'
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = httpx.post(f"{srv.url}/api/v1/reports", content=body, headers={"content-type": ctype})
        assert_problem(r, 415, "JSON")
    ok = httpx.post(
        f"{srv.url}/api/v1/reports",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 202
    assert len(stored(srv)) == 1


def test_rate_limit_answers_429_with_retry_after(make_server: Callable[..., Server]) -> None:
    srv = make_server(reporter_burst=3, reporter_rate_per_minute=1)
    codes = [
        httpx.post(
            f"{srv.url}/api/v1/reports", json={"service": "facebook", "problem": "login"}
        ).status_code
        for _ in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]
    r = httpx.post(f"{srv.url}/api/v1/reports", json={"service": "facebook", "problem": "login"})
    assert_problem(r, 429)
    assert int(r.headers["retry-after"]) >= 1
    assert len(stored(srv)) == 3


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(["service", "problem", "country", "url", "junk"]),
        st.one_of(
            st.text(max_size=12),
            st.integers(-(2**63), 2**63 - 1),
            st.none(),
            st.sampled_from(["facebook", "login", "FR", "fr", "zz", "x", "app"]),
        ),
    )
)
def test_any_payload_gets_202_or_a_4xx_problem_never_a_crash(
    srv: Server, payload: dict[str, Any]
) -> None:
    before = len(stored(srv))
    r = httpx.post(
        f"{srv.url}/api/v1/reports",
        content=orjson.dumps(payload),
        headers={"content-type": "application/json"},
    )
    if r.status_code == 202:
        assert len(stored(srv)) == before + 1
    else:
        assert 400 <= r.status_code < 500
        assert r.headers["content-type"] == "application/problem+json"
        assert len(stored(srv)) == before


# -- batches -------------------------------------------------------------------------------


def make_key(srv: Server, trusted: bool = False) -> str:
    _, plain = keys.create(srv.node.engine, "test", trusted=trusted, now_ms=0)
    return plain


def test_batch_json_and_ndjson(srv: Server) -> None:
    key = make_key(srv)
    auth = {"Authorization": f"Bearer {key}"}
    items = [{"service": "facebook", "problem": "login", "country": "US"}] * 3
    r = httpx.post(f"{srv.url}/api/v1/reports/batch", json=items, headers=auth)
    assert r.status_code == 202 and r.json()["accepted"] == 3 and len(r.json()["ids"]) == 3
    nd = b"\n".join(orjson.dumps(i) for i in items) + b"\n"
    r = httpx.post(
        f"{srv.url}/api/v1/reports/batch",
        content=nd,
        headers={**auth, "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 202 and r.json()["accepted"] == 3
    assert counted(srv) == 6
    cut = nd.replace(b"}\n", b"\n", 2)[: len(nd)]  # lines 1 and 2 lose their brace
    r = httpx.post(
        f"{srv.url}/api/v1/reports/batch",
        content=b"\n" + cut,  # a blank first line: line numbers count it
        headers={**auth, "content-type": "application/x-ndjson"},
    )
    assert assert_problem(r, 400, "line 2 is not valid JSON")["line"] == 2
    assert counted(srv) == 6


def test_batch_counts_match_its_reports_and_its_answer_may_be_gzipped(
    srv: Server, clock: ManualClock
) -> None:
    """Plain and detailed reports mixed: the counts are those of the stored counted reports,
    per minute, and the ids answer in report order, whether gzipped or not."""
    auth = {"Authorization": f"Bearer {make_key(srv, trusted=True)}"}
    at = clock.now() - 3600
    plain = [
        {"service": s, "problem": "login", "country": c}
        for s in ("facebook", "instagram")
        for c in ("us", "GB", None)
    ] * 200
    detailed = [
        {"service": "facebook", "problem": "login", "country": "US", "timestamp": at},
        {"service": "facebook", "problem": "login", "reporter": "p1"},
        {"service": "facebook", "problem": "login", "reporter": "p1"},  # deduped
        {"service": "instagram", "problem": "login", "timestamp": at + 120, "reporter": "p2"},
    ]
    items: list[dict[str, Any]] = plain[:500] + detailed + plain[500:]
    for encoding in ("gzip", "identity"):
        r = httpx.post(
            f"{srv.url}/api/v1/reports/batch",
            json=items,
            headers={**auth, "accept-encoding": encoding},
        )
        assert r.status_code == 202
        assert r.headers.get("content-encoding") == (encoding if encoding == "gzip" else None)
        body = r.json()
        assert body["accepted"] == len(items) and len(set(body["ids"])) == len(items)
        by_id = {x.id: x for x in stored(srv)}
        got = [by_id[i] for i in body["ids"]]
        services = srv.node.catalog.services
        assert [x.service_id for x in got] == [services[i["service"]].id for i in items]
        assert got[500].occurred_ms == int(at * 1000) and got[502].counted is False
    rows = stored(srv)
    assert counted(srv) == sum(x.counted for x in rows)
    with srv.node.engine.connect() as conn:
        per_key = {
            (s, m, c, p): n
            for s, m, c, p, n in conn.execute(
                select(
                    counts.c.service_id,
                    counts.c.minute,
                    counts.c.country,
                    counts.c.problem,
                    counts.c.count,
                )
            )
        }
    expect: dict[tuple[int, int, str, str], int] = {}
    for x in rows:
        if x.counted:
            k = (x.service_id, x.occurred_ms // 60_000 * 60, x.country, x.problem)
            expect[k] = expect.get(k, 0) + 1
    assert per_key == expect


def test_batch_needs_a_valid_key(srv: Server) -> None:
    items = [{"service": "facebook", "problem": "login"}]
    assert_problem(httpx.post(f"{srv.url}/api/v1/reports/batch", json=items), 401, "API key")
    assert_problem(
        httpx.post(
            f"{srv.url}/api/v1/reports/batch",
            json=items,
            headers={"Authorization": "Bearer pk_wrong"},
        ),
        403,
    )


def test_a_failed_batch_stores_nothing(srv: Server) -> None:
    auth = {"Authorization": f"Bearer {make_key(srv)}"}
    items = [{"service": "facebook", "problem": "login"}] * 5
    items[3] = {"service": "facebook", "problem": "login", "country": "QQ"}
    body = assert_problem(
        httpx.post(f"{srv.url}/api/v1/reports/batch", json=items, headers=auth), 422, "report 3"
    )
    assert body["index"] == 3
    assert stored(srv) == [] and counted(srv) == 0


def test_batch_over_ten_thousand_is_refused(srv: Server) -> None:
    auth = {"Authorization": f"Bearer {make_key(srv)}"}
    items = [{"service": "x", "problem": "app", "country": "GB"}] * 10_001
    assert_problem(
        httpx.post(f"{srv.url}/api/v1/reports/batch", json=items, headers=auth), 413, "10000"
    )
    r = httpx.post(f"{srv.url}/api/v1/reports/batch", json=items[:10_000], headers=auth, timeout=60)
    assert r.status_code == 202 and r.json()["accepted"] == 10_000


def test_only_trusted_keys_set_timestamps_and_reporters_dedupe(
    srv: Server, clock: ManualClock
) -> None:
    at = clock.now() - 3600
    items = [
        {
            "service": "whatsapp",
            "problem": "messaging",
            "country": "BR",
            "timestamp": at,
            "reporter": "u1",
        },
        {
            "service": "whatsapp",
            "problem": "messaging",
            "country": "BR",
            "timestamp": at + 5,
            "reporter": "u1",
        },
        {
            "service": "whatsapp",
            "problem": "messaging",
            "country": "BR",
            "timestamp": at + 9,
            "reporter": "u2",
        },
    ]
    plain = {"Authorization": f"Bearer {make_key(srv)}"}
    assert_problem(
        httpx.post(f"{srv.url}/api/v1/reports/batch", json=items, headers=plain), 403, "trusted"
    )
    trusted = {"Authorization": f"Bearer {make_key(srv, trusted=True)}"}
    r = httpx.post(f"{srv.url}/api/v1/reports/batch", json=items, headers=trusted)
    assert r.status_code == 202 and r.json()["counted"] == 2
    rows = stored(srv)
    assert sorted(x.occurred_ms for x in rows) == [
        int(at * 1000),
        int((at + 5) * 1000),
        int((at + 9) * 1000),
    ]
    future = [{**items[0], "timestamp": clock.now() + 86_400}]
    assert_problem(
        httpx.post(f"{srv.url}/api/v1/reports/batch", json=future, headers=trusted), 422, "future"
    )


def test_batch_takes_only_json_or_ndjson(srv: Server) -> None:
    auth = {"Authorization": f"Bearer {make_key(srv)}"}
    body = b'[{"service": "facebook", "problem": "login"}]'
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""):
        r = httpx.post(
            f"{srv.url}/api/v1/reports/batch",
            content=body,
            headers={**auth, "content-type": ctype},
        )
        assert_problem(r, 415, "application/json", "application/x-ndjson")
    nd = b'{"service": "facebook", "problem": "login"}\n'
    for ctype in ("application/json; charset=utf-8", "application/x-ndjson", "application/jsonl"):
        r = httpx.post(
            f"{srv.url}/api/v1/reports/batch",
            content=nd if "json;" not in ctype else body,
            headers={**auth, "content-type": ctype},
        )
        assert r.status_code == 202, (ctype, r.text)
    assert len(stored(srv)) == 3


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"service": "facebook", "problem": "login", "country": 5}, "country"),
        ({"service": "facebook", "problem": "login", "junk": 1}, "junk"),
        ({"service": "facebook"}, "problem"),
        ("not an object", None),
    ],
)
def test_a_bad_item_in_a_batch_is_named_by_its_index(
    srv: Server, item: Any, field: str | None
) -> None:
    auth = {"Authorization": f"Bearer {make_key(srv)}"}
    items = [{"service": "facebook", "problem": "login"}, item]
    r = httpx.post(f"{srv.url}/api/v1/reports/batch", json=items, headers=auth)
    body = assert_problem(r, 422)
    assert body["index"] == 1 and body["detail"].startswith("report 1: ")
    if field is not None:
        assert body["detail"].startswith(f"report 1: {field}: ") and body["field"] == field
    assert stored(srv) == []


def test_a_missing_key_says_how_to_authenticate(srv: Server) -> None:
    r = httpx.post(f"{srv.url}/api/v1/reports/batch", json=[{"service": "x", "problem": "app"}])
    assert_problem(r, 401, "API key")
    assert r.headers["www-authenticate"] == "Bearer"


def test_an_unknown_service_points_to_the_catalog_and_close_matches(srv: Server) -> None:
    r = httpx.post(f"{srv.url}/api/v1/reports", json={"service": "facebok", "problem": "login"})
    body = assert_problem(r, 422, "facebok", "facebook")
    assert body["field"] == "service" and body["see"] == "/api/v1/services"
    assert body["close_matches"][0] == "facebook"
    nothing = httpx.post(f"{srv.url}/api/v1/reports", json={"service": "qqqq", "problem": "a"})
    assert assert_problem(nothing, 422)["close_matches"] == []
    by_alias = httpx.post(f"{srv.url}/api/v1/reports", json={"service": "insta", "problem": "a"})
    assert "instagram" in assert_problem(by_alias, 422)["close_matches"]
