"""The ``POPULAR`` list: for readers with no signal, the day's papers by the community's taste.

A paper's score is the number of readers who clicked or saved it today, plus a fraction below 1
that orders the papers nobody touched yet: mostly their cosine to the community's profile (the
mean of the papers readers saved or clicked on any day, see ``content.Community``), and a small
share for recency (newest arXiv submission first). With nothing liked anywhere yet, recency is
all there is. So an untouched day is still ordered, never a list of equal scores in id order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from papersift.core.types import PaperId, ScoredPaper

RECENCY_SHARE = 0.05
"""Share of the fraction that goes to recency when the community has liked something."""
_ARXIV_NUMBER = re.compile(r"(\d{4})\.(\d{4,5})")


def recency(paper_ids: Sequence[PaperId]) -> np.ndarray:
    """Per paper, from 0 (oldest) to just under 1 (newest), by arXiv submission number.

    arXiv numbers grow with submission time; papers without one (e.g. from a Hugging Face page)
    count as the oldest, in id order.
    """

    def key(index: int) -> tuple[int, int, str]:
        found = _ARXIV_NUMBER.search(paper_ids[index])
        if found is None:
            return (0, 0, paper_ids[index])
        return (1, int(found.group(1)) * 100_000 + int(found.group(2)), paper_ids[index])

    order = sorted(range(len(paper_ids)), key=key)
    values = np.zeros(len(paper_ids), dtype=np.float64)
    values[order] = np.arange(len(paper_ids), dtype=np.float64) / max(len(paper_ids), 1)
    return values


def rank_by_community(
    paper_ids: Sequence[PaperId],
    readers_today: Mapping[PaperId, int],
    similarity: np.ndarray | None,
) -> list[ScoredPaper]:
    """Order a day's papers by today's readers, then community similarity, then recency.

    Args:
        paper_ids: The day's papers.
        readers_today: Readers who clicked or saved each paper today (absent: none).
        similarity: Per paper, its cosine (0 to 1) to the community's profile; ``None`` when
            nobody has liked anything yet.
    """
    ids = list(paper_ids)
    newest = recency(ids)
    if similarity is None:
        fraction = newest
    else:
        cosine = np.clip(np.asarray(similarity, dtype=np.float64), 0.0, 1.0)
        fraction = (1.0 - RECENCY_SHARE) * cosine + RECENCY_SHARE * newest
    # Kept below 1, so one more reader today always outranks any similarity.
    scores = np.array([readers_today.get(pid, 0) for pid in ids], dtype=np.float64)
    scores += 0.999 * fraction
    order = np.argsort(-scores, kind="stable")
    return [ScoredPaper(ids[index], float(scores[index])) for index in order]


def popular_reason(score: float, *, anyone_liked: bool, by_taste: bool) -> str:
    """Why a paper is on a ``POPULAR`` list, from its score (see the module docstring).

    Args:
        score: The paper's score on the list.
        anyone_liked: Whether any reader has clicked or saved any paper yet.
        by_taste: Whether the community's taste ordered the list (it needs a featurizer: a
            trained or content model).
    """
    readers = int(score)
    if readers > 0:
        return f"popular today: {readers} reader{'s' if readers != 1 else ''} clicked or saved it"
    if not anyone_liked:
        return "nobody here has clicked or saved a paper yet, so the newest come first"
    if not by_taste:
        return "newly listed; nobody has clicked or saved it yet"
    return "close to what readers here saved; nobody has clicked or saved it yet"
