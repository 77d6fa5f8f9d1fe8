"""The store's tests each start from a database migrated to the newest schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from panne.catalog import default_catalog
from panne.store import catalog as catalog_store
from panne.store import migrate
from panne.store.engine import make_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A new database (SQLite, and PostgreSQL where it runs), migrated, with no services."""
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def default_services(engine: Engine) -> None:
    """The default catalog's services in that database."""
    catalog_store.merge(engine, default_catalog())
