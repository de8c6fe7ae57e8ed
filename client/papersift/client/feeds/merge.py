"""Merging the same paper listed by several feeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from papersift.client._models import Paper
from papersift.client.feeds.located import Located

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


def merge_located(papers: Iterable[Located]) -> list[Located]:
    """:func:`merge_papers` for located papers: each merged paper keeps its first location."""
    merged: dict[str, Located] = {}
    for located in papers:
        kept = merged.get(located.paper.paper_id)
        if kept is None:
            merged[located.paper.paper_id] = located
        else:
            merged[located.paper.paper_id] = Located(
                _fill(kept.paper, located.paper), kept.location
            )
    return list(merged.values())
