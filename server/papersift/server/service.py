"""What the API does, independent of gRPC: validated domain values in, domain values out.

The store is synchronous (SQLAlchemy); its calls run in worker threads so the event loop keeps
serving other requests while one waits on the database. The ranking hot path reads top to
bottom in :meth:`RankingService.rank`; key and paging policy live in ``keys``, reader loading
in ``readers``, list building in ``lists`` and reasons in ``explaining``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Collection, Sequence

from papersift.core.bundle import ModelBundle
from papersift.core.store import Store
from papersift.core.types import (
    DigestDelivery,
    DigestRecordResult,
    Interaction,
    Paper,
    RecordResult,
    SentDigest,
    UpsertResult,
    UserId,
)
from papersift.server.batch import BatchParts, rank_batch
from papersift.server.cache import CacheUnavailable, RankCache
from papersift.server.content import Community, ContentState
from papersift.server.explaining import Explainer
from papersift.server.keys import is_personal, list_key, page_of, snapshot_key
from papersift.server.lists import ListBuilder, no_papers
from papersift.server.lookup import BoardLookup, ListLookup
from papersift.server.models import ModelHolder
from papersift.server.queries import (
    DaysQuery,
    DeleteCounts,
    ListedDays,
    RankedEntry,
    RankPage,
    RankQuery,
)
from papersift.server.readers import Reader
from papersift.server.revisions import RevisionBoard, StoreBoard

__all__ = [
    "NO_MODEL_CONTENT_OFF_MESSAGE",
    "NO_MODEL_MESSAGE",
    "DaysQuery",
    "DeleteCounts",
    "ListedDays",
    "RankPage",
    "RankQuery",
    "RankedEntry",
    "RankingService",
]

logger = logging.getLogger(__name__)

NO_MODEL_MESSAGE = (
    "no trained model is loaded: readers who saved or clicked papers get the CONTENT strategy "
    "(TF-IDF cosine to their papers, fitted on the papers in the store), everyone else "
    "POPULAR; train a model with papersift-train"
)
NO_MODEL_CONTENT_OFF_MESSAGE = (
    "no trained model is loaded and the content model is off (PAPERSIFT_CONTENT_MODEL=false): "
    "every reader gets the POPULAR strategy (the day's most clicked or saved papers, then the "
    "newest); train a model with papersift-train"
)


class RankingService:
    """Writes to the store, ranks a day's papers per reader, caches whole ranked lists."""

    def __init__(
        self,
        store: Store,
        cache: RankCache,
        models: ModelHolder,
        *,
        max_list_length: int = 1_000,
        content: ContentState | None = None,
        board: RevisionBoard | None = None,
        lookup: ListLookup | None = None,
        lists: ListBuilder | None = None,
    ) -> None:
        """Rank with ``models``' bundle, or before one is trained with ``content``'s.

        ``board`` holds the revisions that key the lists (default: read from the store on
        every request); ``lookup`` finds a reader's revisions and cached list together
        (default: from ``board``, then from ``cache``).
        """
        self._store = store
        self._cache = cache
        self._models = models
        self._content = content
        self._board: RevisionBoard = board if board is not None else StoreBoard(store)
        self._lookup: ListLookup = lookup if lookup is not None else BoardLookup(self._board, cache)
        # Shared with the background precompute, so a day is prepared once for both.
        self._lists = (
            lists if lists is not None else ListBuilder(store, max_list_length=max_list_length)
        )
        self._explainer = Explainer(store, self._lists)

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        """Insert or update papers in one transaction."""
        result = await asyncio.to_thread(self._store.upsert_papers, papers)
        await self._written(())
        return result

    async def record_interactions(self, interactions: Sequence[Interaction]) -> RecordResult:
        """Store interactions in one transaction; repeated event ids count as duplicates."""
        result = await asyncio.to_thread(self._store.record_interactions, interactions)
        await self._written({interaction.user_id for interaction in interactions})
        return result

    async def _written(self, users: Collection[UserId]) -> None:
        """After a write committed, before it is acknowledged: revisions and content follow."""
        await self._board.written(users)
        if self._content is not None:
            self._content.changed()

    def _ranking_model(self) -> ModelBundle | None:
        """The trained bundle if one is loaded, else the content model (if fitted yet)."""
        trained = self._models.current
        if trained is not None or self._content is None:
            return trained
        return self._content.model

    def _community(self) -> Community | None:
        return None if self._content is None else self._content.community

    async def delete_user(self, user_id: UserId) -> DeleteCounts:
        """Erase a reader's interactions, digest records and cached lists.

        The cache is cleared before and after the store: clearing first means a cache outage
        fails the call before anything is erased (safe to retry); clearing again removes any
        list a concurrent request cached in between.
        """
        cached = await self._cache.delete_user(user_id)
        erased = await asyncio.to_thread(self._store.delete_user, user_id)
        await self._written({user_id})
        try:
            cached += await self._cache.delete_user(user_id)
        except CacheUnavailable as exc:  # such a list is keyed by an old revision: never served
            logger.warning("could not re-check cached lists of a deleted user: %s", exc)
        return DeleteCounts(
            interactions=erased.interactions, cached_lists=cached, digests=erased.digests
        )

    async def record_digest(self, digest: DigestDelivery) -> DigestRecordResult:
        """Record a sent digest and its papers as impressions (idempotent by user and day)."""
        result = await asyncio.to_thread(self._store.record_digest, digest)
        await self._board.written({digest.user_id})  # its impressions are the reader's
        return result

    async def sent_digests(self, date: dt.date, user_ids: Sequence[UserId]) -> list[SentDigest]:
        """The digests of ``date`` already sent to any of ``user_ids``, in the order given."""
        found = await asyncio.to_thread(self._store.sent_digests, date, user_ids)
        return [found[user_id] for user_id in user_ids if user_id in found]

    async def list_days(self, query: DaysQuery) -> ListedDays:
        """The listing days in the query's range with their paper counts (the latest ``limit``)."""
        days = await asyncio.to_thread(
            self._store.day_counts, query.start, query.end, query.limit + 1
        )
        truncated = len(days) > query.limit
        return ListedDays(tuple(days[1:] if truncated else days), truncated)

    @property
    def content_enabled(self) -> bool:
        """Whether readers with a like get ``CONTENT`` lists while no model is trained."""
        return self._content is not None

    @property
    def content_model(self) -> ModelBundle | None:
        """The content model readers with a like are ranked with while no model is trained."""
        return None if self._content is None else self._content.model

    @property
    def model(self) -> ModelBundle | None:
        """The model bundle ranking uses now (``None``: every reader gets ``POPULAR``)."""
        return self._models.current

    async def rank(self, query: RankQuery) -> RankPage:
        """One page of the reader's ranked list for the day.

        The whole list, after rules and diversity, is cached under a key that includes a hash of
        them (``RankQuery.view``); reasons are computed for the page only, on every call.
        """
        # One model (and one community) for the whole request, even across a reload.
        model = self._ranking_model()
        community = self._community()
        offset = 0
        if query.page_token is None:
            found = await self._lookup.find(model, community, query)
            revisions, key, ranking = found.revisions, found.key, found.ranking
            personal = found.personal
        else:
            revisions = await self._board.get(query.user_id, query.date)
            personal = is_personal(model, query.user_id, revisions.erased_at)
            key = list_key(model, query, revisions, community, personal=personal)
            offset = query.page_token.offset
            snapshot = snapshot_key(query.page_token)
            # Same snapshot as the token: the page continues the list the reader saw.
            # Otherwise the list changed; continue at the offset of the current list.
            ranking = await self._cache.get(snapshot) if revisions.papers else None
            if ranking is not None:
                key = snapshot
            elif revisions.papers:
                ranking = await self._cache.get(key)
        if revisions.papers == 0:
            raise await no_papers(self._store, query.date)
        cached = ranking is not None
        day = await self._lists.papers_of_day(query.date, revisions.papers)
        reader: Reader | None = None
        if ranking is None:
            reader, ranking = await self._lists.miss(
                model, query, day, revisions.papers, community, personal=personal
            )
            await self._cache.set(key, ranking)
        page = page_of(ranking, day.papers, key, query, offset, cached)
        if query.explain and page.entries:
            page = await self._explainer.explain(
                page, model, query, reader, day, revisions.papers, community
            )
        return page

    async def rank_many(self, queries: Sequence[RankQuery]) -> list[RankPage]:
        """First pages for several readers, in the order given, each what :meth:`rank` gives.

        Cached lists (precomputed ones too) are served as they are; the readers left are scored
        together, one matrix product per block, each then with their own rules (``batch``).
        """
        model = self._ranking_model()
        community = self._community()
        parts = BatchParts(self._store, self._cache, self._board.many, self._lists, self._explainer)
        pages: dict[int, RankPage] = {}
        for date in sorted({query.date for query in queries}):
            indices = [index for index, query in enumerate(queries) if query.date == date]
            ranked = await rank_batch(parts, model, community, [queries[i] for i in indices])
            pages.update(zip(indices, ranked, strict=True))
        return [pages[index] for index in range(len(queries))]
