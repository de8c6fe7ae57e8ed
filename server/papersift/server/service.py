"""What the API does, independent of gRPC: validated domain values in, domain values out.

The store is synchronous (SQLAlchemy); its calls run in worker threads so the event loop keeps
serving other requests while one waits on the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from papersift.core.bundle import ModelBundle
from papersift.core.errors import NotFound
from papersift.core.scoring import PreparedItems, UserHistory
from papersift.core.signals import UserSignals, user_signals
from papersift.core.store import Store
from papersift.core.types import (
    DigestDelivery,
    DigestRecordResult,
    Interaction,
    Paper,
    PaperId,
    RankedList,
    RecordResult,
    SentDigest,
    Strategy,
    UpsertResult,
    UserId,
)
from papersift.server.cache import CacheKey, CacheUnavailable, RankCache
from papersift.server.lru import Lru
from papersift.server.models import ModelHolder
from papersift.server.paging import PageToken
from papersift.server.ranking import rank_by_scores, rank_popular

logger = logging.getLogger(__name__)

NO_MODEL_MESSAGE = (
    "no model is loaded: every reader gets the POPULAR strategy "
    "(the day's most clicked or saved papers); train one with papersift-train"
)


@dataclass(frozen=True, slots=True)
class RankQuery:
    """A validated ranking request for one reader and day."""

    user_id: UserId
    date: dt.date
    limit: int
    page_token: PageToken | None = None


@dataclass(frozen=True, slots=True)
class RankedEntry:
    """A paper on a page, with its score and its 1-based rank in the whole list."""

    paper: Paper
    score: float
    rank: int


@dataclass(frozen=True, slots=True)
class RankPage:
    """One page of a reader's ranked list."""

    entries: tuple[RankedEntry, ...]
    next_page_token: str
    model_version: str
    strategy: Strategy
    cached: bool
    total: int


@dataclass(frozen=True, slots=True)
class DeleteCounts:
    """What deleting a reader erased."""

    interactions: int
    cached_lists: int
    digests: int


@dataclass(frozen=True, slots=True)
class DayItems:
    """A day's candidates (sorted by id) prepared for scoring with one model."""

    paper_ids: tuple[PaperId, ...]
    items: PreparedItems


