"""What notifications say of an incident opened on probes alone, in English and French, sent to a
real webhook receiver on loopback: failing checks, never "a surge of problem reports"."""

from __future__ import annotations

from typing import Any

from tests.notify.conftest import Receiver, subscribe
from tests.web.incident_rows import T0, store_probe_incident

from panne.clock import ManualClock
from panne.node import Node

DNS = (
    "DNS resolution fails for discord.com from this node",
    "La résolution DNS de discord.com échoue depuis ce nœud",
)


def sent(node: Node, receiver: Receiver) -> list[dict[str, Any]]:
    node.notify_once()
    return [r.json() for r in receiver.received]


def test_a_probe_incident_is_told_as_failing_checks_in_both_languages(
    notify_node: Node, receiver: Receiver
) -> None:
    subscribe(notify_node, receiver.url, services=["discord"])
    subscribe(notify_node, receiver.url + "?fr", services=["discord"], language="fr")
    store_probe_incident(notify_node, cause=DNS)
    by_language = {m["language"]: m for m in sent(notify_node, receiver)}
    en, fr = by_language["en"], by_language["fr"]
    assert en["subject"] == "[panne] Discord is having problems"
    assert en["text"] == (
        "panne's checks of Discord fail: DNS resolution fails for discord.com from this node."
        " No surge of problem reports so far. Since 15:10 UTC on 5 March 2024."
        " Severity: minor. Details: http://127.0.0.1:8080/incidents/discord-p1709651400"
    )
    assert fr["text"].startswith(
        "Les vérifications de Discord par panne échouent : la résolution DNS de discord.com"
        " échoue depuis ce nœud. Pas d'afflux de signalements de problèmes pour l'instant."
        " Depuis 15 h 10 UTC le 5 mars 2024. Gravité : mineure."
    )
    # What they said before: a surge of reports, "about 0 a minute, 0.0 times the usual".
    assert "a minute" not in en["text"] and "times the usual" not in en["text"]
    assert "par minute" not in fr["text"] and "fois l'habituel" not in fr["text"]


def test_without_a_stored_cause_it_names_the_probes_down(
    notify_node: Node, receiver: Receiver
) -> None:
    subscribe(notify_node, receiver.url, services=["discord"], language="fr")
    store_probe_incident(notify_node, probes=["discord-dns"])
    (fr,) = sent(notify_node, receiver)
    assert fr["text"].startswith(
        "Les vérifications de Discord par panne échouent : la sonde discord-dns est en échec."
    )


def test_the_end_of_a_probe_incident_says_the_checks_pass_or_reports_took_over(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    subscribe(notify_node, receiver.url, services=["discord"])
    clock.set(T0 + 1500)
    store_probe_incident(notify_node, cause=DNS, resolved_at=T0 + 1500)
    _, resolved = sent(notify_node, receiver)
    assert resolved["subject"] == "[panne] Discord is back to normal"
    assert resolved["text"].startswith("panne's checks of Discord pass again. Resolved.")

    receiver.received.clear()
    store_probe_incident(
        notify_node,
        "discord-p1709650000",
        cause=DNS,
        resolved_at=T0 + 1500,
        superseded_by="discord-1709651700",
    )
    _, handed_over = sent(notify_node, receiver)
    assert handed_over["subject"] == "[panne] Discord: problems confirmed by reports"
    assert handed_over["text"].startswith(
        "Problem reports for Discord now confirm what panne's checks saw:"
        " the incident goes on as discord-1709651700."
    )
