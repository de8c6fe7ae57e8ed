"""Ranking functions: plain Python/numpy on ids, scores and papers; no gRPC, no store access.

A list is built in steps, each a function here: order the day (``rank_by_scores``, or
``popular.rank_by_community`` for readers with no signal), drop what the reader must not see
again (``without_hidden``), apply the request's filters (``admitted``), re-rank the head for
diversity (``diversified``), then move followed authors' papers to the top
(``followed_first``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
