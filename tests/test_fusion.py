"""The fusion rules, on evidence built by hand (no store, no clock)."""

from __future__ import annotations

import pytest

from panne.fusion import (
    MENTION_COLD_PER_MINUTE,
    MentionEvidence,
    ProbeEvidence,
    ReportEvidence,
    VendorEvidence,
    fuse,
    probes_alone_warrant_incident,
)

NONE = ReportEvidence(0.0, 0.0)
STRONG = ReportEvidence(120.0, 8.0, (("US", 600), ("GB", 250)))
MODEST = ReportEvidence(12.0, 2.5, (("US", 30), ("GB", 10)))
ONE_COUNTRY = ReportEvidence(40.0, 9.0, (("TN", 200),))


def probe(
    error: str | None = None,
    *,
    probe_id: str = "fb-web",
    target: str = "https://www.facebook.com/",
    kind: str = "http",
    down_seconds: float = 0.0,
    runs: int = 3,
    sample: str = "",
) -> ProbeEvidence:
    failures = {error: runs} if error else {}
    return ProbeEvidence(
        probe_id,
        "facebook",
        kind,
        target,
        "down" if down_seconds else "up",
        down_seconds=down_seconds,
        checks=runs + 5,
        failures=failures,
        sample={error: sample} if error else {},
    )


DNS = probe("dns_failure", probe_id="fb-dns", kind="dns", target="facebook.com", down_seconds=240)
META_DOWN = VendorEvidence("facebook", "Meta", "down", "Major outage", ("Login issues",))
META_WARN = VendorEvidence("facebook", "Meta", "warn", "Partial outage")
META_STALE = VendorEvidence("facebook", "Meta", "down", "Major outage", stale=True)
META_UP = VendorEvidence("facebook", "Meta", "up", "All Systems Operational")


@pytest.mark.parametrize(
    ("reports", "probes", "vendor", "mentions", "confidence", "signals"),
    [
        pytest.param(STRONG, [], None, None, "medium", ["reports"], id="reports-strong"),
        pytest.param(MODEST, [], None, None, "low", ["reports"], id="reports-modest-ratio"),
        pytest.param(ONE_COUNTRY, [], None, None, "low", ["reports"], id="reports-one-country"),
        pytest.param(STRONG, [DNS], None, None, "high", ["reports", "probes"], id="+dns"),
        pytest.param(MODEST, [DNS], None, None, "high", ["reports", "probes"], id="weak+dns"),
        pytest.param(STRONG, [], META_DOWN, None, "high", ["reports", "vendor"], id="+vendor"),
        pytest.param(MODEST, [], META_WARN, None, "high", ["reports", "vendor"], id="+warn"),
        pytest.param(STRONG, [], META_UP, None, "medium", ["reports"], id="vendor-says-up"),
        pytest.param(STRONG, [], META_STALE, None, "medium", ["reports"], id="stale-ignored"),
        pytest.param(NONE, [DNS], None, None, "medium", ["probes"], id="probes-only-long"),
        pytest.param(
            NONE,
            [probe("timeout", down_seconds=60), probe("http_5xx", probe_id="b", down_seconds=60)],
            None,
            None,
            "medium",
            ["probes"],
            id="probes-only-two-down",
        ),
        pytest.param(
            NONE, [probe("timeout", down_seconds=60)], None, None, "low", ["probes"], id="blip"
        ),
        pytest.param(NONE, [probe(None)], None, None, "low", [], id="nothing"),
        pytest.param(NONE, [], META_DOWN, None, "medium", ["vendor"], id="vendor-only-down"),
        pytest.param(
            STRONG,
            [DNS],
            META_DOWN,
            MentionEvidence(30.0, 1.0, baseline=True),
            "high",
            ["reports", "probes", "vendor", "mentions"],
            id="everything",
        ),
        pytest.param(
            NONE,
            [],
            None,
            MentionEvidence(1.0, 0.1, baseline=True),
            "low",
            [],
            id="too-few-mentions",
        ),
        pytest.param(
            MODEST,
            [],
            None,
            MentionEvidence(5.0, 0.0, baseline=False),
            "low",
            ["reports"],
            id="mentions-at-a-cold-start",
        ),
    ],
)
def test_confidence_counts_independent_signals(
    reports: ReportEvidence,
    probes: list[ProbeEvidence],
    vendor: VendorEvidence | None,
    mentions: MentionEvidence | None,
    confidence: str,
    signals: list[str],
) -> None:
    fusion = fuse(reports, probes, vendor, mentions)
    assert (fusion.confidence, fusion.signals) == (confidence, signals)


def test_a_dns_failure_names_its_domain_in_both_languages() -> None:
    fusion = fuse(STRONG, [DNS], META_DOWN, None)
    assert fusion.cause == "DNS resolution fails for facebook.com from this node"
    assert fusion.cause_fr == "La résolution DNS de facebook.com échoue depuis ce nœud"


@pytest.mark.parametrize(
    ("errors", "cause"),
    [
        (["http_5xx", "dns_failure"], "DNS resolution fails for www.facebook.com from this node"),
        (["timeout", "tls_error"], "TLS handshake fails for www.facebook.com"),
        (["timeout", "connection_refused"], "Connection refused by www.facebook.com"),
        (["http_5xx", "timeout"], "www.facebook.com does not answer in time"),
        (["keyword_missing", "http_5xx"], "www.facebook.com answers HTTP 503"),
        (["keyword_missing"], "www.facebook.com answers without its expected content"),
    ],
)
def test_the_most_specific_probe_error_wins(errors: list[str], cause: str) -> None:
    probes = [
        probe(e, probe_id=f"p{i}", sample="HTTP 503 Service Unavailable")
        for i, e in enumerate(errors)
    ]
    assert fuse(STRONG, probes, META_DOWN, None).cause == cause


