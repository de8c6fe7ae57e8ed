"""A listing day's candidates, and what ranking derives from them once per day and revision."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from papersift.core.scoring import PreparedItems
from papersift.core.types import Paper, PaperId
from papersift.server.identity import paper_keys
from papersift.server.rules import paper_text


class DayPapers:
    """The papers listed on one day (one revision of it), with derived values computed lazily.

    Shared by every request for the day: the derived values are computed at most once each
    (two threads racing compute the same value; either result is kept).
    """

    def __init__(self, papers: Mapping[PaperId, Paper]) -> None:
        """Wrap the day's papers keyed by id."""
        self.papers = papers

    @functools.cached_property
    def keys(self) -> Mapping[PaperId, frozenset[str]]:
        """Each paper's identity keys (see ``identity.paper_keys``)."""
        return {paper_id: paper_keys(paper) for paper_id, paper in self.papers.items()}

    @functools.cached_property
    def by_key(self) -> Mapping[str, tuple[PaperId, ...]]:
        """The papers having each identity key (the inverse of ``keys``)."""
        found: dict[str, list[PaperId]] = {}
        for paper_id, keys in self.keys.items():
            for key in keys:
                found.setdefault(key, []).append(paper_id)
        return {key: tuple(ids) for key, ids in found.items()}

    @functools.cached_property
    def texts(self) -> Mapping[PaperId, str]:
        """Each paper's folded title and abstract, for keyword rules."""
        return {paper_id: paper_text(paper) for paper_id, paper in self.papers.items()}


@dataclass(frozen=True)
class DayItems:
    """A day's candidates (sorted by id) prepared for scoring with one model."""

    paper_ids: tuple[PaperId, ...]
    items: PreparedItems

    @functools.cached_property
    def ids(self) -> np.ndarray:
        """``paper_ids`` as a numpy array of objects, to pick many ids by row at once."""
        ids = np.empty(len(self.paper_ids), dtype=object)
        ids[:] = self.paper_ids
        return ids

    @functools.cached_property
    def row(self) -> Mapping[PaperId, int]:
        """Row of each paper in ``items``."""
        return {paper_id: index for index, paper_id in enumerate(self.paper_ids)}
