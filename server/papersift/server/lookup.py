"""The hot path's one step of I/O: a reader's revisions and their cached list, together.

With the in-process cache and board, a lookup never leaves the event loop. With Redis, one
script reads the revisions, builds the list's key from them exactly as :func:`keys.list_key`
does, and reads the list: one round trip per hit. Revisions Redis does not hold cost a store
read and a second round trip; while Redis is down, revisions come from the store.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final, Protocol

from papersift.core.bundle import ModelBundle
from papersift.core.store import Revisions
from papersift.core.types import RankedList
from papersift.server.cache import CacheKey, RankCache, RedisCache
from papersift.server.cache.base import list_key_head, quote
from papersift.server.cache.redis_cache import BACKEND_ERRORS
from papersift.server.content import Community
from papersift.server.keys import is_personal, list_key
from papersift.server.queries import RankQuery
from papersift.server.revisions import RedisBoard, RevisionBoard
from papersift.server.revisions.redis_board import micros, parse_held, user_field

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """What a lookup found: the revisions, the list's key, and the list if it was cached."""

    revisions: Revisions
    personal: bool
    key: CacheKey
    ranking: RankedList | None


class ListLookup(Protocol):
    """Finds the revisions and the cached list of a query's reader."""

    async def find(
        self, model: ModelBundle | None, community: Community | None, query: RankQuery
    ) -> Found:
        """The revisions, key and cached list (``None`` on a miss) of ``query``'s plain list."""
        ...


class BoardLookup:
    """Revisions from a board, then the list from a cache: two steps, in memory no waiting."""

    def __init__(self, board: RevisionBoard, cache: RankCache) -> None:
        """Read revisions on ``board`` and lists in ``cache``."""
        self._board = board
        self._cache = cache

    async def find(
        self, model: ModelBundle | None, community: Community | None, query: RankQuery
    ) -> Found:
        """Revisions first, then the list under the key they give."""
        revisions = await self._board.get(query.user_id, query.date)
        return await found_with(self._cache, model, community, query, revisions)


async def found_with(
    cache: RankCache,
    model: ModelBundle | None,
    community: Community | None,
    query: RankQuery,
    revisions: Revisions,
) -> Found:
    """The list cached under the key ``revisions`` give (none for a day without papers)."""
    personal = is_personal(model, query.user_id, revisions.erased_at)
    key = list_key(model, query, revisions, community, personal=personal)
    ranking = await cache.get(key) if revisions.papers else None
    return Found(revisions, personal, key, ranking)


# ARGV: prefix, date, user, model knows the user ('1'/'0'), its training time (microseconds),
# community version, key head ({prefix}:rank:{model}:{date}:{user}), view (all quoted).
# Reply: what the board's read gives (epoch, day p a g, user r e g), then the list key and the
# list when the revisions were held.
_HIT: Final = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ':rev:' .. epoch
local day = redis.call('HMGET', base .. ':d:' .. ARGV[2], 'p', 'a', 'g')
local user = redis.call('HMGET', base .. ':u:' .. ARGV[3], 'r', 'e', 'g')
local reply = {epoch, day[1] or false, day[2] or false, day[3] or '0',
               user[1] or false, user[2] or false, user[3] or '0'}
if not (day[1] and day[2] and user[1]) then
    return reply
end
local personal = ARGV[4] == '1' and (user[2] == '' or tonumber(user[2]) < tonumber(ARGV[5]))
local day_rev = day[1]
if not personal then
    day_rev = day[1] .. '.' .. day[2] .. '.' .. ARGV[6]
end
local key = ARGV[7] .. ':' .. user[1] .. ':' .. day_rev
if ARGV[8] ~= '' then
    key = key .. ':' .. ARGV[8]
end
reply[8] = key
reply[9] = redis.call('GET', key) or false
return reply
"""


class RedisLookup:
    """Revisions and list in one Redis round trip; see the module's docstring."""

    def __init__(self, board: RedisBoard, cache: RedisCache) -> None:
        """Read both from ``cache``'s Redis; ``board`` fills what it does not hold."""
        self._board = board
        self._cache = cache
        self._fallback = BoardLookup(board, cache)
        self._hit = cache.client.register_script(_HIT)
        self._epoch_key = f"{cache.prefix}:rev:epoch"

    async def find(
        self, model: ModelBundle | None, community: Community | None, query: RankQuery
    ) -> Found:
        """One script when Redis holds the revisions; else the board's way, in two steps."""
        if self._cache.is_down or self._board.needs_new_epoch:
            return await self._fallback.find(model, community, query)
        try:
            async with asyncio.timeout(self._cache.deadline):
                reply = await self._hit(
                    keys=[self._epoch_key], args=self._args(model, community, query)
                )
        except BACKEND_ERRORS as exc:
            self._cache.mark_down(exc)
            return await self._fallback.find(model, community, query)
        held = parse_held(reply[:7], [query.user_id])
        if len(reply) < 9:  # revisions not held: read and fill them, then look the list up
            revisions = (await self._board.complete(held, query.date))[query.user_id]
            return await found_with(self._cache, model, community, query, revisions)
        revisions = (await self._board.complete(held, query.date))[query.user_id]
        personal = is_personal(model, query.user_id, revisions.erased_at)
        key = list_key(model, query, revisions, community, personal=personal)
        name = self._cache.key_of(key)
        used = reply[7].decode() if isinstance(reply[7], bytes) else str(reply[7])
        if used != name:  # the script and keys.list_key disagree: a bug; never serve from it
            logger.error("the Redis lookup built key %r where %r was expected", used, name)
            return Found(revisions, personal, key, await self._cache.get(key))
        raw = reply[8]
        ranking = await self._cache.found(name, raw if isinstance(raw, bytes) else None)
        return Found(revisions, personal, key, ranking)

    def _args(
        self, model: ModelBundle | None, community: Community | None, query: RankQuery
    ) -> list[str]:
        knows = model is not None and model.scorer.has_user(query.user_id)
        trained = model.manifest.trained_at if model is not None else None
        head = list_key_head(
            self._cache.prefix, model.version if model else "", query.date, query.user_id
        )
        return [
            self._cache.prefix,
            query.date.isoformat(),
            user_field(query.user_id),
            "1" if knows else "0",
            micros(trained) if trained is not None else "0",
            quote(community.version) if community else "0",
            head,
            quote(query.view),
        ]
