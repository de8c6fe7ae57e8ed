"""Revisions in Redis, beside the cached lists: one truth for every worker and replica.

Layout, under the cache's prefix and the board's current *epoch* (``{prefix}:rev:epoch``):

- ``{prefix}:rev:{epoch}:u:{digest of the user id}``: hash ``r`` (latest interaction id),
  ``e`` (erasure time in microseconds, or empty), ``g`` (generation);
- ``{prefix}:rev:{epoch}:d:{date}``: hash ``p`` (papers revision), ``a`` (activity), ``g``;
- ``{prefix}:rev:{epoch}:days``: the dates held, so that a write can invalidate every one.

A write bumps the generation of what it changed and drops the values; a fill (a value read
from the store) is kept only if the generation is still the one seen before the read, so a
read that began before a write never puts the old value back. Every hash lives at most
``ttl`` seconds after it was filled or invalidated: the bound on staleness should a worker cut
off from Redis write meanwhile. A worker that wrote while Redis was down for it starts a new
epoch when Redis is back, which drops every value held before.

The scripts name keys they build (not only ``KEYS``): fine on one Redis, not on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from papersift.core.store import Revisions, Store
from papersift.core.types import UserId
from papersift.server.cache.redis_cache import BACKEND_ERRORS, RedisCache
from papersift.server.revisions.base import (
    DayStamp,
    StoreBoard,
    UserStamp,
    revisions_of_all,
    stamps_of,
)

logger = logging.getLogger(__name__)

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

DEFAULT_TTL: Final = 60
"""Seconds a held revision lives without a write; the bound on staleness in a partition."""

_READ: Final = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ':rev:' .. epoch
local day = redis.call('HMGET', base .. ':d:' .. ARGV[2], 'p', 'a', 'g')
local reply = {epoch, day[1] or false, day[2] or false, day[3] or '0'}
for i = 3, #ARGV do
    local user = redis.call('HMGET', base .. ':u:' .. ARGV[i], 'r', 'e', 'g')
    reply[#reply + 1] = user[1] or false
    reply[#reply + 1] = user[2] or false
    reply[#reply + 1] = user[3] or '0'
end
return reply
"""

# ARGV: prefix, epoch, ttl, date, day generation, papers, activity, then per user:
# user, generation, rev, erased. A date with no papers is not held (asking costs nothing).
_FILL: Final = """
local base = ARGV[1] .. ':rev:' .. ARGV[2]
local ttl = tonumber(ARGV[3])
if ARGV[4] ~= '' and ARGV[6] ~= '0' then
    local key = base .. ':d:' .. ARGV[4]
    if (redis.call('HGET', key, 'g') or '0') == ARGV[5] then
        redis.call('HSET', key, 'p', ARGV[6], 'a', ARGV[7])
        redis.call('EXPIRE', key, ttl)
        redis.call('SADD', base .. ':days', ARGV[4])
        redis.call('EXPIRE', base .. ':days', ttl)
    end
end
for i = 8, #ARGV, 4 do
    local key = base .. ':u:' .. ARGV[i]
    if (redis.call('HGET', key, 'g') or '0') == ARGV[i + 1] then
        redis.call('HSET', key, 'r', ARGV[i + 2], 'e', ARGV[i + 3])
        redis.call('EXPIRE', key, ttl)
    end
end
return 1
"""

