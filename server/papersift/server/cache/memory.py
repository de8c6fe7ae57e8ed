"""The cache used when no Redis is configured: a bounded LRU in this process's memory."""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable

from papersift.core.types import RankedList, UserId
from papersift.server.cache.base import DEFAULT_MAX_ENTRIES, DEFAULT_TTL, CacheKey, CacheStats
from papersift.server.cache.packed import packed


class InProcessCache:
    """A least-recently-used cache of at most ``max_entries`` lists, each with a time to live.

    It has no backend that can fail, so ``stats.errors`` and ``stats.skipped`` stay zero.
    """

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl: dt.timedelta = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` returns seconds (monotonic); tests pass a fake one to expire entries."""
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.stats = CacheStats()
        self._max_entries = max_entries
        self._ttl = ttl.total_seconds()
        self._clock = clock
        # Least recently used first; values are (expiry time, list).
        self._entries: OrderedDict[CacheKey, tuple[float, RankedList]] = OrderedDict()
        self._by_user: dict[UserId, set[CacheKey]] = {}

    def __len__(self) -> int:
        """Number of entries held, expired ones included until looked up or evicted."""
        return len(self._entries)

    async def get(self, key: CacheKey) -> RankedList | None:
        """The cached list, or ``None`` when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            self.stats.count("misses")
            return None
        expires_at, ranking = entry
        if self._clock() >= expires_at:
            self._remove(key)
            self.stats.count("misses")
            return None
        self._entries.move_to_end(key)
        self.stats.count("hits")
        return ranking

    async def set(self, key: CacheKey, ranking: RankedList) -> None:
        """Store a list, evicting the least recently used ones beyond ``max_entries``."""
        self._entries[key] = (self._clock() + self._ttl, packed(ranking))
        self._entries.move_to_end(key)
        self._by_user.setdefault(key.user_id, set()).add(key)
        while len(self._entries) > self._max_entries:
            self._remove(next(iter(self._entries)))

    async def delete_user(self, user_id: UserId) -> int:
        """Remove every list of a reader; returns how many had not expired yet."""
        now = self._clock()
        live = 0
        for key in self._by_user.pop(user_id, set()):
            expires_at, _ = self._entries.pop(key)
            live += now < expires_at
        return live

    async def close(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self._by_user.clear()

    def _remove(self, key: CacheKey) -> None:
        del self._entries[key]
        keys = self._by_user[key.user_id]
        keys.discard(key)
        if not keys:
            del self._by_user[key.user_id]
