"""Ranking functions: plain Python/numpy on ids and counts, no gRPC and no store access."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

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


def rank_by_scores(
    candidates: Sequence[PaperId],
    scores: np.ndarray,
    excluded: Collection[PaperId] = (),
    max_length: int | None = None,
) -> list[ScoredPaper]:
    """Order ``candidates`` by ``scores`` (same order), best first.

    ``candidates`` must be sorted by ``paper_id``: the stable sort then breaks ties by id.
    """
    if len(candidates) != len(scores):
        raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked: list[ScoredPaper] = []
    for index in order:
        paper_id = candidates[index]
        if paper_id in excluded:
            continue
        ranked.append(ScoredPaper(paper_id, float(scores[index])))
        if max_length is not None and len(ranked) >= max_length:
            break
    return ranked
