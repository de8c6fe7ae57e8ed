"""Ranking functions: plain Python/numpy on ids and counts, no gRPC and no store access."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from papersift.core.types import PaperId, ScoredPaper


def rank_popular(
    candidates: Iterable[PaperId],
    popularity: Mapping[PaperId, int],
    excluded: Collection[PaperId] = (),
    max_length: int | None = None,
) -> list[ScoredPaper]:
    """Rank a day's papers by how many readers clicked or saved them.

    Ties (including every paper nobody touched yet) are broken by ``paper_id`` so the order is
    stable across calls and servers. Papers in ``excluded`` (e.g. dismissed) are dropped.
    """
    kept = [paper_id for paper_id in candidates if paper_id not in excluded]
    kept.sort(key=lambda paper_id: (-popularity.get(paper_id, 0), paper_id))
    if max_length is not None:
        kept = kept[:max_length]
    return [ScoredPaper(paper_id, float(popularity.get(paper_id, 0))) for paper_id in kept]
