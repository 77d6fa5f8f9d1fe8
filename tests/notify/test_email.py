"""Apprise channels: e-mail through ``mailto://`` to a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from tests.conftest import free_port
from tests.notify.conftest import add_event, subscribe
from tests.web.incident_rows import T0, store

from panne.clock import ManualClock
from panne.node import Node
from panne.store import notifications as notify_store


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_french_subscriber_gets_french_mail_on_open_and_on_resolve(
    notify_node: Node, smtp: tuple[Mailbox, int], clock: ManualClock
) -> None:
    box, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=panne@example.org&to=ops@example.fr&mode=insecure"
    sub = subscribe(notify_node, url, channel="apprise", language="fr")
    store(notify_node, "facebook-1", severity="critical")
    assert notify_node.notify_once().delivered == 1

    [opened] = box.messages
    assert opened["Subject"] == "[panne] Facebook rencontre des problèmes"
    assert opened["To"] == "ops@example.fr"
    body = text_of(opened)
    assert "panne constate un afflux de signalements de problèmes pour Facebook" in body
    assert "environ 120 par minute au plus fort, 8,0 fois l'habituel" in body
    assert "La plupart viennent de États-Unis, Royaume-Uni et Tunisie." in body
    assert "Depuis 15 h 10 UTC le 5 mars 2024." in body
    assert "Gravité : critique." in body
    assert "Détails : http://127.0.0.1:8080/incidents/facebook-1" in body

    add_event(notify_node, "facebook-1", "resolved", T0 + 2400)
    clock.set(T0 + 2400)
    notify_node.notify_once()
    resolved = box.messages[-1]
    assert resolved["Subject"] == "[panne] Facebook fonctionne de nouveau normalement"
    assert "Fin à 15 h 35 UTC le 5 mars 2024, après 25 min." in text_of(resolved)
    rows = notify_store.deliveries_list(notify_node.engine, sub.id)
    assert [r.outcome for r in rows] == ["delivered", "delivered"]


def test_an_unreachable_mail_server_is_retried_not_disabled(notify_node: Node) -> None:
    url = f"mailto://127.0.0.1:{free_port()}?from=panne@example.org&to=ops@example.fr&mode=insecure"
    sub = subscribe(notify_node, url, channel="apprise")
    store(notify_node, "facebook-1")
    assert notify_node.notify_once().failed == 1
    [row] = notify_store.deliveries_list(notify_node.engine, sub.id)
    assert (row.outcome, row.ok) == ("failed", False)
    with notify_node.engine.connect() as conn:
        after = notify_store.get_subscription(conn, sub.id)
    assert after is not None and after.disabled_at is None
