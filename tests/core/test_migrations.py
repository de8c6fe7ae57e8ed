"""The store's Alembic migrations, run from code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from papersift.core.store import Store
from papersift.core.store._engine import create_engine, parse_url
from papersift.core.store._migrations import alembic_config, downgrade, upgrade
from papersift.core.store.schema import metadata

TABLES = {
    "papers",
    "interactions",
    "day_revisions",
    "models",
    "digests",
    "erased_users",
    "alembic_version",
}


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(parse_url(database_url))
    yield engine
    engine.dispose()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_there_is_one_head() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == ["0004"]


def test_migrate_reaches_head_and_is_idempotent(database_url: str, engine: sa.Engine) -> None:
    store = Store(database_url)
    store.migrate()
    store.migrate()
    store.close()
    assert current_revision(engine) == head_revision()
    assert set(sa.inspect(engine).get_table_names()) == TABLES


def test_migrated_schema_matches_the_metadata(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        upgrade(connection)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_downgrade_to_base_and_upgrade_again(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        upgrade(connection)
    with engine.begin() as connection:
        downgrade(connection, "base")
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    with engine.begin() as connection:
        upgrade(connection)
    assert set(sa.inspect(engine).get_table_names()) == TABLES


def test_title_keys_are_filled_in_for_papers_stored_before_them(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        upgrade(connection, "0003")
        connection.execute(
            sa.text(
                "INSERT INTO papers (paper_id, title, abstract, authors, categories, url, source,"
                " date) VALUES ('arxiv:2504.00001', :long, '', '[]', '[]', '', 'arxiv',"
                " '2025-04-01'), ('arxiv:2504.00002', 'Erratum', '', '[]', '[]', '', 'arxiv',"
                " '2025-04-01')"
            ),
            {"long": "Über  Größe: L$^2$M, a Test of Things"},
        )
    with engine.begin() as connection:
        upgrade(connection)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT paper_id, title_key FROM papers")).all()
    keys: dict[str, str | None] = {paper_id: key for paper_id, key in rows}
    assert keys == {
        "arxiv:2504.00001": "uber grosse l 2 m a test of things",
        "arxiv:2504.00002": None,  # too short to identify a paper
    }


def test_migrate_works_from_any_working_directory(
    database_url: str, engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store(database_url)
    store.migrate()
    store.close()
    assert current_revision(engine) == head_revision()


def test_servers_starting_together_migrate_once(database_url: str, engine: sa.Engine) -> None:
    stores = [Store(database_url) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        for future in [pool.submit(store.migrate) for store in stores]:
            future.result()
    for store in stores:
        store.close()
    assert current_revision(engine) == head_revision()
