"""List building: a reader's whole ranked list for a day, from the model or the community."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping

import numpy as np

from papersift.core.bundle import ModelBundle
from papersift.core.errors import NotFound
from papersift.core.store import Store
from papersift.core.types import Paper, PaperId, RankedList, ScoredPaper, Strategy
from papersift.server import metrics
from papersift.server.content import Community, is_content_model
from papersift.server.day import DayItems, DayPapers
from papersift.server.lru import ComputedLru, Lru
from papersift.server.popular import rank_by_community
from papersift.server.queries import RankQuery
from papersift.server.ranking import (
    admitted,
    diversified,
    followed_first,
    rank_by_scores,
    without_hidden,
)
from papersift.server.readers import Reader, hidden_keys


class ListBuilder:
    """Builds whole lists, keeping what every request of a day shares (papers, features)."""

    def __init__(self, store: Store, *, max_list_length: int = 1_000) -> None:
        """Read days and popularity from ``store``; cut lists at ``max_list_length``."""
        self._store = store
        self._max_list_length = max_list_length
        self._day_papers: Lru[tuple[dt.date, int], DayPapers] = Lru(16)
        self._day_items: ComputedLru[tuple[str, dt.date, int], DayItems] = ComputedLru(16)
        self._community_profiles: ComputedLru[tuple[str, str], np.ndarray] = ComputedLru(4)

    @property
    def max_list_length(self) -> int:
        """The longest list this builder keeps."""
        return self._max_list_length

    async def papers_of_day(self, date: dt.date, papers_rev: int) -> DayPapers:
        """The day's papers at revision ``papers_rev``; raises ``NotFound`` if it has none."""
        day = self._day_papers.get((date, papers_rev))
        if day is None:
            listed = await asyncio.to_thread(self._store.papers_for_date, date)
            day = DayPapers({paper.paper_id: paper for paper in listed})
            self._day_papers.put((date, papers_rev), day)
        if not day.papers:
            raise await no_papers(self._store, date)
        return day

    async def prepared_day(
        self,
        model: ModelBundle,
        date: dt.date,
        papers: Mapping[PaperId, Paper],
        papers_rev: int,
    ) -> DayItems:
        """The day's papers featurized and prepared for scoring with ``model`` (once each)."""

        def prepare() -> DayItems:
            paper_ids = tuple(sorted(papers))
            features = model.featurizer.transform([papers[pid] for pid in paper_ids])
            return DayItems(paper_ids, model.scorer.prepare_items(features))

        day = await self._day_items.get_or_compute((model.version, date, papers_rev), prepare)
        metrics.DAY_CANDIDATES.set(len(day.paper_ids))
        return day

    async def build(
        self,
        model: ModelBundle | None,
        query: RankQuery,
        reader: Reader,
        day: DayPapers,
        papers_rev: int,
        community: Community | None,
    ) -> RankedList:
        """The reader's whole list: scored by ``model`` if it has a user model for them, else
        ordered by the day's readers and the community's taste; then rules and diversity."""
        strategy = Strategy.POPULAR
        items: DayItems | None = None
        ordered: list[ScoredPaper] | None = None
        liked = community is not None and not community.empty
        if model is not None and (reader.model is not None or query.diversity > 0 or liked):
            items = await self.prepared_day(model, query.date, day.papers, papers_rev)
        if model is not None and items is not None and reader.model is not None:
            scores = await asyncio.to_thread(model.scorer.score_user, items.items, reader.model)
            ordered = rank_by_scores(items.paper_ids, scores)
            strategy = scored_strategy(model, personal=reader.personal)
        if ordered is None:
            popularity = await asyncio.to_thread(self._store.popularity, query.date)
            similarity: np.ndarray | None = None
            if model is not None and items is not None and community is not None and liked:
                profile = await self._community_profile(model, community)
                similarity = np.asarray(items.items.content @ profile).ravel()
            paper_ids = items.paper_ids if items is not None else tuple(sorted(day.papers))
            ordered = rank_by_community(paper_ids, popularity, similarity)

        finished = await asyncio.to_thread(
            finish_list, ordered, query, reader, day, items, self._max_list_length
        )
        metrics.RANKINGS.labels(strategy=strategy.value).inc()
        return RankedList(strategy, served_by(model), tuple(finished))

    async def _community_profile(self, model: ModelBundle, community: Community) -> np.ndarray:
        """The community's profile in ``model``'s feature space (dense, unit length)."""

        def compute() -> np.ndarray:
            row = community.profile(model.featurizer)
            return np.asarray(row.todense(), dtype=np.float32).ravel()

        key = (model.version, community.version)
        return await self._community_profiles.get_or_compute(key, compute)


def scored_strategy(model: ModelBundle, *, personal: bool) -> Strategy:
    """The strategy of a list scored by ``model`` for a reader it knows (or folds in)."""
    if is_content_model(model):
        return Strategy.CONTENT
    return Strategy.PERSONAL if personal else Strategy.FOLD_IN


def served_by(model: ModelBundle | None) -> str:
    """The model version a list names: a content model is not a trained model, so none."""
    return model.version if model is not None and not is_content_model(model) else ""


def finish_list(
    ordered: list[ScoredPaper],
    query: RankQuery,
    reader: Reader,
    day: DayPapers,
    items: DayItems | None,
    max_length: int,
) -> list[ScoredPaper]:
    """A scored list after the reader's hidden papers, the query's rules and diversity, cut
    at ``max_length`` (synchronous: run it in a worker thread)."""
    ordered = without_hidden(ordered, day.keys, hidden_keys(query, reader))
    rules = query.rules
    ordered = admitted(ordered, day.papers, day.texts if rules.filters_text else None, rules)
    if items is not None and query.diversity > 0:
        ordered = diversified(ordered, items.row, items.items.content, query.diversity)
    return followed_first(ordered, day.papers, rules)[:max_length]


async def no_papers(store: Store, date: dt.date) -> NotFound:
    """The error for a day without papers, naming the nearest days that have some."""
    before, after = await asyncio.to_thread(store.nearest_days, date)
    nearest = [
        f"{day.isoformat()} ({side})"
        for day, side in ((before, "before"), (after, "after"))
        if day is not None
    ]
    hint = (
        f"; nearest listed days: {' and '.join(nearest)}"
        if nearest
        else "; no day has papers yet (ingest a feed with papersift ingest)"
    )
    return NotFound(f"no papers are listed on {date.isoformat()}{hint}")
