"""Initial schema: papers, interactions, per-day revisions, model registry.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A migration never changes, so it spells out its types instead of importing the schema module.
_ID = sa.String(256)
_TIMESTAMP = sa.DateTime(timezone=True)
_KINDS = ("click", "save", "unsave", "dismiss", "impression")


def upgrade() -> None:
    """Create the tables."""
    _create_papers()
    _create_interactions()
    _create_day_revisions()
    _create_models()


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("models")
    op.drop_table("day_revisions")
    op.drop_index("ix_interactions_paper_id", table_name="interactions")
    op.drop_index("ix_interactions_user_id_id", table_name="interactions")
    op.drop_table("interactions")
    op.drop_index("ix_papers_date", table_name="papers")
    op.drop_table("papers")


def _create_papers() -> None:
    op.create_table(
        "papers",
        sa.Column("paper_id", _ID, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("paper_id", name="pk_papers"),
    )
    op.create_index("ix_papers_date", "papers", ["date"])


def _create_interactions() -> None:
    op.create_table(
        "interactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("paper_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.UniqueConstraint("event_id", name="uq_interactions_event_id"),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.paper_id"], name="fk_interactions_paper_id_papers"
        ),
        sa.CheckConstraint(f"kind IN {_KINDS!r}", name="ck_interactions_kind"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_interactions_user_id_id", "interactions", ["user_id", "id"])
    op.create_index("ix_interactions_paper_id", "interactions", ["paper_id"])


def _create_day_revisions() -> None:
    op.create_table(
        "day_revisions",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("papers_rev", sa.BigInteger(), nullable=False),
        sa.Column("activity_rev", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("date", name="pk_day_revisions"),
    )


def _create_models() -> None:
    op.create_table(
        "models",
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("trained_at", _TIMESTAMP, nullable=True),
        sa.Column("data_start", sa.Date(), nullable=True),
        sa.Column("data_end", sa.Date(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_models"),
    )
