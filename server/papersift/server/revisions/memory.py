"""Revisions in this process's memory: right only while every write goes through this process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter, OrderedDict
from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Final, TypeVar

from papersift.core.errors import StoreUnavailable
from papersift.core.store import Revisions, Store
from papersift.core.types import UserId
from papersift.server.revisions.base import (
    DayStamp,
    UserStamp,
    revisions_of,
    revisions_of_all,
    stamps_of,
)

DEFAULT_MAX_USERS: Final = 100_000
"""Readers whose revisions are held (about 150 bytes each); the least recently ranked go first."""
DEFAULT_MAX_DAYS: Final = 400

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FillGuard:
    """Tells whether a value read from the store may still be put on the board.

    A fill takes a token before it reads; a write marks what it invalidated with a later
    number. A fill whose key was marked after its token read a value that may predate the write,
    so it must not be kept. Marks are kept only while a fill older than them is running.
    """

    def __init__(self) -> None:
        self._last = 0
        self._marks: OrderedDict[Hashable, int] = OrderedDict()  # oldest mark first
        self._running: Counter[int] = Counter()

    def begin(self) -> int:
        """A token for a fill about to read the store."""
        self._running[self._last] += 1
        return self._last

    def invalidate(self, key: Hashable) -> None:
        """Say that ``key`` changed: fills that read it before now are refused."""
        self._last += 1
        self._marks[key] = self._last
        self._marks.move_to_end(key)

    def fresh(self, key: Hashable, token: int) -> bool:
        """Whether a fill of ``key`` that began with ``token`` may keep what it read."""
        return self._marks.get(key, 0) <= token

    def end(self, token: int) -> None:
        """The fill of ``token`` is over; forget the marks no running fill needs."""
        self._running[token] -= 1
        if not self._running[token]:
            del self._running[token]
        oldest = min(self._running, default=self._last)
        while self._marks:
            key, mark = next(iter(self._marks.items()))
            if mark > oldest:
                break
            del self._marks[key]

    def __len__(self) -> int:
        return len(self._marks)


class _Bounded(OrderedDict[K, V]):
    """An insertion-ordered map that forgets its least recently used entries beyond a size."""

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        self.max_entries = max_entries

    def used(self, key: K) -> V | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def keep(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.max_entries:
            self.popitem(last=False)


class MemoryBoard:
    """Revisions held in this process, for a server with one worker and no Redis.

    A hit reads them without leaving the event loop. Writes through this process keep them
    current (:meth:`written`). A write by another process (a second worker or replica) is not
    seen: with several, configure Redis, or the server uses a :class:`StoreBoard`.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_users: int = DEFAULT_MAX_USERS,
        max_days: int = DEFAULT_MAX_DAYS,
    ) -> None:
        """Fill from ``store``; hold at most ``max_users`` readers and ``max_days`` days."""
        self._store = store
        self._users: _Bounded[UserId, UserStamp] = _Bounded(max_users)
        self._days: _Bounded[dt.date, DayStamp] = _Bounded(max_days)
        self._guard = FillGuard()

    async def get(self, user_id: UserId, date: dt.date) -> Revisions:
        """The revisions; read from the store only if this reader or day is not held yet."""
        user = self._users.used(user_id)
        day = self._days.used(date)
        if user is not None and day is not None:
            return revisions_of(user, day)
        return (await self.many([user_id], date))[user_id]

    async def many(self, user_ids: Sequence[UserId], date: dt.date) -> dict[UserId, Revisions]:
        """The revisions of several readers; the ones not held are read in one thread hop."""
        users = {user_id: self._users.used(user_id) for user_id in user_ids}
        day = self._days.used(date)
        missing = [user_id for user_id, stamp in users.items() if stamp is None]
        if missing or day is None:
            read_users, read_days = await self._fill(missing, [] if day is not None else [date])
            users.update(read_users)
            day = read_days.get(date, day)
        return revisions_of_all(users, day)

    async def written(self, users: Collection[UserId]) -> None:
        """Forget the written readers and every held day, then read them back from the store."""
        days = list(self._days)
        for user_id in users:
            self._guard.invalidate(("user", user_id))
            self._users.pop(user_id, None)
        for date in days:
            self._guard.invalidate(("day", date))
            del self._days[date]
        # What cannot be read back now is read on first use: forgotten, it cannot be stale.
        with contextlib.suppress(StoreUnavailable):
            await self._fill(list(users), days)

    async def close(self) -> None:
        """Forget everything."""
        self._users.clear()
        self._days.clear()

    async def _fill(
        self, user_ids: Collection[UserId], dates: Collection[dt.date]
    ) -> tuple[Mapping[UserId, UserStamp], Mapping[dt.date, DayStamp]]:
        """Read stamps from the store and keep the ones no write invalidated meanwhile."""
        token = self._guard.begin()
        try:
            users, days = await asyncio.to_thread(stamps_of, self._store, user_ids, dates)
            for user_id, user in users.items():
                if self._guard.fresh(("user", user_id), token):
                    self._users.keep(user_id, user)
            for date, day in days.items():
                if self._guard.fresh(("day", date), token):
                    self._days.keep(date, day)
        finally:
            self._guard.end(token)
        return users, days
