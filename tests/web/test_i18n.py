"""Languages: negotiation, the French catalog complete for every message the pages use,
formatting by locale."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from panne.web import i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "panne" / "web" / "locale"


@pytest.mark.parametrize(
    ("cookie", "header", "lang"),
    [
        (None, None, "en"),
        (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, "de-DE,fr;q=0.5", "fr"),
        (None, "de-DE,es;q=0.5", "en"),
        (None, "en-US;q=0.3,fr-CA;q=0.7", "fr"),
        (None, "fr;q=0", "en"),
        (None, "fr;q=bad", "en"),
        (None, "FR", "fr"),  # tags are case-insensitive, and the answer is always ours
        (None, "EN", "en"),
        (None, "Fr-fr", "fr"),
        (None, "FR-CA", "fr"),
        (None, "EN-US", "en"),
        (None, "de-DE, FR;q=0.5", "fr"),
        ("en", "fr-FR", "en"),  # the switch wins over the browser
        ("xx", "fr-FR", "fr"),  # an unknown cookie is ignored
    ],
)
def test_language_negotiation(cookie: str | None, header: str | None, lang: str) -> None:
    assert i18n.choose(cookie, header) == lang


def test_every_page_message_has_a_french_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    done = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "--no-location", "-o", str(pot), "src/panne/web"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with (LOCALE / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        french = read_po(fh, locale="fr")
    translated = {
        m.id
        for m in french
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(str(w) for w in wanted - translated)
    assert not missing, f"untranslated (run pybabel update, see babel.cfg): {missing}"


def test_french_catalog_compiles_and_formats_the_french_way() -> None:
    fr = i18n.translations("fr")
    assert fr.gettext("Incidents") == "Incidents"
    assert fr.gettext("Outage map") == "Carte des pannes"
    assert fr.ngettext("%(num)s incident", "%(num)s incidents", 2) == "%(num)s incidents"
    f = i18n.Formatter("fr")
    assert f.number(12345) == "12\u202f345"
    assert f.percent(0.76) == "76\xa0%"
    assert f.share(0.003) == "<1\xa0%" and f.share(0) == "0\xa0%"  # a few reports are not none
    assert f.share(0.005) == "<1\xa0%" and f.share(0.0051) == "1\xa0%"  # 0.5 % rounds to 0
    assert f.long_date(1_709_652_300) == "5 mars 2024"
    assert "mars 2024" in f.datetime(1_709_652_300)
    assert i18n.Formatter("en").duration(3900) == "1 hour 5 minutes"
    assert i18n.Formatter("fr").duration(3900).replace("\xa0", " ") == "1 heure 5 minutes"


def test_french_punctuation_keeps_its_space_on_the_line() -> None:
    """A space before « : ? ! ; » that may break leaves the sign alone at the start of a line
    on a phone ("Qu'est-ce qui ne fonctionne pas / ?"): no-break spaces, as French typography
    wants (narrow before ? ! ; and inside « », full before :)."""
    po = resources.files("panne.web").joinpath("locale/fr/LC_MESSAGES/messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    texts = [
        text
        for message in catalog
        if message.id
        for text in (message.string if isinstance(message.string, tuple) else (message.string,))
    ]
    assert texts
    breakable = [t for t in texts if re.search(r" [?!;:»]|« ", t)]
    assert breakable == []
