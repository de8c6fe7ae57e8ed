"""Known readers' lists computed in the background, before they ask (Gorse's offline lists).

When a trained model is loaded, or the papers of a current day change, every reader the model
knows (and may still rank personally, ``keys.is_personal``) gets their plain first-request
list (no rules, no diversity, view ``""``) computed and cached under exactly the key
``RankingService.rank`` computes, so that their first ``RankPapers`` is a hit with the list a
miss would have built (``batch`` builds both: same reader loading, same scores, same rules).

The current days are the latest ``days`` listing days in the store (days with papers), not the
calendar's today: arXiv lists nothing on weekends and holidays, and a feed ingested late still
names its own day, so the newest listing day is the one readers and the digest ask for.

A pass goes over the readers in blocks (at most ``block`` readers, fewer on a big day so a
block stays within :data:`CELLS_PER_BLOCK` scores, and adapted to take about
``block_seconds``). Each block is one worker-thread hop (bulk reads, one scoring product, each
reader's list) followed by a return to the event loop, so live requests keep being served. One
pass runs at a time; a new model or new papers restart it after the current block.

Races: a block's revisions are read before it is built and again after; a list whose reader's
revisions changed in between (a new interaction, an erasure) or whose day changed is dropped.
After the lists are cached the revisions are read once more, and every reader erased by then
has all their cached lists removed. With ``DeleteUser`` (cache cleared, store erased, the
revision board told, cache cleared again), a list cached before its final clearing is removed
by it, and a list cached after it is removed here, since this last read then sees the erasure.
The remaining window needs the revision board to say an erasure only after ``DeleteUser``'s
last clearing, or a cache outage that makes either removal fail; such a list is keyed by the
reader's old revision and PERSONAL, which ``rank`` no longer computes for them: never served.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from papersift.core.bundle import ModelBundle
from papersift.core.errors import NotFound
from papersift.core.store import Revisions, Store
from papersift.core.types import RankedList, UserId
from papersift.server import metrics
from papersift.server.batch import RevisionsOf, Wanted, build_block, cache_lists
from papersift.server.cache import CacheKey, CacheUnavailable, RankCache
from papersift.server.content import is_content_model
from papersift.server.day import DayItems, DayPapers
from papersift.server.keys import is_personal, list_key
from papersift.server.lists import ListBuilder
from papersift.server.queries import RankQuery

logger = logging.getLogger(__name__)

CELLS_PER_BLOCK = 2_000_000
"""Most readers x papers scored in one block: a few float64 arrays of this size at a time."""

_MIN_BLOCK = 32
"""Fewest readers a block shrinks to: below it, the per-block reads cost more than the lists."""


@dataclass(frozen=True)
class PrecomputeSettings:
    """How the background pass runs."""

    block: int = 256
    """Most readers per block."""
    days: int = 1
    """How many of the latest listing days are current."""
    block_seconds: float = 0.25
    """Time a block should take; the block size adapts to it."""
    poll_interval: float = 1.0
    """Seconds between checks for a new model or new papers of a current day."""


@dataclass(frozen=True)
class _Target:
    """What a pass computes: one model's lists for the current days at their papers revisions.

    Two targets are equal when their model versions and days are (a bundle is not compared
    array by array)."""

    model: ModelBundle = field(compare=False)
    version: str
    days: tuple[tuple[dt.date, int], ...]


class Precomputer:
    """Runs the background passes; :meth:`run` until cancelled."""

    def __init__(
        self,
        store: Store,
        cache: RankCache,
        lists: ListBuilder,
        model: Callable[[], ModelBundle | None],
        revisions_of: RevisionsOf,
        settings: PrecomputeSettings = PrecomputeSettings(),
    ) -> None:
        """Rank with ``model()`` (the trained model now loaded), read revisions with
        ``revisions_of`` and build lists with ``lists`` (shared with the live path, so a day is
        prepared once for both)."""
        self._store = store
        self._cache = cache
        self._lists = lists
        self._model = model
        self._revisions_of = revisions_of
        self._settings = settings
        self._rows = settings.block
        self._days: tuple[int, tuple[tuple[dt.date, int], ...]] | None = None
        self.passes = 0
        """Passes that ran to the end (tests wait on it)."""
        self.busy = False
        """Whether a pass is running."""

    async def run(self) -> None:
        """Check for a new model or new papers every ``poll_interval`` seconds; on a change,
        run a pass (a change seen during a pass restarts it after the current block)."""
        done: _Target | None = None
        while True:
            try:
                target = await self._target()
                if target is not None and target != done:
                    done = target if await self._pass(target) else None
            except Exception:  # the next check tries again; live ranking is not affected
                logger.exception("background precompute failed; trying again")
                done = None
            finally:
                self.busy = False
                metrics.PRECOMPUTE_PENDING.set(0)
            await asyncio.sleep(self._settings.poll_interval)

    async def _target(self) -> _Target | None:
        """The model and current days a pass should cover now (``None``: nothing to do).

        The current days are looked up again only when some day's papers changed (the sum of
        the papers revisions, a read of the small revisions table, moved).
        """
        model = self._model()
        if model is None or is_content_model(model) or not model.scorer.user_ids:
            return None
        papers_sum, _ = await asyncio.to_thread(self._store.global_revisions)
        if self._days is None or self._days[0] != papers_sum:
            self._days = (papers_sum, await asyncio.to_thread(self._current_days))
        return _Target(model, model.version, self._days[1]) if self._days[1] else None

    def _current_days(self) -> tuple[tuple[dt.date, int], ...]:
        """The latest listing days with their papers revisions (one worker thread)."""
        days = [date for date, _ in self._store.day_counts(None, None, self._settings.days)]
        stamps = self._store.day_stamps(days)
        return tuple((date, stamps[date][0]) for date in days)

    async def _pass(self, target: _Target) -> bool:
        """Cache the lists of ``target``; ``False`` when a newer target cut it short."""
        self.busy = True
        users = [UserId(user) for user in target.model.scorer.user_ids]
        days = ", ".join(date.isoformat() for date, _ in target.days)
        logger.info(
            "precompute: %d readers of model %s for %s", len(users), target.model.version, days
        )
        began = time.perf_counter()
        cached = 0
        pending = len(users) * len(target.days)
        metrics.PRECOMPUTE_PENDING.set(pending)
        for date, papers_rev in target.days:
            try:
                day = await self._lists.papers_of_day(date, papers_rev)
            except NotFound:  # the day lost its papers meanwhile; the next check sees it
                return False
            items = await self._lists.prepared_day(target.model, date, day.papers, papers_rev)
            most = max(1, CELLS_PER_BLOCK // max(1, len(items.paper_ids)))
            start = 0
            while start < len(users):
                if await self._target() != target:
                    logger.info("precompute: restarting for a new model or new papers")
                    return False
                chunk = users[start : start + min(self._rows, most)]
                cached += await self._block(target.model, date, day, items, papers_rev, chunk)
                start += len(chunk)
                pending -= len(chunk)
                metrics.PRECOMPUTE_PENDING.set(pending)
        seconds = time.perf_counter() - began
        rate = len(users) * len(target.days) / seconds if seconds > 0 else 0.0
        logger.info(
            "precompute: cached %d lists of %d readers for %s in %.2f s (%.0f readers/s)",
            cached,
            len(users),
            days,
            seconds,
            rate,
        )
        self.passes += 1
        return True

    async def _block(
        self,
        model: ModelBundle,
        date: dt.date,
        day: DayPapers,
        items: DayItems,
        papers_rev: int,
        users: Sequence[UserId],
    ) -> int:
        """Build and cache one block's lists for ``date``; returns how many were cached."""
        before = await self._revisions_of(users, date)
        wanted = [
            Wanted(RankQuery(user, date, limit=1), personal=True)
            for user in users
            if before[user].papers == papers_rev
            and is_personal(model, user, before[user].erased_at)
        ]
        if not wanted:
            return 0
        began = time.perf_counter()
        _, built = await asyncio.to_thread(
            build_block,
            self._store,
            model,
            day,
            items,
            wanted,
            self._lists.max_list_length,
            self._lists.history_rows,
        )
        self._adapt(time.perf_counter() - began)
        after = await self._revisions_of(users, date)
        lists: dict[UserId, tuple[CacheKey, RankedList]] = {}
        for item, ranking in zip(wanted, built, strict=True):
            user = item.query.user_id
            if ranking is None or not _same(before[user], after[user]):
                continue
            key = list_key(model, item.query, after[user], None, personal=True)
            lists[user] = (key, ranking)
        await cache_lists(self._cache, list(lists.values()))
        await self._forget_erased(list(lists), date, before)
        metrics.PRECOMPUTE_LISTS.inc(len(lists))
        return len(lists)

    async def _forget_erased(
        self, users: Sequence[UserId], date: dt.date, before: Mapping[UserId, Revisions]
    ) -> None:
        """Remove every cached list of the readers erased since ``before`` (see the module)."""
        if not users:
            return
        now = await self._revisions_of(users, date)
        for user in users:
            if now[user].erased_at != before[user].erased_at:
                try:
                    await self._cache.delete_user(user)
                except CacheUnavailable as exc:  # keyed by an old revision: never served
                    logger.warning(
                        "could not remove a precomputed list of an erased reader: %s", exc
                    )

    def _adapt(self, seconds: float) -> None:
        """Grow or shrink the next block towards ``block_seconds`` (at most doubling, never
        below :data:`_MIN_BLOCK` readers or above ``block``)."""
        metrics.PRECOMPUTE_BLOCK_SECONDS.observe(seconds)
        most = self._settings.block
        scaled = self._rows * self._settings.block_seconds / max(seconds, 1e-3)
        self._rows = int(max(min(_MIN_BLOCK, most), min(most, 2 * self._rows, scaled)))


def _same(before: Revisions, after: Revisions) -> bool:
    """Whether a PERSONAL list built at ``before`` is still the reader's list at ``after``."""
    return (before.user, before.papers, before.erased_at) == (
        after.user,
        after.papers,
        after.erased_at,
    )
