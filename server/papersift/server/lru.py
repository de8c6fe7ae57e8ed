"""A small least-recently-used map for per-day data kept in process memory."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``max_entries`` values; the least recently used is dropped first.

    Keys carry revisions (e.g. ``(date, papers_rev)``), so a stale entry is never asked for
    again and simply ages out.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value under ``key``, if present."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, evicting the oldest entry when full."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class ComputedLru(Lru[K, V]):
    """An :class:`Lru` whose missing values are computed in a worker thread, once per key.

    Requests that miss the same key together (after a reload, on a new day) wait for a single
    computation instead of each running their own.
    """

    def __init__(self, max_entries: int) -> None:
        super().__init__(max_entries)
        self._pending: dict[K, asyncio.Future[V]] = {}

    async def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The value under ``key``, computed by ``compute`` (in a thread) if it is missing."""
        value = self.get(key)
        if value is not None:
            return value
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(compute))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: a caller that gives up must not cancel the others' computation.
        value = await asyncio.shield(pending)
        self.put(key, value)
        return value
