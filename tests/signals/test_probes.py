"""Probes against real servers on loopback: HTTP(S), TCP, DNS over UDP, TLS; the address
guard; the up/down hysteresis; the scheduler's rhythm and bounds."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from tests.conftest import free_port
from tests.signals.probe_servers import (
    Certificates,
    aio,
    dns_responder,
    http_server,
    make_certificates,
)

from panne.config import load
from panne.signals.probe_guard import address_kind
from panne.signals.probe_kinds import Prober
from panne.signals.probe_state import ProbeState, step
from panne.signals.probes import (
    ERROR_CLASSES,
    ProbeResult,
    ProbeSpec,
    ProbeSpecError,
    check_definition,
    public_target,
    shown_target,
    without_credentials,
)


@pytest.fixture(scope="module")
def certs() -> Certificates:
    return make_certificates()


def spec(kind: str, target: str, **kw: Any) -> ProbeSpec:
    kw.setdefault("timeout_ms", 500)
    kw.setdefault("interval_seconds", 1.0)
    return ProbeSpec(id=kw.pop("id", "p1"), service="acme", kind=kind, target=target, **kw)  # type: ignore[arg-type]


def loopback_prober(**kw: Any) -> Prober:
    return Prober.from_settings(load(environ={}, probe_allow_private=True), **kw)


# --- definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"kind": "ftp"}, "kind: must be one of http, tcp, dns, tls"),
        ({"target": "example.com"}, "target: must be an http:// or https:// URL"),
        ({"kind": "tcp", "target": "example.com"}, "target: .* needs a port"),
        ({"timeout_ms": 0}, "timeout_ms: must be an integer from 1"),
        ({"timeout_ms": 5000, "interval_seconds": 2}, "timeout_ms: must not exceed the interval"),
        ({"retries": 9}, "retries: must be an integer from 0 to 5"),
        ({"expect_status": (399, 200)}, "expect_status: must be a range"),
        ({"kind": "tcp", "target": "h:1", "keyword": "x"}, "keyword: applies only to http"),
        ({"json_field": "status"}, "json_field: must be path=value"),
        ({"kind": "dns", "target": "a.test", "record_type": "MX"}, "record_type: must be one"),
        ({"id": "Bad Id"}, "id: must be 1-64"),
        ({"fail_after": 0}, "fail_after: must be an integer from 1"),
        ({"target": 5}, "target: must be a string"),
        ({"kind": "dns", "target": ["x"]}, "target: must be a string"),
        ({"keyword": 5}, "keyword: must be a string"),
        ({"json_field": 5}, "json_field: must be a string"),
        ({"kind": "dns", "target": "a.test", "resolver": 5}, "resolver: must be a string"),
        ({"kind": ["http"]}, "kind: must be one of"),
        ({"expect_status": 200}, "expect_status: must be a pair of HTTP statuses"),
        ({"target": "http://[::1/"}, "target: is not a valid URL"),
        ({"target": "http://example.com:99999/"}, "target: has no valid port"),
        ({"target": "http://example.com:0/"}, "target: has no valid port"),
        ({"target": f"https://{'a' * 64}.example/"}, "target: .* is not a valid host name"),
        ({"kind": "dns", "target": "a..example"}, "target: .* is not a valid host name"),
    ],
)
def test_bad_definitions_stop_with_a_message_naming_the_field(
    kw: dict[str, Any], message: str
) -> None:
    base: dict[str, Any] = {"id": "p1", "service": "acme", "kind": "http"}
    base["target"] = "https://example.com/"
    with pytest.raises(ProbeSpecError, match=message) as caught:
        ProbeSpec(**{**base, **kw})
    assert caught.value.field is not None and caught.value.field in message


def test_what_may_be_defined_is_a_run_every_ten_seconds_and_a_sane_timeout() -> None:
    base: dict[str, Any] = {"id": "p1", "service": "acme", "kind": "http"}
    base["target"] = "https://example.com/"
    check_definition(ProbeSpec(**base, interval_seconds=10, timeout_ms=100))
    check_definition(ProbeSpec(**base, interval_seconds=120, timeout_ms=60_000))
    for kw, field in (
        ({"interval_seconds": 0.01, "timeout_ms": 1}, "interval_seconds"),
        ({"interval_seconds": 9.5, "timeout_ms": 1000}, "interval_seconds"),
        ({"timeout_ms": 99}, "timeout_ms"),
        ({"interval_seconds": 300, "timeout_ms": 60_001}, "timeout_ms"),
    ):
        spec = ProbeSpec(**base, **kw)  # a spec: the scheduler's tests run such
        with pytest.raises(ProbeSpecError, match=f"{field}: must be") as caught:
            check_definition(spec)
        assert caught.value.field == field


def test_the_public_target_has_no_credentials() -> None:
    secret = spec("http", "https://admin:s3cretpw@example.com:8443/health?x=1")
    assert shown_target(secret) == "https://example.com:8443/health?x=1"
    assert shown_target(spec("tcp", "example.com:22")) == "example.com:22"
    assert public_target("http", "https://user@example.com/") == "https://example.com/"
    assert without_credentials("http://[::1/") == ""  # unparseable: nothing rather than a secret


def test_definitions_round_trip_through_plain_data() -> None:
    s = ProbeSpec.from_dict(
        {
            "id": "api",
            "service": "acme",
            "kind": "http",
            "target": "https://example.com/",
            "expect_status": "200-299",
            "json_field": "status.indicator=none",
        }
    )
    assert s.expect_status == (200, 299)
    assert ProbeSpec.from_dict(s.to_dict()) == s
    with pytest.raises(ProbeSpecError, match="unknown field 'timeout'") as caught:
        ProbeSpec.from_dict({**s.to_dict(), "timeout": 3})
    assert caught.value.field == "timeout"
    with pytest.raises(ProbeSpecError, match="target is required") as caught:
        ProbeSpec.from_dict({"id": "api", "service": "acme", "kind": "http"})
    assert caught.value.field == "target"
    assert "other" in ERROR_CLASSES and len(set(ERROR_CLASSES)) == 11


# --- kinds -------------------------------------------------------------------------------


@aio
async def test_http_probe_sees_failures_on_demand() -> None:
    async with http_server() as srv, loopback_prober() as prober:
        url = srv.url
        ok = await prober.run(spec("http", url, keyword="operational"))
        assert (ok.ok, ok.error_class, ok.detail) == (True, None, "status 200")
        assert 0 < ok.latency_ms < 500
        srv.mode = "503"
        assert (await prober.run(spec("http", url))).error_class == "http_5xx"
        srv.mode = "404"
        assert (await prober.run(spec("http", url))).error_class == "http_4xx"
        srv.mode = "wrong"
        missing = await prober.run(spec("http", url, keyword="operational"))
        assert (missing.ok, missing.error_class) == (False, "keyword_missing")
        srv.mode = "redirect"  # an answer, not followed (it points at a private address)
        assert (await prober.run(spec("http", url))).ok
        srv.mode = "slow"
        slow = await prober.run(spec("http", url, timeout_ms=200))
        assert (slow.ok, slow.error_class) == (False, "timeout")
        assert 190 <= slow.latency_ms < 450


@aio
async def test_http_probe_checks_a_json_field() -> None:
    async with http_server() as srv, loopback_prober() as prober:
        for field, ok in [
            ("status.indicator=none", True),
            ("status.ok=true", True),
            ("items.1=2", True),
            ("status.indicator=major", False),
            ("status.missing=x", False),
        ]:
            result = await prober.run(spec("http", srv.url, json_field=field))
            assert result.ok is ok, (field, result)
            assert result.error_class == (None if ok else "json_mismatch")
        srv.mode = "wrong"
        result = await prober.run(spec("http", srv.url, json_field="ok=true"))
        assert (result.error_class, result.detail) == ("json_mismatch", "the body is not JSON")


@aio
async def test_refused_port_is_connection_refused_for_tcp_and_http() -> None:
    port = free_port()  # nothing listens there
    async with loopback_prober() as prober:
        tcp = await prober.run(spec("tcp", f"127.0.0.1:{port}"))
        http = await prober.run(spec("http", f"http://127.0.0.1:{port}/"))
    assert (tcp.ok, tcp.error_class) == (False, "connection_refused")
    assert (http.ok, http.error_class) == (False, "connection_refused")


@aio
async def test_tcp_probe_connects() -> None:
    async with http_server() as srv, loopback_prober() as prober:
        result = await prober.run(spec("tcp", f"127.0.0.1:{srv.port}"))
    assert (result.ok, result.error_class) == (True, None)


@aio
async def test_dns_probe_against_a_udp_responder() -> None:
    async with dns_responder() as (responder, port), loopback_prober() as prober:
        resolver = f"127.0.0.1:{port}"

        async def probe(name: str, record_type: str = "A", timeout_ms: int = 500) -> ProbeResult:
            return await prober.run(
                spec("dns", name, resolver=resolver, record_type=record_type, timeout_ms=timeout_ms)
            )

        a = await probe("ok.test")
        assert (a.ok, a.detail) == (True, "192.0.2.1")
        assert (await probe("ok.test", "AAAA")).detail == "2001:db8::1"
        assert (await probe("www.test", "CNAME")).detail == "ok.test."
        gone = await probe("gone.test")
        assert (gone.ok, gone.error_class, gone.detail) == (
            False,
            "dns_failure",
            "NXDOMAIN: the name does not exist",
        )
        assert (await probe("www.test", "AAAA")).error_class == "dns_failure"  # no answer
        silent = await probe("slow.test", timeout_ms=300)
        assert (silent.ok, silent.error_class) == (False, "timeout")
        assert 250 <= silent.latency_ms < 600
        assert responder.queries >= 6


@aio
async def test_tls_probe_reads_the_certificate_expiry(certs: Certificates) -> None:
    async with http_server(certs.server_context()) as srv:
        target = f"localhost:{srv.port}"
        async with loopback_prober(ssl_context=certs.client_context()) as prober:
            soon = await prober.run(spec("tls", target))  # 3 days left, warning at 14
            assert (soon.ok, soon.error_class) == (False, "cert_expiring")
            assert "expires in 2.9 days" in soon.detail or "expires in 3.0 days" in soon.detail
            https = await prober.run(spec("http", srv.url, keyword="operational"))
            assert https.error_class == "cert_expiring"
        relaxed = loopback_prober(ssl_context=certs.client_context(), cert_warn_days=1)
        async with relaxed as prober:
            ok = await prober.run(spec("tls", target))
            assert (ok.ok, ok.error_class) == (True, None)
            assert ok.detail.startswith("certificate valid 3 more days, TLSv1.")
            assert (await prober.run(spec("http", srv.url))).ok
        async with loopback_prober() as untrusting:  # the system's CAs do not know ours
            bad = await untrusting.run(spec("tls", target))
            assert (bad.ok, bad.error_class) == (False, "tls_error")
            assert (await untrusting.run(spec("http", srv.url))).error_class == "tls_error"


@aio
async def test_tls_probe_refuses_an_expired_certificate(certs: Certificates) -> None:
    async with (
        http_server(certs.server_context("expired")) as srv,
        loopback_prober(ssl_context=certs.client_context()) as prober,
    ):
        result = await prober.run(spec("tls", f"localhost:{srv.port}"))
    assert (result.ok, result.error_class) == (False, "tls_error")
    assert "expired" in result.detail


# --- the address guard -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-global"),
        ("::ffff:127.0.0.1", "loopback"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@aio
async def test_private_targets_are_refused_unless_allowed(certs: Certificates) -> None:
    async with http_server() as srv, dns_responder() as (_, dns_port):
        probes = [
            spec("http", srv.url),
            spec("http", f"http://localhost:{srv.port}/"),  # refused after resolution
            spec("tcp", f"127.0.0.1:{srv.port}"),
            spec("tls", f"localhost:{srv.port}"),
            spec("dns", "ok.test", resolver=f"127.0.0.1:{dns_port}"),
        ]
        async with Prober.from_settings(load(environ={})) as guarded:
            for s in probes:
                result = await guarded.run(s)
                assert (result.ok, result.error_class) == (False, "other"), s
                assert "loopback address" in result.detail
                assert "probe_allow_private" in result.detail
        requests = srv.requests
        assert requests == 0  # refused before connecting
        async with loopback_prober() as allowed:
            assert (await allowed.run(probes[0])).ok
            assert (await allowed.run(probes[2])).ok
            assert (await allowed.run(probes[4])).ok


def test_localhost_resolves_to_loopback_here() -> None:
    """The guard test above relies on it."""
    infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    assert all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


# --- hysteresis ----------------------------------------------------------------------------


def result(at: float, ok: bool) -> ProbeResult:
    return ProbeResult("p1", at, ok, 1.0, None if ok else "http_5xx", "")


def run_states(
    oks: list[bool], state: ProbeState | None = None, start: float = 0.0
) -> tuple[ProbeState, list[tuple[str, str, float]]]:
    state = state or ProbeState("p1")
    seen = []
    for i, ok in enumerate(oks):
        state, t = step(state, result(start + i * 10, ok), fail_after=2, recover_after=2)
        if t is not None:
            seen.append((t.from_status, t.to_status, t.since))
    return state, seen


def test_two_failures_go_down_once_and_two_successes_recover() -> None:
    state, seen = run_states([True, False, True, False, False, False, True, False, True, True])
    assert seen == [("unknown", "up", 0.0), ("up", "down", 30.0), ("down", "up", 80.0)]
    assert (state.status, state.since, state.ok_streak) == ("up", 80.0, 2)


def test_a_new_probe_failing_from_the_start_goes_down() -> None:
    state, seen = run_states([False, False, False])
    assert seen == [("unknown", "down", 0.0)]
    assert state.fail_streak == 3


def test_results_already_seen_change_nothing() -> None:
    state, _ = run_states([True, False])
    again, transition = step(state, result(10, False))
    assert again is state and transition is None
    older, transition = step(state, result(5, False))
    assert older is state and transition is None
