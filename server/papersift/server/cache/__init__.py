"""Cache of whole ranked lists: Redis when configured, an in-process LRU otherwise.

Keys carry every input of a ranking (model version, day, reader and their revisions), so entries
never need invalidation: a new model, interaction or paper simply misses. The one explicit removal
is :meth:`RankCache.delete_user`, for deleting a reader's data.

The cache must never make ranking fail: backend trouble turns ``get`` into a miss and ``set`` into
a no-op. Only ``delete_user`` raises (:class:`CacheUnavailable`), because reporting a deletion
that did not happen would be wrong.
"""

from __future__ import annotations

from papersift.server.cache.base import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_TTL,
    CacheKey,
    CacheStats,
    CacheUnavailable,
    RankCache,
)
from papersift.server.cache.memory import InProcessCache
from papersift.server.cache.redis_cache import MAX_RETRY_INTERVAL, RedisCache

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_TTL",
    "MAX_RETRY_INTERVAL",
    "CacheKey",
    "CacheStats",
    "CacheUnavailable",
    "InProcessCache",
    "RankCache",
    "RedisCache",
    "open_cache",
]


def open_cache(redis_url: str | None, *, prefix: str = "papersift") -> RankCache:
    """A :class:`RedisCache` for a Redis URL; an :class:`InProcessCache` for ``None`` or ``""``.

    Nothing is sent to Redis here: an unreachable Redis shows on first use, as a cache outage.
    """
    if not redis_url:
        return InProcessCache()
    return RedisCache(redis_url, prefix=prefix)
