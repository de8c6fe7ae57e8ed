"""Tables of the store, as SQLAlchemy Core metadata.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from papersift.core.types import InteractionKind

__all__ = [
    "UtcDateTime",
    "day_revisions",
    "interactions",
    "metadata",
    "models",
    "papers",
]

# Column sizes; the migrations repeat them as literals because a migration must never change.
ID_LENGTH = 256
KIND_LENGTH = 16
SOURCE_LENGTH = 64
VERSION_LENGTH = 128
MESSAGE_ID_LENGTH = 998  # the longest line RFC 5322 allows

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp kept in UTC and always read back time-zone aware (UTC).

    SQLite has no time zone type and SQLAlchemy's SQLite ``DateTime`` drops the offset silently,
    so the value is converted to UTC before it is stored and marked UTC when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        """Convert an aware datetime to UTC (naive UTC for SQLite); refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the store keeps aware timestamps only")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        """Return the stored instant as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


papers = sa.Table(
    "papers",
    metadata,
    sa.Column("paper_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("source", sa.String(SOURCE_LENGTH), nullable=False),
    sa.Column("date", sa.Date, nullable=False, index=True),
    # ``titles.title_key`` of the title (None for titles too short to identify a paper).
    sa.Column("title_key", sa.Text, nullable=True, index=True),
)

interactions = sa.Table(
    "interactions",
    metadata,
    # AUTOINCREMENT (SQLite) and an identity (PostgreSQL) never hand out an id twice, not even
    # after the rows holding the largest ids are deleted: the user revision relies on that.
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(),
        primary_key=True,
    ),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=False, unique=True),
    sa.Column("user_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column(
        "paper_id",
        sa.String(ID_LENGTH),
        sa.ForeignKey(papers.c.paper_id),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(KIND_LENGTH), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(
        sa.column("kind").in_([kind.value for kind in InteractionKind]), name="kind"
    ),
    sa.Index(None, "user_id", "id"),
    sqlite_autoincrement=True,
)

day_revisions = sa.Table(
    "day_revisions",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("papers_rev", sa.BigInteger, nullable=False),
    sa.Column("activity_rev", sa.BigInteger, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("version", sa.String(VERSION_LENGTH), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("trained_at", UtcDateTime(), nullable=True),
    sa.Column("data_start", sa.Date, nullable=True),
    sa.Column("data_end", sa.Date, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
)

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("user_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("sent_at", UtcDateTime(), nullable=False),
    sa.Column("paper_count", sa.Integer, nullable=False),
    sa.Column("message_id", sa.String(MESSAGE_ID_LENGTH), nullable=False),
)

erased_users = sa.Table(
    "erased_users",
    metadata,
    # SHA-256 of the user id, never the id itself: enough to stop a model trained before the
    # erasure from serving the reader, and nothing more.
    sa.Column("user_hash", sa.String(64), primary_key=True),
    sa.Column("erased_at", UtcDateTime(), nullable=False),
)
