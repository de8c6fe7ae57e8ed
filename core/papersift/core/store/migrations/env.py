"""Alembic environment of the store.

``Store.migrate()`` hands over a connection in ``config.attributes["connection"]``; a
``sqlalchemy.url`` option is used otherwise (e.g. when a developer runs ``alembic`` by hand).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from papersift.core.store._engine import create_engine, parse_url
from papersift.core.store.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: run Store(url).migrate() or set sqlalchemy.url")
    engine = create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run Store(url).migrate()")
_run_online()
