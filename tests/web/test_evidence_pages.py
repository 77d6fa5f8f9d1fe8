"""What the service and incident pages say of an incident's evidence, in English and French, over
a real server: incidents opened on probes alone told as panne's checks failing (never as reports
it did not have), their hand-over to a report incident, a vendor's word kept once its page goes
stale, mentions without a baseline, and probe errors in words."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.web.incident_rows import T0, store, store_probe_incident

from panne.clock import ManualClock
from panne.mention_role import STATE_KEY as MENTION_STATE_KEY
from panne.node import Node
from panne.signals.probe_state import ProbeState
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.signals.vendor_status import VendorIncident, VendorSource, VendorState
from panne.store import mentions as mention_store
from panne.store import probes as probe_store
from panne.store import vendor_status as vendor_store

Server = Any
NOW = T0 + 1200  # 15:30 UTC, twenty minutes into the incidents below
DNS = (
    "DNS resolution fails for discord.com from this node",
    "La résolution DNS de discord.com échoue depuis ce nœud",
)


@pytest.fixture
def srv(make_server: Callable[..., Server], clock: ManualClock) -> Server:
    clock.set(NOW)
    return make_server(rate_limit=False)


def page(srv: Server, path: str, lang: str = "en") -> str:
    r = httpx.get(srv.url + path, cookies={"lang": lang})
    assert r.status_code == 200, r.text
    return r.text


def section(html: str, start: str, end: str = "</section>") -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def text(html: str) -> str:
    """The words of some HTML, tags dropped and spaces collapsed, as a reader sees them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def discord_dns_down(node: Node) -> None:
    """Discord's DNS probe down since the incident began, six failed runs; its web probe up."""
    specs = [
        ProbeSpec(id="discord-dns", service="discord", kind="dns", target="discord.com"),
        ProbeSpec(id="discord-web", service="discord", kind="http", target="https://discord.com/"),
    ]
    probe_store.upsert_specs(node.engine, specs, now=T0 - 3600)
    failed = [
        ProbeResult("discord-dns", T0 + 60 * k, False, 5.0, "dns_failure", "no answer")
        for k in range(6)
    ]
    ok = [ProbeResult("discord-web", T0 + 60 * k, True, 80.0) for k in range(6)]
    with node.engine.begin() as conn:
        probe_store.record_results(conn, failed + ok)
        probe_store.save_states(
            conn,
            [
                ProbeState("discord-dns", "down", 6, 0, T0, since=T0, last_at=T0 + 300),
                ProbeState("discord-web", "up", 0, 6, T0, since=T0 - 3600, last_at=T0 + 300),
            ],
        )


# -- opened on probes alone ------------------------------------------------------------------


def test_the_service_page_says_panne_s_checks_fail_with_their_cause(srv: Server) -> None:
    """It said "User reports indicate problems at Discord since 15:10" with no report at all."""
    store_probe_incident(srv.node, cause=DNS)
    en = page(srv, "/services/discord")
    headline = text(section(en, "<h1>", "</h1>"))
    assert headline == (
        "panne's checks of Discord fail since 3:10 PM UTC:"
        " DNS resolution fails for discord.com from this node"
    )
    assert "User reports indicate" not in en
    assert "Is Discord down? panne's checks fail since 3:10\u202fPM UTC" in en  # the shared preview
    assert 'href="/incidents/discord-p1709651400"' in en
    fr = page(srv, "/services/discord", "fr")
    assert text(section(fr, "<h1>", "</h1>")) == (
        "Les vérifications de Discord par panne échouent depuis 15:10 UTC :"
        " la résolution DNS de discord.com échoue depuis ce nœud"
    )
    assert "signalements des utilisateurs indiquent" not in fr
    # The refreshed headline block says the same.
    live = httpx.get(srv.url + "/services/discord", params={"live": "headline"}).text
    assert "panne's checks of Discord fail since" in live


def test_without_a_stored_cause_the_headline_names_the_probes_down(srv: Server) -> None:
    store_probe_incident(srv.node)
    assert text(section(page(srv, "/services/discord"), "<h1>", "</h1>")) == (
        "panne's checks of Discord fail since 3:10 PM UTC:"
        " probes discord-dns and discord-web are down"
    )
    fr = text(section(page(srv, "/services/discord", "fr"), "<h1>", "</h1>"))
    assert fr.endswith(" : les sondes discord-dns et discord-web sont en échec")
    store_probe_incident(srv.node, "slack-p1709651400", service="slack", probes=["slack-web"])
    one = text(section(page(srv, "/services/slack"), "<h1>", "</h1>"))
    assert one.endswith(": probe slack-web is down")


