"""Alembic, driven from code: the scripts ship inside the package, no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().with_name("migrations")


def alembic_config(connection: sa.Connection | None = None, url: sa.URL | None = None) -> Config:
    """An Alembic configuration running the store's migrations on ``connection`` (or ``url``).

    With a connection, migrations run inside its current transaction, so the caller decides
    when they commit.
    """
    config = Config()
    # Config values go through configparser interpolation: a literal "%" must be doubled.
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    if url is not None:
        config.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``connection`` to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: sa.Connection, revision: str) -> None:
    """Downgrade the database behind ``connection`` to ``revision``."""
    command.downgrade(alembic_config(connection), revision)
