"""Many readers' lists at once: bulk reader loading and one scoring product per block.

Shared by ``RankPapersBatch`` (``RankingService.rank_many``) and the background precompute
(``precompute``). Each reader ends up with exactly what the one-reader path gives
(``readers.load_reader``, then ``ListBuilder.build``): the same :class:`~readers.Reader`, the
same scores (``Scorer.score_users`` is row for row ``score_user``), then the reader's own rules
through ``lists.finish_scores``. Only readers the model scores (a user model: PERSONAL, FOLD_IN or
CONTENT) are built here; the others (POPULAR) have no scores to share.

Everything but :func:`rank_batch` is synchronous: a caller runs one block in one worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from papersift.core.bundle import ModelBundle
from papersift.core.scoring import UserHistory, UserModel
from papersift.core.signals import UserSignals
from papersift.core.store import Revisions, Store
from papersift.core.types import Paper, PaperId, RankedList, UserId
from papersift.server import metrics
from papersift.server.cache import CacheKey, RankCache
from papersift.server.content import Community
from papersift.server.day import DayItems, DayPapers
from papersift.server.explaining import Explainer
from papersift.server.feature_rows import FeatureRowCache
from papersift.server.keys import is_personal, list_key, page_of
from papersift.server.lists import ListBuilder, finish_scores, no_papers, scored_strategy, served_by
from papersift.server.queries import RankPage, RankQuery
from papersift.server.readers import Reader, ReaderParts, load_reader

RevisionsOf = Callable[[Sequence[UserId], dt.date], Awaitable[Mapping[UserId, Revisions]]]
"""Bulk revisions of readers for one day (a revision board's ``many``)."""

BLOCK = 256
"""Readers per block: what one scoring product and one worker-thread hop cover."""

SETS_AT_ONCE = 32
"""Lists written to the cache at once."""


@dataclass(frozen=True)
class Wanted:
    """One reader's list to build: the query, and whether the model's own vector ranks them."""

    query: RankQuery
    personal: bool


def load_readers(
    store: Store,
    model: ModelBundle | None,
    wanted: Sequence[Wanted],
    rows: FeatureRowCache | None = None,
) -> list[Reader]:
    """What ``readers.load_reader`` gives for each of ``wanted``, read and featurized in bulk:
    one query for the interactions, one for the touched papers, one featurizer call for every
    liked or dismissed paper of them all (only those without rows in ``rows``, which keeps
    theirs)."""
    interactions = store.interactions_of([item.query.user_id for item in wanted])
    parts = [ReaderParts.of(item.query, interactions[item.query.user_id]) for item in wanted]
    touched_all = store.get_papers(set().union(*(part.wanted for part in parts)))
    touched = [
        {pid: touched_all[pid] for pid in sorted(part.wanted) if pid in touched_all}
        for part in parts
    ]
    histories: list[UserHistory | None] = [None] * len(wanted)
    users: list[UserModel | None] = [None] * len(wanted)
    if model is not None:
        history_rows = _HistoryRows(model, parts, touched, rows)
        histories = [
            history_rows.history(part.signals, theirs)
            if part.signals.positive or part.signals.negative
            else None
            for part, theirs in zip(parts, touched, strict=True)
        ]
        users = model.scorer.user_models(
            [
                (item.query.user_id if item.personal else None, history)
                for item, history in zip(wanted, histories, strict=True)
            ]
        )
    return [
        Reader(part.signals, part.first_touch, theirs, history, user, item.personal, part.acted)
        for item, part, theirs, history, user in zip(
            wanted, parts, touched, histories, users, strict=True
        )
    ]


def scored_lists(
    model: ModelBundle,
    day: DayPapers,
    items: DayItems,
    wanted: Sequence[Wanted],
    readers: Sequence[Reader],
    max_length: int,
    *,
    block: int = 256,
) -> list[RankedList | None]:
    """Each reader's whole list, as ``ListBuilder.build`` makes it, for the readers the model
    scores (one ``score_users`` product per ``block``); ``None`` for the others."""
    scored = [index for index, reader in enumerate(readers) if reader.model is not None]
    models = [readers[index].model for index in scored]
    scores = model.scorer.score_users(
        items.items, [user for user in models if user is not None], block=block
    )
    lists: list[RankedList | None] = [None] * len(readers)
    version = served_by(model)
    for row, index in enumerate(scored):
        reader = readers[index]
        query = wanted[index].query
        finished = finish_scores(scores[row], query, reader, day, items, max_length)
        strategy = scored_strategy(model, personal=reader.personal)
        lists[index] = RankedList(strategy, version, tuple(finished))
    return lists


def build_block(
    store: Store,
    model: ModelBundle,
    day: DayPapers,
    items: DayItems,
    wanted: Sequence[Wanted],
    max_length: int,
    rows: FeatureRowCache | None = None,
) -> tuple[list[Reader], list[RankedList | None]]:
    """:func:`load_readers` then :func:`scored_lists` for one block (one worker thread)."""
    readers = load_readers(store, model, wanted, rows)
    return readers, scored_lists(model, day, items, wanted, readers, max_length, block=BLOCK)


class _HistoryRows:
    """Feature rows of every liked or dismissed paper of a block, featurized in one call.

    Featurizing is row by row (a paper's row does not depend on the others), so a reader's
    history sliced from here equals ``readers.reader_history`` of the reader alone.
    """

    def __init__(
        self,
        model: ModelBundle,
        parts: Sequence[ReaderParts],
        touched: Sequence[Mapping[PaperId, Paper]],
        rows: FeatureRowCache | None,
    ) -> None:
        papers: dict[PaperId, Paper] = {}
        for part, theirs in zip(parts, touched, strict=True):
            for paper_id in part.signals.positive.keys() | part.signals.negative:
                if paper_id in theirs:
                    papers[paper_id] = theirs[paper_id]
        ids = sorted(papers)
        self._row = {paper_id: row for row, paper_id in enumerate(ids)}
        listed = [papers[paper_id] for paper_id in ids]
        if rows is not None:
            self._features = rows.transform(model, listed)
        else:
            self._features = model.featurizer.transform(listed)

    def history(self, signals: UserSignals, touched: Mapping[PaperId, Paper]) -> UserHistory:
        """The reader's history as ``readers.reader_history`` builds it."""
        liked = [pid for pid in sorted(signals.positive) if pid in touched]
        disliked = [pid for pid in sorted(signals.negative) if pid in touched]
        return UserHistory(
            positive=self._features[[self._row[pid] for pid in liked]],
            positive_weights=np.array([signals.positive[pid] for pid in liked], dtype=np.float32),
            negative=self._features[[self._row[pid] for pid in disliked]],
        )


async def cache_lists(cache: RankCache, lists: Sequence[tuple[CacheKey, RankedList]]) -> None:
    """Cache the lists, :data:`SETS_AT_ONCE` at a time: a whole block at once could swamp
    the backend (one connection each) and time out live requests."""
    for start in range(0, len(lists), SETS_AT_ONCE):
        chunk = lists[start : start + SETS_AT_ONCE]
        await asyncio.gather(*(cache.set(key, ranking) for key, ranking in chunk))


@dataclass(frozen=True)
class BatchParts:
    """What ``RankingService`` ranks with, for :func:`rank_batch`."""

    store: Store
    cache: RankCache
    revisions_of: RevisionsOf
    lists: ListBuilder
    explainer: Explainer


async def rank_batch(
    parts: BatchParts,
    model: ModelBundle | None,
    community: Community | None,
    queries: Sequence[RankQuery],
) -> list[RankPage]:
    """First pages for several readers of one day, each what ``RankingService.rank`` gives.

    Revisions for all of them at once, then their cached lists (at once); the readers left are
    loaded and scored in blocks of :data:`BLOCK` (one worker thread and one product each), get
    their own rules and are cached. Readers the model cannot score (POPULAR) are built one by
    one with ``ListBuilder.build``, from the reader already loaded.
    """
    if not queries:
        return []
    date = queries[0].date
    if any(query.date != date for query in queries):
        raise ValueError("rank_batch ranks readers of one day")
    revisions = await parts.revisions_of([query.user_id for query in queries], date)
    papers_rev = revisions[queries[0].user_id].papers
    if papers_rev == 0:
        raise await no_papers(parts.store, date)
    wanted = [
        Wanted(query, is_personal(model, query.user_id, revisions[query.user_id].erased_at))
        for query in queries
    ]
    keys = [
        list_key(
            model, item.query, revisions[item.query.user_id], community, personal=item.personal
        )
        for item in wanted
    ]
    found = await asyncio.gather(*(parts.cache.get(key) for key in keys))
    misses = [index for index, ranking in enumerate(found) if ranking is None]
    day = await parts.lists.papers_of_day(date, papers_rev)
    readers: list[Reader | None] = [None] * len(queries)
    built: dict[int, RankedList] = {}
    if misses and model is not None:
        items = await parts.lists.prepared_day(model, date, day.papers, papers_rev)
        for start in range(0, len(misses), BLOCK):
            block = misses[start : start + BLOCK]
            loaded, lists = await asyncio.to_thread(
                build_block,
                parts.store,
                model,
                day,
                items,
                [wanted[index] for index in block],
                parts.lists.max_list_length,
                parts.lists.history_rows,
            )
            for index, reader, ranking in zip(block, loaded, lists, strict=True):
                readers[index] = reader
                if ranking is not None:
                    built[index] = ranking
                    metrics.RANKINGS.labels(strategy=ranking.strategy.value).inc()
    for index in misses:
        if index not in built:
            query, personal = wanted[index].query, wanted[index].personal
            reader = readers[index] or await load_reader(
                parts.store, model, query, personal=personal
            )
            readers[index] = reader
            built[index] = await parts.lists.build(model, query, reader, day, papers_rev, community)
    await cache_lists(parts.cache, [(keys[index], ranking) for index, ranking in built.items()])
    pages: list[RankPage] = []
    for index, query in enumerate(queries):
        cached = found[index]
        ranking = cached if cached is not None else built[index]
        page = page_of(ranking, day.papers, keys[index], query, 0, cached is not None)
        if query.explain and page.entries:
            page = await parts.explainer.explain(
                page, model, query, readers[index], day, papers_rev, community
            )
        pages.append(page)
    return pages