def test_the_incident_page_says_who_opened_it_and_shows_no_empty_report_blocks(
    srv: Server,
) -> None:
    """It showed "Peak 0 reports per minute, 0.0× the usual" and empty countries and problems."""
    discord_dns_down(srv.node)
    store_probe_incident(srv.node, cause=DNS)
    en = page(srv, "/incidents/discord-p1709651400")
    said = text(section(en, '<p class="opened-by">', "</p>"))
    assert said == (
        "Opened by panne's own checks of Discord, not by user reports:"
        " DNS resolution fails for discord.com from this node."
    )
    facts = section(en, '<dl class="facts">', "</dl>")
    assert "<dt>Started</dt>" in facts and "Peak" not in facts
    assert "reports per minute" not in en and "× the usual" not in en
    assert 'id="c-h"' not in en and 'id="p-h"' not in en and "No reports." not in en
    # The evidence still says what fusion found; the cause is said once, not twice.
    evidence = section(en, 'aria-labelledby="ev-h">')
    assert "signals that agree: checks from this server" in evidence
    assert en.count("DNS resolution fails for discord.com") == 1
    fr = page(srv, "/incidents/discord-p1709651400", "fr")
    assert text(section(fr, '<p class="opened-by">', "</p>")) == (
        "Ouvert par les vérifications de Discord par panne, et non par des signalements"
        " d’utilisateurs : la résolution DNS de discord.com échoue depuis ce nœud."
    )
    assert "Pic" not in section(fr, '<dl class="facts">', "</dl>")
    assert "signalements par minute" not in fr


def test_a_report_incident_keeps_its_peak_and_its_countries(srv: Server) -> None:
    store(srv.node, "discord-1709651700", service="discord", group=None)
    en = page(srv, "/incidents/discord-1709651700")
    assert "<dt>Peak</dt>" in en and "120 reports per minute, 8.0× the usual" in en
    assert 'id="c-h"' in en and "United States" in en and 'class="opened-by"' not in en


def test_a_probe_incident_handed_over_links_to_the_report_incident(srv: Server) -> None:
    report_onset = T0 + 300
    store(
        srv.node,
        "discord-1709651700",
        service="discord",
        group=None,
        started_at=report_onset,
        events=(("opened", report_onset + 180),),
    )
    store_probe_incident(
        srv.node, cause=DNS, resolved_at=T0 + 480, superseded_by="discord-1709651700"
    )
    en = page(srv, "/incidents/discord-p1709651400")
    handed = section(en, "Confirmed by user reports: see ", "</p>")
    assert '<a href="/incidents/discord-1709651700">Discord</a>' in handed
    assert '<time datetime="2024-03-05T15:15:00Z"' in handed  # when reports took over
    fr = page(srv, "/incidents/discord-p1709651400", "fr")
    link = '<a href="/incidents/discord-1709651700">'
    assert f"Confirmé par les signalements d’utilisateurs\u00a0: voir {link}" in fr
    # The service page now leads with the report incident, as reports do.
    assert "User reports indicate problems at Discord" in page(srv, "/services/discord")


def test_a_hand_over_to_an_incident_no_longer_stored_still_links_it(srv: Server) -> None:
    store_probe_incident(srv.node, resolved_at=T0 + 480, superseded_by="discord-1709651700")
    en = page(srv, "/incidents/discord-p1709651400")
    assert (
        'Confirmed by user reports: see <a href="/incidents/discord-1709651700">'
        "discord-1709651700</a>."
    ) in en


# -- the evidence ----------------------------------------------------------------------------


def test_probe_errors_read_in_words_in_either_language(srv: Server) -> None:
    """The French page said "dns_failure × 6"."""
    discord_dns_down(srv.node)
    store_probe_incident(srv.node, cause=DNS)
    en = section(page(srv, "/incidents/discord-p1709651400"), 'aria-labelledby="ev-h">')
    assert "name resolution failed × 6" in en
    fr = section(page(srv, "/incidents/discord-p1709651400", "fr"), 'aria-labelledby="ev-h">')
    assert "échec de la résolution de nom × 6" in fr
    assert "dns_failure" not in en and "dns_failure" not in fr


def meta_said_down_then_went_stale(node: Node) -> None:
    """Meta's page read "down" at 15:12 with its incident named, unreadable from 15:20 on."""
    vendor_store.upsert_source(
        node.engine, VendorSource("facebook", "statuspage", "https://metastatus.example"), now=T0
    )
    read = T0 + 120
    down = VendorState(
        "facebook",
        "down",
        "Major System Outage",
        (VendorIncident("Login <issues>", "investigating", "critical", "", read, ""),),
        fetched_at=read,
    )
    for state, at in ((down, read), (_stale(down), T0 + 600)):
        vendor_store.record(
            node.engine, state, now=at, etag=None, last_modified=None, failures=0, next_poll_at=at
        )


