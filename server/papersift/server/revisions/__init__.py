"""The revisions that key a reader's cached list, kept current by the writes themselves.

A cache hit must not wait on the database, so the revisions it needs (the reader's, the day's)
are held where a hit can read them at once: in Redis when Redis is configured, so every worker
and replica sees one truth (:class:`RedisBoard`), in this process's memory otherwise
(:class:`MemoryBoard`, for a single worker). Every write the server makes invalidates what it
changed and reads it back from the store; whatever is missing is read from the store on first
use. :class:`StoreBoard` reads the store on every call, for several workers without Redis.

A read that began before a write and ends after it must not put the old value back: each
board refuses such a fill (see each class), so once a write is acknowledged no worker serves a
list keyed by the revisions before it.
"""

from __future__ import annotations

from papersift.server.revisions.base import RevisionBoard, StoreBoard, revisions_of
from papersift.server.revisions.memory import MemoryBoard
from papersift.server.revisions.redis_board import RedisBoard

__all__ = ["MemoryBoard", "RedisBoard", "RevisionBoard", "StoreBoard", "revisions_of"]
