"""Ranking functions: plain Python/numpy on ids, scores and papers; no gRPC, no store access.

A list is built in steps, each a function here: order the day (``rank_by_scores``, or
``popular.rank_by_community`` for readers with no signal), drop what the reader must not see
again (``without_hidden``), apply the request's filters (``admitted``), re-rank the head for
diversity (``diversified``), then move followed authors' papers to the top
(``followed_first``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import scipy.sparse as sp

from papersift.core.types import Paper, PaperId, ScoredPaper
from papersift.server.diversity import DIVERSITY_WINDOW, mmr_order
from papersift.server.rules import RankRules


def rank_by_scores(
    candidates: Sequence[PaperId],
    scores: np.ndarray,
    excluded: Collection[PaperId] = (),
    max_length: int | None = None,
) -> list[ScoredPaper]:
    """Order ``candidates`` by ``scores`` (same order), best first.

    ``candidates`` must be sorted by ``paper_id``: ties are broken by position, so by id.
    With ``max_length`` only the head it needs is sorted (see :func:`ordered_rows`).
    """
    if len(candidates) != len(scores):
        raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores")
    wanted = len(candidates) if max_length is None else max(max_length, 0)
    ranked: list[ScoredPaper] = []
    if wanted == 0:
        return ranked
    values = np.asarray(scores)
    for rows in ordered_rows(values, wanted + len(excluded)):
        if not excluded:
            rows = rows[: wanted - len(ranked)]
            ids = [candidates[index] for index in rows.tolist()]
            ranked += map(ScoredPaper, ids, values[rows].tolist())
        else:
            for index, score in zip(rows.tolist(), values[rows].tolist(), strict=True):
                paper_id = candidates[index]
                if paper_id not in excluded:
                    ranked.append(ScoredPaper(paper_id, score))
                    if len(ranked) >= wanted:
                        break
        if len(ranked) >= wanted:
            break
    return ranked


def ordered_rows(scores: np.ndarray, head: int) -> Iterator[np.ndarray]:
    """Row numbers of ``scores``, best first, ties by row: the order of a stable sort of
    ``-scores``, in one or two chunks.

    The first chunk holds at least ``head`` rows (every row scoring at least the
    ``head``-th best score, found by ``argpartition``); only if the caller asks for more is
    the rest sorted. Every row with a score at or above the cut comes before every row
    below it in the full sort too, so the chunks joined are exactly that sort. Scores that
    are not all finite are sorted in one go (NaN compares with nothing).
    """
    negated = -np.asarray(scores, dtype=np.float64)
    if head >= len(negated) or not np.isfinite(negated).all():
        yield np.argsort(negated, kind="stable")
        return
    if head < 1:
        head = 1
    cut = negated[np.argpartition(negated, head - 1)[head - 1]]
    first = np.flatnonzero(negated <= cut)
    yield first[np.argsort(negated[first], kind="stable")]
    rest = np.flatnonzero(negated > cut)
    if len(rest):
        yield rest[np.argsort(negated[rest], kind="stable")]


def without_hidden(
    ordered: Sequence[ScoredPaper],
    keys: Mapping[PaperId, frozenset[str]],
    hidden: AbstractSet[str],
) -> list[ScoredPaper]:
    """Drop papers sharing an identity key (id, arXiv id, title) with ``hidden``."""
    if not hidden:
        return list(ordered)
    return [item for item in ordered if not keys[item.paper_id] & hidden]


def admitted(
    ordered: Sequence[ScoredPaper],
    papers: Mapping[PaperId, Paper],
    texts: Mapping[PaperId, str] | None,
    rules: RankRules,
) -> list[ScoredPaper]:
    """Keep the papers that pass the category and keyword rules.

    ``texts`` (folded title and abstract by id) is needed only when there are keyword rules.
    """
    if texts is None:
        if rules.filters_text:
            raise ValueError("keyword rules need the papers' folded texts")
        texts = {}
    return [
        item
        for item in ordered
        if rules.admits(papers[item.paper_id], texts.get(item.paper_id, ""))
    ]


def diversified(
    ordered: Sequence[ScoredPaper],
    row: Mapping[PaperId, int],
    content: sp.csr_matrix,
    diversity: float,
    window: int = DIVERSITY_WINDOW,
) -> list[ScoredPaper]:
    """Re-rank the first ``window`` papers by MMR on their content rows (L2-normalised).

    Scores stay what the model gave, so with diversity they no longer fall monotonically.
    """
    if diversity == 0.0 or len(ordered) < 2:
        return list(ordered)
    head = list(ordered[:window])
    rows = content[[row[item.paper_id] for item in head]]
    similarity = np.asarray((rows @ rows.T).todense(), dtype=np.float64)
    relevance = np.array([item.score for item in head], dtype=np.float64)
    order = mmr_order(relevance, similarity, diversity)
    return [head[index] for index in order] + list(ordered[window:])


def followed_first(
    ordered: Sequence[ScoredPaper], papers: Mapping[PaperId, Paper], rules: RankRules
) -> list[ScoredPaper]:
    """Papers by followed authors first (in their order), then the rest."""
    if not rules.followed_authors:
        return list(ordered)
    followed = [item for item in ordered if rules.followed_author(papers[item.paper_id])]
    if not followed:
        return list(ordered)
    chosen = {item.paper_id for item in followed}
    return followed + [item for item in ordered if item.paper_id not in chosen]
