"""Simulated rows are checked against the catalog before they reach a database."""

from __future__ import annotations

import pytest

from panne.node import Node
from panne.simulate import SimReport, TrafficModel, specs_from_catalog
from panne.simulate.outages import meta_2024
from panne.simulate.rows import CatalogRows, RowError


def test_rows_of_the_catalog_pass_and_others_are_named(node: Node) -> None:
    rows = CatalogRows(node.catalog)
    ok = rows.reports([SimReport(1_709_650_800.5, "messenger", "FR", "messaging")], "simulate")
    assert ok[0].service_id == node.catalog.services["messenger"].id
    assert ok[0].occurred_ms == 1_709_650_800_500 and ok[0].source == "simulate"
    for bad, says in [
        (SimReport(0, "messenger", "FR", "website"), "'website' is not one of messenger's"),
        (SimReport(0, "myspace", "FR", "login"), "'myspace' is not in the catalog"),
        (SimReport(0, "facebook", "XQ", "login"), "'XQ' is not an ISO 3166-1"),
    ]:
        with pytest.raises(RowError, match=says):
            rows.reports([SimReport(0, "facebook", "FR", "login"), bad], "simulate")
    with pytest.raises(RowError, match="'website' is not one of messenger's"):
        rows.check_outages([o for o in meta_2024() if o.service == "messenger"])


def test_the_meta_scenario_fits_the_catalog(node: Node) -> None:
    model = TrafficModel(specs_from_catalog(node.catalog), seed=1, scale=0.2, start=0)
    outages = model.add_meta_2024()
    rows = CatalogRows(node.catalog)
    rows.check_outages(outages)
    start = outages[0].start
    assert len(rows.reports(model.reports(start + 900, start + 1200), "simulate")) > 100
