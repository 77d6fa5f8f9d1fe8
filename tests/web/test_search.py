"""Search folding and matching: what the home page's box finds, with or without script."""

from __future__ import annotations

from dataclasses import replace

import pytest

from panne.catalog import default_catalog
from panne.web.search import exact, fold, matches


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Télégram", "telegram"),
        ("フェイスブック", "フェイスフック"),  # the voicing mark (U+3099 once decomposed) goes
        ("إنستغرام", "انستغرام"),  # the hamza below (U+0655) is a mark too
        ("Straße", "strasse"),
        ("  Steam ", "steam"),
    ],
)
def test_fold_drops_every_combining_mark(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_an_exact_name_wins_over_names_that_contain_it() -> None:
    catalog = default_catalog()  # numbered as the store numbers them: pages list only those
    catalog.services = {s: replace(v, id=i) for i, (s, v) in enumerate(catalog.services.items())}
    steam, teams = catalog.services["steam"], catalog.services["teams"]
    assert matches(steam, "steam") and matches(teams, "steam")  # "msteams"
    assert exact(catalog, "STEAM") is steam
    assert exact(catalog, "フェイスブック") is catalog.services["facebook"]
    assert exact(catalog, "micro") is None and exact(catalog, "") is None
