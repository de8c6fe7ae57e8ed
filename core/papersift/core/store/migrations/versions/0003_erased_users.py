"""Erased users: a hash of each deleted reader's id, until no served model predates the erasure.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the erased_users table."""
    op.create_table(
        "erased_users",
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_hash", name="pk_erased_users"),
    )


def downgrade() -> None:
    """Drop the erased_users table."""
    op.drop_table("erased_users")