class RankingService:
    """Writes to the store, ranks a day's papers per reader, caches whole ranked lists."""

    def __init__(
        self, store: Store, cache: RankCache, models: ModelHolder, *, max_list_length: int = 1_000
    ) -> None:
        self._store = store
        self._cache = cache
        self._models = models
        self._max_list_length = max_list_length
        self._day_papers: Lru[tuple[dt.date, int], Mapping[PaperId, Paper]] = Lru(16)
        self._day_items: Lru[tuple[str, dt.date, int], DayItems] = Lru(16)
        self._preparing: dict[tuple[str, dt.date, int], asyncio.Future[DayItems]] = {}

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        """Insert or update papers in one transaction."""
        return await asyncio.to_thread(self._store.upsert_papers, papers)

    async def record_interactions(self, interactions: Sequence[Interaction]) -> RecordResult:
        """Store interactions in one transaction; repeated event ids count as duplicates."""
        return await asyncio.to_thread(self._store.record_interactions, interactions)

    async def delete_user(self, user_id: UserId) -> DeleteCounts:
        """Erase a reader's interactions, digest records and cached lists.

        The cache is cleared before and after the store: clearing first means a cache outage
        fails the call before anything is erased (safe to retry); clearing again removes any
        list a concurrent request cached in between.
        """
        cached = await self._cache.delete_user(user_id)
        erased = await asyncio.to_thread(self._store.delete_user, user_id)
        try:
            cached += await self._cache.delete_user(user_id)
        except CacheUnavailable as exc:  # such a list is keyed by an old revision: never served
            logger.warning("could not re-check cached lists of a deleted user: %s", exc)
        return DeleteCounts(
            interactions=erased.interactions, cached_lists=cached, digests=erased.digests
        )

    async def record_digest(self, digest: DigestDelivery) -> DigestRecordResult:
        """Record a sent digest and its papers as impressions (idempotent by user and day)."""
        return await asyncio.to_thread(self._store.record_digest, digest)

    async def sent_digests(self, date: dt.date, user_ids: Sequence[UserId]) -> list[SentDigest]:
        """The digests of ``date`` already sent to any of ``user_ids``, in the order given."""
        found = await asyncio.to_thread(self._store.sent_digests, date, user_ids)
        return [found[user_id] for user_id in user_ids if user_id in found]

    @property
    def model(self) -> ModelBundle | None:
        """The model bundle ranking uses now (``None``: every reader gets ``POPULAR``)."""
        return self._models.current

    async def rank(self, query: RankQuery) -> RankPage:
        """One page of the reader's ranked list for the day."""
        model = self._models.current  # one model for the whole request, even across a reload
        revisions = await asyncio.to_thread(self._store.revisions, query.user_id, query.date)
        if revisions.papers == 0:
            raise NotFound(f"no papers are listed on {query.date.isoformat()}")
        # A PERSONAL list depends on the model, the reader and the day's papers, not on what
        # others click: leaving the day's activity out of its key keeps it cached all day.
        personal = model is not None and model.scorer.has_user(query.user_id)
        key = CacheKey(
            model_version=model.version if model else "",
            date=query.date,
            user_id=query.user_id,
            user_rev=revisions.user,
            day_rev=str(revisions.papers)
            if personal
            else f"{revisions.papers}.{revisions.activity}",
        )
        offset = 0
        ranking: RankedList | None = None
        if query.page_token is not None:
            offset = query.page_token.offset
            snapshot = _snapshot_key(query.page_token)
            # Same snapshot as the token: the page continues the list the reader saw.
            # Otherwise the list changed; continue at the offset of the current list.
            ranking = await self._cache.get(snapshot)
            if ranking is not None:
                key = snapshot
        if ranking is None:
            ranking = await self._cache.get(key)
        cached = ranking is not None
        papers = await self._papers_of_day(query.date, revisions.papers)
        if ranking is None:
            ranking = await self._rank_fresh(
                model, query.user_id, query.date, papers, revisions.papers
            )
            await self._cache.set(key, ranking)
        return self._page(ranking, papers, key, query, offset, cached)

    async def rank_many(
        self, user_ids: Sequence[UserId], date: dt.date, limit: int
    ) -> list[tuple[UserId, RankPage]]:
        """First pages for several readers, in the order given."""
        return [(user, await self.rank(RankQuery(user, date, limit))) for user in user_ids]

    async def _papers_of_day(self, date: dt.date, papers_rev: int) -> Mapping[PaperId, Paper]:
        papers = self._day_papers.get((date, papers_rev))
        if papers is None:
            listed = await asyncio.to_thread(self._store.papers_for_date, date)
            papers = {paper.paper_id: paper for paper in listed}
            self._day_papers.put((date, papers_rev), papers)
        if not papers:
            raise NotFound(f"no papers are listed on {date.isoformat()}")
        return papers

    async def _rank_fresh(
        self,
        model: ModelBundle | None,
        user_id: UserId,
        date: dt.date,
        papers: Mapping[PaperId, Paper],
        papers_rev: int,
    ) -> RankedList:
        signals = user_signals(await asyncio.to_thread(self._store.user_interactions, user_id))
        if model is not None:
            if model.scorer.has_user(user_id):
                strategy = Strategy.PERSONAL
            elif signals.has_preferences:
                strategy = Strategy.FOLD_IN
            else:
                strategy = Strategy.POPULAR
            if strategy is not Strategy.POPULAR:
                day = await self._prepared_day(model, date, papers, papers_rev)
                history = await self._history(model, signals)
                personal_id = user_id if strategy is Strategy.PERSONAL else None
                scores = await asyncio.to_thread(
                    model.scorer.score, day.items, user_id=personal_id, history=history
                )
                if scores is not None:
                    ranked = rank_by_scores(
                        day.paper_ids, scores, signals.negative, self._max_list_length
                    )
                    return RankedList(strategy, model.version, tuple(ranked))
        popularity = await asyncio.to_thread(self._store.popularity, date)
        ranked = rank_popular(papers, popularity, signals.negative, self._max_list_length)
        return RankedList(Strategy.POPULAR, model.version if model else "", tuple(ranked))

    async def _prepared_day(
        self,
        model: ModelBundle,
        date: dt.date,
        papers: Mapping[PaperId, Paper],
        papers_rev: int,
    ) -> DayItems:
        key = (model.version, date, papers_rev)
        day = self._day_items.get(key)
        if day is not None:
            return day
        # After a reload or on a new day many requests miss at once: prepare the day only once.
        pending = self._preparing.get(key)
        if pending is None:
            paper_ids = tuple(sorted(papers))

            def prepare() -> DayItems:
                features = model.featurizer.transform([papers[pid] for pid in paper_ids])
                return DayItems(paper_ids, model.scorer.prepare_items(features))

            pending = asyncio.ensure_future(asyncio.to_thread(prepare))
            self._preparing[key] = pending
            pending.add_done_callback(lambda _: self._preparing.pop(key, None))
        day = await asyncio.shield(pending)
        self._day_items.put(key, day)
        return day

    async def _history(self, model: ModelBundle, signals: UserSignals) -> UserHistory | None:
        """Feature rows of the reader's liked and dismissed papers, for fold-in."""
        if not signals.positive and not signals.negative:
            return None
        wanted = set(signals.positive) | set(signals.negative)
        found = await asyncio.to_thread(self._store.get_papers, wanted)
        liked = [pid for pid in sorted(signals.positive) if pid in found]
        disliked = [pid for pid in sorted(signals.negative) if pid in found]

        def featurize() -> UserHistory:
            return UserHistory(
                positive=model.featurizer.transform([found[pid] for pid in liked]),
                positive_weights=np.array(
                    [signals.positive[pid] for pid in liked], dtype=np.float32
                ),
                negative=model.featurizer.transform([found[pid] for pid in disliked]),
            )

        return await asyncio.to_thread(featurize)

    @staticmethod
    def _page(
        ranking: RankedList,
        papers: Mapping[PaperId, Paper],
        key: CacheKey,
        query: RankQuery,
        offset: int,
        cached: bool,
    ) -> RankPage:
        window = ranking.items[offset : offset + query.limit]
        entries = tuple(
            RankedEntry(papers[item.paper_id], item.score, offset + position + 1)
            for position, item in enumerate(window)
            # A cached list may name a paper that since moved to another day.
            if item.paper_id in papers
        )
        end = offset + len(window)
        next_token = ""
        if end < len(ranking.items):
            next_token = PageToken(
                user_id=query.user_id,
                date=query.date,
                offset=end,
                model_version=key.model_version,
                user_rev=key.user_rev,
                day_rev=key.day_rev,
            ).encode()
        return RankPage(
            entries=entries,
            next_page_token=next_token,
            model_version=ranking.model_version,
            strategy=ranking.strategy,
            cached=cached,
            total=len(ranking.items),
        )


def _snapshot_key(token: PageToken) -> CacheKey:
    return CacheKey(
        model_version=token.model_version,
        date=token.date,
        user_id=UserId(token.user_id),
        user_rev=token.user_rev,
        day_rev=token.day_rev,
    )
