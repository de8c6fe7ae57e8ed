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
from papersift.server.diversity import DIVERSITY_WINDOW
from papersift.server.feature_rows import DEFAULT_MAX_BYTES, FeatureRowCache
from papersift.server.lru import ComputedLru, Lru
from papersift.server.popular import rank_by_community
from papersift.server.queries import RankQuery
from papersift.server.ranking import (
    admitted,
    diversified,
    followed_first,
    ordered_rows,
    rank_by_scores,
    without_hidden,
)
from papersift.server.readers import Reader, hidden_keys, load_reader_sync


class ListBuilder:
    """Builds whole lists, keeping what every request of a day shares (papers, features) and
    the feature rows of the papers readers liked (their histories)."""

    def __init__(
        self,
        store: Store,
        *,
        max_list_length: int = 1_000,
        history_cache_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """Read days and popularity from ``store``; cut lists at ``max_list_length``; keep up
        to ``history_cache_bytes`` of history feature rows."""
        self._store = store
        self._max_list_length = max_list_length
        self._day_papers: Lru[tuple[dt.date, int], DayPapers] = Lru(16)
        self._day_items: ComputedLru[tuple[str, dt.date, int], DayItems] = ComputedLru(16)
        self._community_profiles: ComputedLru[tuple[str, str], np.ndarray] = ComputedLru(4)
        self._history_rows = FeatureRowCache(history_cache_bytes)

    @property
    def max_list_length(self) -> int:
        """The longest list this builder keeps."""
        return self._max_list_length

    @property
    def history_rows(self) -> FeatureRowCache:
        """The feature rows of readers' history papers, shared by every request."""
        return self._history_rows

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

    async def miss(
        self,
        model: ModelBundle | None,
        query: RankQuery,
        day: DayPapers,
        papers_rev: int,
        community: Community | None,
        *,
        personal: bool,
    ) -> tuple[Reader, RankedList]:
        """The reader loaded and their whole list built, in one worker thread.

        What ``load_reader`` then :meth:`build` give, with one thread hand-off instead of
        several: the day's prepared items and the community's profile come from the shared
        per-day caches first (a hand-off only when one is not computed yet).
        """
        items: DayItems | None = None
        profile: np.ndarray | None = None
        if model is not None:
            items = await self.prepared_day(model, query.date, day.papers, papers_rev)
            if community is not None and not community.empty:
                profile = await self._community_profile(model, community)
        return await asyncio.to_thread(
            self.miss_sync, model, query, day, items, profile, personal=personal
        )

    def miss_sync(
        self,
        model: ModelBundle | None,
        query: RankQuery,
        day: DayPapers,
        items: DayItems | None,
        community_profile: np.ndarray | None,
        *,
        personal: bool,
    ) -> tuple[Reader, RankedList]:
        """:meth:`miss` after its cache look-ups (synchronous: it reads the store).

        ``items`` must be :meth:`prepared_day` of ``model`` (``None`` without a model);
        ``community_profile`` the community's profile in ``model``'s feature space, or
        ``None`` when nobody liked anything.
        """
        if model is not None and items is None:
            raise ValueError("items: a model scores the day's prepared items; pass them")
        reader = load_reader_sync(
            self._store, model, query, personal=personal, rows=self._history_rows
        )
        return reader, self.list_sync(model, query, reader, day, items, community_profile)

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
        items: DayItems | None = None
        profile: np.ndarray | None = None
        liked = community is not None and not community.empty
        if model is not None and (reader.model is not None or query.diversity > 0 or liked):
            items = await self.prepared_day(model, query.date, day.papers, papers_rev)
        if model is not None and community is not None and liked and reader.model is None:
            profile = await self._community_profile(model, community)
        return await asyncio.to_thread(self.list_sync, model, query, reader, day, items, profile)

    def list_sync(
        self,
        model: ModelBundle | None,
        query: RankQuery,
        reader: Reader,
        day: DayPapers,
        items: DayItems | None,
        community_profile: np.ndarray | None,
    ) -> RankedList:
        """:meth:`build` after its cache look-ups (synchronous: it may read popularity)."""
        if model is not None and items is not None and reader.model is not None:
            scores = model.scorer.score_user(items.items, reader.model)
            finished = finish_scores(scores, query, reader, day, items, self._max_list_length)
            strategy = scored_strategy(model, personal=reader.personal)
        else:
            popularity = self._store.popularity(query.date)
            similarity: np.ndarray | None = None
            if items is not None and community_profile is not None:
                similarity = np.asarray(items.items.content @ community_profile).ravel()
            paper_ids = items.paper_ids if items is not None else tuple(sorted(day.papers))
            ordered = rank_by_community(paper_ids, popularity, similarity)
            finished = finish_list(ordered, query, reader, day, items, self._max_list_length)
            strategy = Strategy.POPULAR
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
    at ``max_length`` (synchronous: run it in a worker thread). Steps with nothing to do
    are skipped."""
    hidden = hidden_keys(query, reader)
    if hidden:
        ordered = without_hidden(ordered, day.keys, hidden)
    rules = query.rules
    if rules.filters:
        ordered = admitted(ordered, day.papers, day.texts if rules.filters_text else None, rules)
    if items is not None and query.diversity > 0:
        ordered = diversified(ordered, items.row, items.items.content, query.diversity)
    if rules.followed_authors:
        ordered = followed_first(ordered, day.papers, rules)
    return ordered[:max_length]


def finish_scores(
    scores: np.ndarray,
    query: RankQuery,
    reader: Reader,
    day: DayPapers,
    items: DayItems,
    max_length: int,
) -> list[ScoredPaper]:
    """``finish_list(rank_by_scores(items.paper_ids, scores), ...)``: the same list, but
    only the head it keeps is sorted and turned into ``ScoredPaper`` values.

    The head is the ``max_length`` papers kept (at least the diversity window with
    diversity) plus the hidden papers and, with filters, as many again; when the filters
    drop more than that, the rest is sorted too (``ranking.ordered_rows``). With followed
    authors every paper is needed (theirs come first from anywhere in the list).
    """
    rules = query.rules
    if rules.followed_authors or max_length < 1:
        ordered = rank_by_scores(items.paper_ids, scores)
        return finish_list(ordered, query, reader, day, items, max_length)
    diversify = query.diversity > 0
    wanted = max(max_length, DIVERSITY_WINDOW) if diversify else max_length
    hidden = np.zeros(len(items.paper_ids), dtype=np.bool_)
    for key in hidden_keys(query, reader):
        for paper_id in day.by_key.get(key, ()):
            row = items.row.get(paper_id)
            if row is not None:
                hidden[row] = True
    n_hidden = int(hidden.sum())
    filters = rules.filters
    head = wanted + n_hidden + (wanted if filters else 0)
    texts = day.texts if rules.filters_text else {}
    values = np.asarray(scores)
    kept: list[ScoredPaper] = []
    for rows in ordered_rows(values, head):
        if n_hidden:
            rows = rows[~hidden[rows]]
        if not filters:
            rows = rows[: wanted - len(kept)]
            kept += map(ScoredPaper, items.ids[rows].tolist(), values[rows].tolist())
        else:
            for row, score in zip(rows.tolist(), values[rows].tolist(), strict=True):
                paper_id = items.paper_ids[row]
                if rules.admits(day.papers[paper_id], texts.get(paper_id, "")):
                    kept.append(ScoredPaper(paper_id, score))
                    if len(kept) >= wanted:
                        break
        if len(kept) >= wanted:
            break
    if diversify:
        kept = diversified(kept, items.row, items.items.content, query.diversity)
    return kept[:max_length]


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