def _stale(state: VendorState) -> VendorState:
    return VendorState(
        state.service,
        state.state,
        state.description,
        state.incidents,
        fetched_at=state.fetched_at,
        stale=True,
        error="timeout",
    )


def test_a_vendor_s_acknowledgement_stands_once_its_page_goes_stale(srv: Server) -> None:
    """The page hid the vendor as soon as its page stopped answering, though fusion counted it."""
    meta_said_down_then_went_stale(srv.node)
    store(srv.node, "facebook-1709651400", group=None)
    en = page(srv, "/incidents/facebook-1709651400")
    said = section(en, '<p class="vendor">', "</p>")
    assert said.startswith(
        'What Meta said (last read <time datetime="2024-03-05T15:12:00Z" data-style="time">'
        "3:12\u202fPM UTC</time>; their page cannot be read now):"
    )
    assert "Major system outage." in said and "Login &lt;issues&gt;" in said
    assert "signals that agree: user reports, the vendor" in en
    assert "Likely cause: Meta&#39;s status page reported a major outage" in en  # past tense
    fr = page(srv, "/incidents/facebook-1709651400", "fr")
    said_fr = section(fr, '<p class="vendor">', "</p>")
    assert said_fr.startswith(
        'Ce qu’a dit Meta (dernière lecture\u00a0: <time datetime="2024-03-05T15:12'
    )
    assert "leur page ne peut pas être lue pour l’instant)\u00a0:" in said_fr
    assert "Panne majeure des systèmes." in said_fr


def test_a_stale_vendor_page_that_acknowledged_nothing_stays_unsaid(srv: Server) -> None:
    vendor_store.upsert_source(
        srv.node.engine,
        VendorSource("facebook", "statuspage", "https://metastatus.example"),
        now=T0,
    )
    up = VendorState("facebook", "up", "All Systems Operational", fetched_at=T0 - 3600)
    for state, at in ((up, T0 - 3600), (_stale(up), T0 - 1800)):
        vendor_store.record(
            srv.node.engine,
            state,
            now=at,
            etag=None,
            last_modified=None,
            failures=0,
            next_poll_at=at,
        )
    store(srv.node, "facebook-1709651400", group=None)
    en = page(srv, "/incidents/facebook-1709651400")
    assert 'class="vendor"' not in en and "What Meta said" not in en


def test_mentions_without_a_baseline_say_so_instead_of_usually_zero(srv: Server) -> None:
    node = srv.node
    mention_store.add_counts(node.engine, {("discord", T0 + 60): 9, ("discord", T0 + 120): 4})
    store(node, "discord-1709651700", service="discord", group=None)
    en = page(srv, "/incidents/discord-1709651700")
    assert "Posts mentioning an outage: up to 9 a minute (no baseline yet)." in en
    assert "usually" not in en
    fr = page(srv, "/incidents/discord-1709651700", "fr")
    assert "jusqu’à 9 par minute (pas encore de niveau de référence)." in fr
    # Once the mention detector has learned its warm-up of Discord, the usual level is one.
    warm = {"services": {"discord": {"seen": 500}}, "judged_until": T0 + 180}
    with node.engine.begin() as conn:
        mention_store.save_state(conn, MENTION_STATE_KEY, warm, NOW)
    later = page(srv, "/incidents/discord-1709651700")
    assert "Posts mentioning an outage: up to 9 a minute (usually 0.0)." in later


def test_the_service_page_shows_what_the_signals_say_while_an_incident_is_open(
    srv: Server,
) -> None:
    """Reports, probes, the vendor and mentions side by side: the incident's confidence and
    likely cause on the service page itself, as on the incident page; nothing when all is
    quiet."""
    assert 'id="ev-h"' not in page(srv, "/services/discord")
    discord_dns_down(srv.node)
    store_probe_incident(srv.node, probes=["discord-dns"])
    en = text(section(page(srv, "/services/discord"), 'id="ev-h">'))
    assert en.startswith("What the signals say")
    assert "Confidence: medium · signals that agree: checks from this server" in en
    assert "Likely cause: DNS resolution fails for discord.com from this node" in en
    assert "All the evidence of this incident" in en
    fr = text(section(page(srv, "/services/discord", "fr"), 'id="ev-h">'))
    assert fr.startswith("Ce que disent les signaux") and "Confiance" in fr
