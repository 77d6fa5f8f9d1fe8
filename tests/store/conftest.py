"""The store's tests each start from a migrated database (``engine``, in tests/conftest.py);
some want the default catalog's services in it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from panne.catalog import default_catalog
from panne.store import catalog as catalog_store


@pytest.fixture
def default_services(engine: Engine) -> None:
    """The default catalog's services in that database."""
    catalog_store.merge(engine, default_catalog())
