"""Merging the same paper listed by several feeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from papersift.client._models import Paper

_FILLABLE = ("abstract", "authors", "categories", "url")


def _fill(kept: Paper, later: Paper) -> Paper:
    missing = {
        name: getattr(later, name)
        for name in _FILLABLE
        if not getattr(kept, name) and getattr(later, name)
    }
    return dataclasses.replace(kept, **missing) if missing else kept


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """Merge papers that share a ``paper_id``, keeping the order of first appearance.

    The first listing wins: its non-empty fields are kept (title, date and source always), and
    each of its empty ``abstract``, ``authors``, ``categories`` and ``url`` is filled from the
    first later listing that has one.

    Args:
        papers: Papers from one or several feeds.

    Returns:
        One paper per ``paper_id``.
    """
    merged: dict[str, Paper] = {}
    for paper in papers:
        kept = merged.get(paper.paper_id)
        merged[paper.paper_id] = paper if kept is None else _fill(kept, paper)
    return list(merged.values())