def test_targets_give_their_host() -> None:
    assert probe("timeout", target="edge.example:8443", kind="tcp").host == "edge.example"
    assert probe("timeout", target="[2001:db8::1]:443", kind="tls").host == "2001:db8::1"


def test_the_vendor_names_the_cause_when_probes_do_not() -> None:
    fusion = fuse(STRONG, [probe(None)], META_DOWN, None)
    assert fusion.cause == "Meta's status page reports a major outage: Login issues"
    assert fusion.cause_fr == "La page de statut de Meta signale une panne majeure : Login issues"
    assert fuse(STRONG, [], META_STALE, None).cause is None
    assert fuse(STRONG, [], None, None).cause is None


def test_a_single_failed_run_is_not_a_failing_probe() -> None:
    lone = probe("timeout", runs=1)
    assert not lone.failing
    assert fuse(STRONG, [lone], None, None).signals == ["reports"]
    assert fuse(STRONG, [lone], None, None).cause is None


def test_probes_alone_need_two_down_or_three_minutes() -> None:
    assert not probes_alone_warrant_incident([])
    assert not probes_alone_warrant_incident([probe("timeout", runs=9)])  # failing, never down
    assert not probes_alone_warrant_incident([probe("timeout", down_seconds=179)])
    assert probes_alone_warrant_incident([probe("timeout", down_seconds=180)])
    two = [probe("timeout", down_seconds=30), probe("http_5xx", probe_id="b", down_seconds=30)]
    assert probes_alone_warrant_incident(two)


def test_a_vendor_that_was_down_in_the_window_still_counts_once_back_up() -> None:
    recovered = VendorEvidence("facebook", "Meta", "up", "ok", states_in_window=("down", "up"))
    assert fuse(STRONG, [], recovered, None).confidence == "high"


def test_a_vendor_that_said_down_while_readable_still_counts_once_stale() -> None:
    """The page said "down" in the window, then a poll failed: the word stands, marked stale."""
    gone_stale = VendorEvidence(
        "facebook", "Meta", "down", "Major outage", ("Login issues",), stale=True,
        states_in_window=("down",), fetched_at=1_709_650_000.0,
    )  # fmt: skip
    assert gone_stale.acknowledges and gone_stale.worst == "down"
    fusion = fuse(STRONG, [], gone_stale, None)
    assert (fusion.confidence, fusion.signals) == ("high", ["reports", "vendor"])
    assert fusion.cause == "Meta's status page reported a major outage: Login issues"
    assert fusion.cause_fr == "La page de statut de Meta a signalé une panne majeure : Login issues"
    assert fuse(NONE, [], gone_stale, None).confidence == "medium"  # the vendor alone, down
    never_read_fresh = VendorEvidence("facebook", "Meta", "down", "Major outage", stale=True)
    assert not never_read_fresh.acknowledges and never_read_fresh.worst == "unknown"


def test_a_vendor_back_up_is_cited_in_the_past_without_its_current_description() -> None:
    recovered = VendorEvidence(
        "facebook", "Meta", "up", "All Systems Operational", states_in_window=("down", "up")
    )
    assert fuse(STRONG, [], recovered, None).cause == "Meta's status page reported a major outage"


def test_the_cause_comes_from_probes_down_now_then_down_longest_then_the_class() -> None:
    """Six DNS failures of a probe long recovered used to name the cause over 64 refusals."""

    def at(probe_id: str, state: str, down: float, failures: dict[str, int]) -> ProbeEvidence:
        return ProbeEvidence(
            probe_id, "facebook", "http", f"https://{probe_id}.example/", state,
            down_seconds=down, checks=80, failures=failures,
        )  # fmt: skip

    recovered_dns = at("dns", "up", 120.0, {"dns_failure": 6})
    refused = at("api", "down", 1800.0, {"connection_refused": 64})
    expiring = at("cert", "down", 600.0, {"cert_expiring": 64})
    probes = [recovered_dns, expiring, refused]
    assert fuse(STRONG, probes, None, None).cause == "Connection refused by api.example"
    both = at("both", "down", 1800.0, {"timeout": 40, "dns_failure": 2})
    assert fuse(STRONG, [refused, both], None, None).cause == (
        "DNS resolution fails for both.example from this node"  # equal time down: the class
    )
    never_down = at("blip", "up", 0.0, {"dns_failure": 3})
    still_down = at("slow", "down", 60.0, {"timeout": 2})
    assert fuse(STRONG, [never_down, still_down], None, None).cause == (
        "slow.example does not answer in time"
    )


def test_mentions_count_only_with_a_baseline_or_a_clear_burst() -> None:
    assert not MentionEvidence(2.0, 0.0, baseline=False).elevated  # 2 posts, nothing usual yet
    assert not MentionEvidence(MENTION_COLD_PER_MINUTE - 1, 0.0, baseline=False).elevated
    assert MentionEvidence(MENTION_COLD_PER_MINUTE, 0.0, baseline=False).elevated
    assert MentionEvidence(2.0, 0.0, baseline=True).elevated  # against a learned quiet
    assert not MentionEvidence(45.0, 40.0, baseline=True).elevated  # a busy usual level
