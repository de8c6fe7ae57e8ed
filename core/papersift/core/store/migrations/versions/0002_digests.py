"""Digest deliveries: which reader was mailed which day's digest.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the digests table."""
    op.create_table(
        "digests",
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paper_count", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "date", name="pk_digests"),
    )


def downgrade() -> None:
    """Drop the digests table."""
    op.drop_table("digests")
