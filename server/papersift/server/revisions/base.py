"""What every revision board offers, and the one that simply asks the store."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from papersift.core.store import Revisions, Store
from papersift.core.types import UserId

UserStamp = tuple[int, dt.datetime | None]
"""A reader's part of the revisions: their latest interaction id and when they were erased."""
DayStamp = tuple[int, int]
"""A day's part: its papers revision and its activity revision."""


def revisions_of(user: UserStamp, day: DayStamp) -> Revisions:
    """The revisions of a reader's list for a day, from the two parts."""
    return Revisions(user=user[0], papers=day[0], activity=day[1], erased_at=user[1])


def revisions_of_all(
    users: Mapping[UserId, UserStamp | None], day: DayStamp | None
) -> dict[UserId, Revisions]:
    """Each reader's revisions for one day, once every stamp is known."""
    assert day is not None
    found: dict[UserId, Revisions] = {}
    for user_id, stamp in users.items():
        assert stamp is not None
        found[user_id] = revisions_of(stamp, day)
    return found


class RevisionBoard(Protocol):
    """Where ranking reads revisions and where writes say what they changed."""

    async def get(self, user_id: UserId, date: dt.date) -> Revisions:
        """The current revisions of ``user_id``'s list for ``date``."""
        ...

    async def many(self, user_ids: Sequence[UserId], date: dt.date) -> dict[UserId, Revisions]:
        """:meth:`get` for several readers of one day."""
        ...

    async def written(self, users: Collection[UserId]) -> None:
        """Say that a write changed ``users``' revisions and possibly any day's.

        Called after the write committed and before it is acknowledged.
        """
        ...

    async def close(self) -> None:
        """Release what the board holds."""
        ...


class StoreBoard:
    """Reads every revision from the store: right for any number of workers, one query a call."""

    def __init__(self, store: Store) -> None:
        """Read from ``store``."""
        self._store = store

    async def get(self, user_id: UserId, date: dt.date) -> Revisions:
        """The revisions, read from the store (one query)."""
        return await asyncio.to_thread(self._store.revisions, user_id, date)

    async def many(self, user_ids: Sequence[UserId], date: dt.date) -> dict[UserId, Revisions]:
        """The revisions of several readers, read from the store (two queries)."""
        return await asyncio.to_thread(read_many, self._store, user_ids, date)

    async def written(self, users: Collection[UserId]) -> None:
        """Nothing to do: the next read sees the write."""

    async def close(self) -> None:
        """Nothing to release."""


def read_many(store: Store, user_ids: Sequence[UserId], date: dt.date) -> dict[UserId, Revisions]:
    """Several readers' revisions for one day, straight from the store."""
    users = store.user_stamps(user_ids)
    day = store.day_stamps([date])[date]
    return {user_id: revisions_of(users[user_id], day) for user_id in user_ids}


def stamps_of(
    store: Store, user_ids: Collection[UserId], dates: Collection[dt.date]
) -> tuple[Mapping[UserId, UserStamp], Mapping[dt.date, DayStamp]]:
    """The stored stamps of some readers and days (one thread hop for both)."""
    return store.user_stamps(user_ids), store.day_stamps(dates)
