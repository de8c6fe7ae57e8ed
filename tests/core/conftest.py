"""Fixtures of the core tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from papersift.core.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on a fresh database (once SQLite, once PostgreSQL)."""
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()
