"""Papers' title keys, indexed: a paper known by its title finds its arXiv listing by key.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from papersift.core.titles import title_key

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1_000


def upgrade() -> None:
    """Add ``papers.title_key`` (with its index) and fill it for the stored papers.

    The keys come from ``papersift.core.titles.title_key``: a change of that function needs a
    migration of its own that recomputes the column.
    """
    op.add_column("papers", sa.Column("title_key", sa.Text, nullable=True))
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    papers = sa.table(
        "papers",
        sa.column("paper_id", sa.String),
        sa.column("title", sa.Text),
        sa.column("title_key", sa.Text),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(papers.c.paper_id, papers.c.title)).all()
    update = (
        sa.update(papers)
        .where(papers.c.paper_id == sa.bindparam("key_paper_id"))
        .values(title_key=sa.bindparam("new_title_key"))
    )
    keys = {paper_id: title_key(title) for paper_id, title in rows}
    keyed = [
        {"key_paper_id": paper_id, "new_title_key": key}
        for paper_id, key in keys.items()
        if key is not None
    ]
    for start in range(0, len(keyed), _BATCH):
        connection.execute(update, keyed[start : start + _BATCH])


def downgrade() -> None:
    """Drop ``papers.title_key`` and its index."""
    op.drop_index("ix_papers_title_key", table_name="papers")
    op.drop_column("papers", "title_key")