# KEYS[1]: the epoch key. ARGV: prefix, ttl, users... Returns the epoch, then the generation
# of every held day (date, generation) and of each user, for the fill that follows.
_INVALIDATE: Final = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ':rev:' .. epoch
local ttl = tonumber(ARGV[2])
local reply = {epoch}
local days = redis.call('SMEMBERS', base .. ':days')
reply[2] = #days
for _, date in ipairs(days) do
    local key = base .. ':d:' .. date
    reply[#reply + 1] = date
    reply[#reply + 1] = redis.call('HINCRBY', key, 'g', 1)
    redis.call('HDEL', key, 'p', 'a')
    redis.call('EXPIRE', key, ttl)
end
for i = 3, #ARGV do
    local key = base .. ':u:' .. ARGV[i]
    reply[#reply + 1] = redis.call('HINCRBY', key, 'g', 1)
    redis.call('HDEL', key, 'r', 'e')
    redis.call('EXPIRE', key, ttl)
end
return reply
"""


@dataclass(frozen=True, slots=True)
class Held:
    """What the board held for some readers of a day, with the generations a fill must see."""

    epoch: str
    day: DayStamp | None
    day_generation: str
    users: Mapping[UserId, UserStamp | None]
    user_generations: Mapping[UserId, str]


class RedisBoard:
    """Revisions in Redis; the store is read for what Redis does not hold, or while it is down."""

    def __init__(self, store: Store, cache: RedisCache, *, ttl: int = DEFAULT_TTL) -> None:
        """Share ``cache``'s connection, prefix and outage state; hold values ``ttl`` s."""
        if ttl < 1:
            raise ValueError(f"ttl must be at least one second, not {ttl}")
        self._store = store
        self._cache = cache
        self._ttl = ttl
        self._fallback = StoreBoard(store)
        self._epoch_key = f"{cache.prefix}:rev:epoch"
        client = cache.client
        self._read = client.register_script(_READ)
        self._fill_script = client.register_script(_FILL)
        self._invalidate = client.register_script(_INVALIDATE)
        # A write this worker could not announce: the values held in Redis may predate it.
        self._unannounced = False

    async def get(self, user_id: UserId, date: dt.date) -> Revisions:
        """The revisions: from Redis in one round trip when held, else read and filled."""
        return (await self.many([user_id], date))[user_id]

    async def many(self, user_ids: Sequence[UserId], date: dt.date) -> dict[UserId, Revisions]:
        """Several readers' revisions: one round trip, plus one store read for what is missing."""
        if not await self._usable():
            return await self._fallback.many(user_ids, date)
        try:
            held = await self.held(user_ids, date)
        except BACKEND_ERRORS as exc:
            self._cache.mark_down(exc)
            return await self._fallback.many(user_ids, date)
        return await self.complete(held, date)

    async def held(self, user_ids: Sequence[UserId], date: dt.date) -> Held:
        """What Redis holds for the readers and the day (raises the backend's errors)."""
        args = [self._cache.prefix, date.isoformat(), *(user_field(user) for user in user_ids)]
        async with asyncio.timeout(self._cache.deadline):
            reply = await self._read(keys=[self._epoch_key], args=args)
        return parse_held(reply, user_ids)

    async def complete(self, held: Held, date: dt.date) -> dict[UserId, Revisions]:
        """The revisions of ``held``'s readers, reading and filling whatever was missing."""
        missing = [user_id for user_id, stamp in held.users.items() if stamp is None]
        users = dict(held.users)
        day = held.day
        if missing or day is None:
            started = time.monotonic()
            read_users, read_days = await asyncio.to_thread(
                stamps_of, self._store, missing, [date] if day is None else []
            )
            users.update(read_users)
            day = read_days.get(date, day)
            # A read slower than the TTL could outlive the generation it was checked against.
            if time.monotonic() - started < self._ttl / 2:
                read_day = read_days.get(date)
                await self._fill(
                    held.epoch,
                    None if read_day is None else (date, held.day_generation, read_day),
                    {user: (held.user_generations[user], read_users[user]) for user in missing},
                )
        return revisions_of_all(users, day)

    async def written(self, users: Collection[UserId]) -> None:
        """Invalidate the written readers and every held day in Redis, then refill them."""
        if self._cache.is_down:
            self._unannounced = True
            return
        quoted = {user_field(user): user for user in users}
        try:
            async with asyncio.timeout(self._cache.deadline):
                reply = await self._invalidate(
                    keys=[self._epoch_key], args=[self._cache.prefix, self._ttl, *quoted]
                )
        except BACKEND_ERRORS as exc:
            self._unannounced = True
            self._cache.mark_down(exc)
            return
        epoch, generations = _decode(reply[0]), [_decode(value) for value in reply[1:]]
        day_count = int(generations[0])
        days = {
            dt.date.fromisoformat(generations[1 + 2 * i]): generations[2 + 2 * i]
            for i in range(day_count)
        }
        user_generations = dict(zip(users, generations[1 + 2 * day_count :], strict=True))
        read_users, read_days = await asyncio.to_thread(stamps_of, self._store, users, days)
        fills = [(date, generation, read_days[date]) for date, generation in days.items()]
        stamps = {user: (user_generations[user], read_users[user]) for user in users}
        for index, day in enumerate(fills or [None]):
            await self._fill(epoch, day, stamps if index == 0 else {})

    @property
    def needs_new_epoch(self) -> bool:
        """Whether this worker wrote while Redis was down for it (values held may be stale)."""
        return self._unannounced

    async def close(self) -> None:
        """Nothing of its own to release: the cache owns the connection."""

    async def _usable(self) -> bool:
        """Whether Redis may be trusted now; starts a new epoch after an unannounced write."""
        if self._cache.is_down:
            return False
        if not self._unannounced:
            return True
        try:
            async with asyncio.timeout(self._cache.deadline):
                epoch = await self._cache.client.incr(self._epoch_key)
        except BACKEND_ERRORS as exc:
            self._cache.mark_down(exc)
            return False
        self._unannounced = False
        logger.info("revisions in Redis start epoch %s after writes made while it was down", epoch)
        return True

    async def _fill(
        self,
        epoch: str,
        day: tuple[dt.date, str, DayStamp] | None,
        users: Mapping[UserId, tuple[str, UserStamp]],
    ) -> None:
        """Put stamps read from the store in Redis, each only if its generation is unchanged."""
        args: list[str | int] = [self._cache.prefix, epoch, self._ttl]
        if day is not None:
            date, generation, (papers, activity) = day
            args += [date.isoformat(), generation, papers, activity]
        else:
            args += ["", "", "0", "0"]
        for user_id, (generation, (rev, erased_at)) in users.items():
            args += [user_field(user_id), generation, rev, micros(erased_at)]
        try:
            async with asyncio.timeout(self._cache.deadline):
                await self._fill_script(args=args)
        except BACKEND_ERRORS as exc:  # not held: read from the store next time
            self._cache.mark_down(exc)


def user_field(user_id: UserId) -> str:
    """The name a reader's revisions go by in Redis: a digest, so no id is left after erasure."""
    return hashlib.blake2b(user_id.encode(), digest_size=16).hexdigest()


def parse_held(reply: Sequence[object], user_ids: Sequence[UserId]) -> Held:
    """A :data:`_READ` reply as a :class:`Held`."""
    epoch = _decode(reply[0])
    day: DayStamp | None = None
    if reply[1] is not None and reply[2] is not None:
        day = (int(_decode(reply[1])), int(_decode(reply[2])))
    users: dict[UserId, UserStamp | None] = {}
    generations: dict[UserId, str] = {}
    for index, user_id in enumerate(user_ids):
        rev, erased, generation = reply[4 + 3 * index : 7 + 3 * index]
        generations[user_id] = _decode(generation)
        users[user_id] = None if rev is None else (int(_decode(rev)), _frommicros(erased))
    return Held(epoch, day, _decode(reply[3]), users, generations)


def _decode(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def micros(moment: dt.datetime | None) -> str:
    """An erasure time as whole microseconds since the epoch, or ``""`` for none."""
    if moment is None:
        return ""
    return str((moment - _EPOCH) // dt.timedelta(microseconds=1))


def _frommicros(value: object) -> dt.datetime | None:
    text = "" if value is None else _decode(value)
    if not text:
        return None
    return _EPOCH + dt.timedelta(microseconds=int(text))
