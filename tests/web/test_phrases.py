"""English written by the probes and the vendor poller, read back as translatable phrases."""

from __future__ import annotations

import pytest

from panne.web.phrases import Phrase, probe_detail, vendor_line

STATUS = Phrase("status", {"status": "503", "lo": "200", "hi": "399"})


@pytest.mark.parametrize(
    ("detail", "phrase"),
    [
        ("status 503, expected 200-399", STATUS),
        ("no answer within 5000 ms", Phrase("no_answer", {"ms": "5000"})),
        ("'Welcome' not in the body", Phrase("keyword_missing", {"keyword": "Welcome"})),
        ("certificate expires in 3.5 days", Phrase("cert_expires", {"days": "3.5"})),
        ("NXDOMAIN: the name does not exist", Phrase("nxdomain")),
        ("connection refused", Phrase("refused")),
        ("OSError: no route", Phrase("text", {"text": "OSError: no route"})),
    ],
)  # fmt: skip
def test_probe_details_of_known_shape_become_phrases(detail: str, phrase: Phrase) -> None:
    assert probe_detail(detail) == phrase


@pytest.mark.parametrize(
    ("state", "description", "phrase"),
    [
        ("unknown", "The vendor's page has not been read yet", Phrase("never_read")),
        ("up", "Operational", Phrase("operational")),
        ("warn", "Warn: API, Git", Phrase("components", {"names": "API, Git"})),
        ("down", "Down: Canvas - — Catalog", Phrase("components", {"names": "Canvas - — Catalog"})),
        ("maintenance", "Maintenance in progress", Phrase("maintenance")),
        ("up", "No open incident in the feed", Phrase("no_incident")),
        ("warn", "2 open incidents: Login", Phrase("feed_open", {"num": "2", "title": "Login"})),
        ("warn", "Partial System Outage", Phrase("statuspage", {"text": "Partial System Outage"})),
        ("warn", "minor", Phrase("state_only")),
        ("warn", "Our own words", Phrase("text", {"text": "Our own words"})),
    ],
)  # fmt: skip
def test_vendor_descriptions_become_phrases(state: str, description: str, phrase: Phrase) -> None:
    assert vendor_line(state, description) == phrase
