"""A catalog's probes and status pages in the store, beside the admin API's, on an SQLite file
and the real PostgreSQL: imported, replaced, removed, never mixed up with an operator's."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

from panne.catalog import Catalog, CatalogError, default_catalog, parse
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.signals.vendor_status import VendorSource
from panne.store import catalog as catalog_store
from panne.store import probe_defs
from panne.store import probes as probe_store
from panne.store import vendor_status as vendor_store
from panne.store.catalog_signals import Tally
from panne.store.schema import metadata, probe_state

T0 = 1_709_650_800.0  # 2024-03-05 15:00 UTC
HOME = {"id": "acme-home", "kind": "http", "target": "https://acme.example/", "timeout_ms": 3000}
SMTP = {"id": "acme-smtp", "kind": "tcp", "target": "mx.acme.example:25"}
PAGE = {"kind": "statuspage", "url": "https://status.acme.example", "components": ["API"]}


pytestmark = pytest.mark.usefixtures("default_services")


def acme(**service: Any) -> Catalog:
    """A file of one service, Acme, with what it defines."""
    base = {"slug": "acme", "name": "Acme", "url": "https://acme.example", "aliases": ["a"]}
    return parse(
        {
            "problems": {"login": {"en": "Login"}},
            "default_problems": ["login"],
            "services": [{**base, **service}],
        }
    )


def origins(engine: Engine) -> dict[str, str]:
    return {p.spec.id: p.origin for p in probe_defs.list_probes(engine)}


def test_the_migration_adds_the_origin_columns_as_the_schema_declares(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "origin" in repr(d)] == []


def test_an_import_stores_the_probes_and_status_page_and_loads_them_back(engine: Engine) -> None:
    done = catalog_store.import_catalog(engine, acme(probes=[HOME, SMTP], status_page=PAGE), now=T0)
    assert done.services == (1, 0, 0)
    assert (done.probes, done.status_pages) == (Tally(2, 0, 0), Tally(1, 0, 0))
    assert origins(engine) == {"acme-home": "catalog", "acme-smtp": "catalog"}
    assert [s.id for s in probe_store.load_specs(engine)] == ["acme-home", "acme-smtp"]
    [row] = vendor_store.load_sources(engine)
    assert (row.source.service, row.source.url, row.origin) == ("acme", PAGE["url"], "catalog")
    assert row.next_poll_at == T0  # polled at once
    loaded = catalog_store.load(engine).services["acme"]
    assert [p.id for p in loaded.probes] == ["acme-home", "acme-smtp"]
    assert loaded.status_page == row.source
    assert not catalog_store.load(engine).services["facebook"].probes
    # The same file again: nothing changes, not even the stamp running nodes watch.
    stamp = catalog_store.version(engine)
    again = catalog_store.import_catalog(
        engine, acme(probes=[HOME, SMTP], status_page=PAGE), now=T0 + 60
    )
    assert (again.probes, again.status_pages) == (Tally(), Tally())
    assert catalog_store.version(engine) == stamp
    assert probe_defs.get_probe(engine, "acme-home").updated_at == T0  # type: ignore[union-attr]


def test_a_probe_changed_or_left_out_of_the_file_is_replaced_or_removed(engine: Engine) -> None:
    catalog_store.import_catalog(engine, acme(probes=[HOME, SMTP], status_page=PAGE), now=T0)
    probe_store.ProbeRecorder(engine)([ProbeResult("acme-smtp", T0 + 1, True, 3.0)])
    assert probe_defs.set_paused(engine, "acme-home", True, now=T0)
    stamp = catalog_store.version(engine)

    slower = {**HOME, "interval_seconds": 300}
    done = catalog_store.import_catalog(engine, acme(probes=[slower]), now=T0 + 60)
    assert (done.probes, done.status_pages) == (Tally(0, 1, 1), Tally(0, 0, 1))
    assert catalog_store.version(engine) != stamp
    [home] = probe_defs.list_probes(engine)
    assert (home.spec.interval_seconds, home.paused, home.origin) == (300, True, "catalog")
    with engine.connect() as conn:  # the removed probe's state goes with it
        assert conn.execute(select(probe_state.c.probe_id)).scalars().all() == []
    assert probe_defs.last_result(engine, "acme-smtp") is not None  # results stay, as ever
    assert vendor_store.load_sources(engine) == []
    assert catalog_store.load(engine).services["acme"].status_page is None


def test_services_the_file_does_not_list_keep_their_probes(engine: Engine) -> None:
    catalog_store.import_catalog(engine, acme(probes=[HOME], status_page=PAGE), now=T0)
    other = parse(
        {
            "problems": {"login": {"en": "Login"}},
            "default_problems": ["login"],
            "services": [
                {"slug": "zeta", "name": "Zeta", "url": "https://zeta.example", "aliases": []}
            ],
        }
    )
    done = catalog_store.import_catalog(engine, other, now=T0 + 60)
    assert (done.probes, done.status_pages) == (Tally(), Tally())
    assert origins(engine) == {"acme-home": "catalog"}
    assert len(vendor_store.load_sources(engine)) == 1


def test_definitions_made_through_the_admin_api_are_never_touched(engine: Engine) -> None:
    mine = ProbeSpec(id="fb-home", service="facebook", kind="http", target="https://fb.example/")
    probe_store.upsert_specs(engine, [mine], now=T0)  # what the admin API stores
    own_page = VendorSource("acme", "feed", "https://acme.example/feed.xml")
    catalog_store.merge(engine, acme())
    vendor_store.upsert_source(engine, own_page, now=T0)
    assert origins(engine) == {"fb-home": "admin"}

    # A file listing those services without probes or status page leaves them alone.
    fb = default_catalog()
    done = catalog_store.import_catalog(engine, fb, now=T0 + 60)
    assert (done.probes, done.status_pages) == (Tally(), Tally())
    catalog_store.import_catalog(engine, acme(), now=T0 + 60)
    assert origins(engine) == {"fb-home": "admin"}
    assert [r.origin for r in vendor_store.load_sources(engine)] == ["admin"]
    assert not catalog_store.load(engine).services["facebook"].probes  # not the catalog's

    # A file that would replace them is refused whole: not even its new service is added.
    stamp = catalog_store.version(engine)
    clash = {**HOME, "id": "fb-home"}
    newco = {"slug": "newco", "name": "NewCo", "url": "https://new.example", "aliases": []}
    base = acme().to_dict()
    new = parse({**base, "services": [newco, {**base["services"][0], "probes": [clash]}]})
    with pytest.raises(CatalogError) as err:
        catalog_store.import_catalog(engine, new, now=T0 + 120)
    assert str(err.value).startswith(
        "services[1] (acme): probe 'fb-home': id: taken by a probe of 'facebook' defined"
        " through the admin API"
    )
    with pytest.raises(CatalogError, match=r"services\[0\] \(acme\): status_page: the vendor"):
        catalog_store.import_catalog(engine, acme(status_page=PAGE), now=T0 + 120)
    assert "newco" not in catalog_store.load(engine).services
    assert catalog_store.version(engine) == stamp
    assert probe_defs.get_probe(engine, "fb-home").spec == mine  # type: ignore[union-attr]
    [row] = vendor_store.load_sources(engine)
    assert (row.source, row.origin) == (own_page, "admin")


def test_merge_without_a_time_refuses_a_catalog_that_needs_one(engine: Engine) -> None:
    with pytest.raises(ValueError, match="needs now"):
        catalog_store.merge(engine, acme(probes=[HOME]))
    assert catalog_store.merge(engine, acme(probes=[HOME]), now=T0) == (1, 0, 0)
