"""Reasons of a page's papers from the model: the features that raised each paper's score for
the reader, and the reader's liked paper closest to it, never the paper itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from papersift.core.bundle import ModelBundle
from papersift.core.scoring import UserModel, normalize_rows
from papersift.core.signals import SAVE_WEIGHT
from papersift.core.types import Paper, PaperId
from papersift.server.day import DayItems
from papersift.server.explain import Similar, personal_reasons
from papersift.server.identity import paper_keys
from papersift.server.phrases import PaperText, stop_words_of

__all__ = ["CONTRIBUTIONS", "closest_liked", "page_reasons"]

CONTRIBUTIONS = 24
"""Features asked of ``Scorer.feature_contributions`` per paper: enough that a phrase ranked
below its single words, or words left out as generic, still leave three to name."""


def closest_liked(
    similarity: np.ndarray,
    candidates: Sequence[Paper],
    liked: Sequence[Paper],
    saved: Sequence[bool],
) -> list[Similar | None]:
    """Each candidate's most similar liked paper that is not the candidate itself.

    A liked paper is the candidate itself when they share an identity key
    (``identity.paper_keys``: the id, the arXiv id without version, the normalised title), so a
    paper the reader saved is never explained by itself, under any of its listings.

    Args:
        similarity: ``(len(candidates), len(liked))`` cosines of their content rows.
        candidates: The papers to explain.
        liked: The reader's liked papers.
        saved: Per liked paper, whether the reader saved it (else they opened it).
    """
    liked_keys = [paper_keys(paper) for paper in liked]
    closest: list[Similar | None] = []
    for candidate, row in zip(candidates, similarity, strict=True):
        keys = paper_keys(candidate)
        cosines = np.where([bool(keys & other) for other in liked_keys], -np.inf, row)
        best = int(np.argmax(cosines)) if len(cosines) else -1
        if best < 0 or not np.isfinite(cosines[best]):
            closest.append(None)
            continue
        closest.append(Similar(liked[best].title, saved[best], float(cosines[best])))
    return closest


def page_reasons(
    model: ModelBundle,
    items: DayItems,
    user: UserModel,
    liked: Mapping[PaperId, float],
    touched: Mapping[PaperId, Paper],
    papers: Sequence[Paper],
    names: Sequence[str],
) -> dict[PaperId, list[str]]:
    """Reasons of each of ``papers`` (a page of the day in ``items``) for one reader.

    Args:
        model: The model that ranked the list.
        items: The day's candidates prepared for ``model``.
        user: The reader's user model.
        liked: The reader's liked papers and their weights (``UserSignals.positive``).
        touched: The reader's papers by id (those of ``liked`` among them).
        papers: The papers of the page; those not among the day's candidates get no reasons.
        names: ``model.featurizer.feature_names``.
    """
    present = [paper for paper in papers if paper.paper_id in items.row]
    rows = [items.row[paper.paper_id] for paper in present]
    contributions = model.scorer.feature_contributions(items.items, user, rows, top=CONTRIBUTIONS)
    liked_ids = sorted(paper_id for paper_id in liked if paper_id in touched)
    closest: list[Similar | None] = [None] * len(rows)
    if liked_ids and rows:
        liked_papers = [touched[paper_id] for paper_id in liked_ids]
        liked_rows = normalize_rows(model.featurizer.transform(liked_papers))
        similarity = np.asarray((items.items.content[rows] @ liked_rows.T).todense())
        saved = [liked[paper_id] >= SAVE_WEIGHT for paper_id in liked_ids]
        closest = closest_liked(similarity, present, liked_papers, saved)
    stop_words = stop_words_of(model.featurizer.config)
    return {
        paper.paper_id: personal_reasons(
            contributions[position],
            names,
            closest[position],
            paper=PaperText(paper.title, paper.abstract, stop_words),
        )
        for position, paper in enumerate(present)
    }
