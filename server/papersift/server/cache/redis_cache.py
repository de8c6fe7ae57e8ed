"""The cache in Redis, behind a small circuit breaker so that an outage costs one timeout."""

from __future__ import annotations

import array
import asyncio
import contextlib
import datetime as dt
import json
import logging
import sys
import time
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from papersift.core.types import PaperId, RankedList, ScoredPaper, Strategy, UserId
from papersift.server.cache.base import DEFAULT_TTL, CacheKey, CacheStats, CacheUnavailable, quote
from papersift.server.cache.packed import PackedItems

MAX_RETRY_INTERVAL: Final = 30.0
"""Longest wait, in seconds, between two background reconnection attempts."""

_log = logging.getLogger(__name__)

_PROBE_TTL_MS: Final = 60_000
"""Life of the key the reconnection probe writes: it needs no cleaning up."""

# The builtin TimeoutError (raised by asyncio.timeout) is an OSError; redis' own are RedisError.
BACKEND_ERRORS: Final = (RedisError, OSError)

# One atomic step, so a list cached concurrently is either deleted or still indexed afterwards,
# never left behind unindexed. DEL takes the members in slices to stay within Lua's stack.
_DELETE_INDEXED: Final = """
local members = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for first = 1, #members, 1000 do
    local last = math.min(first + 999, #members)
    removed = removed + redis.call('DEL', unpack(members, first, last))
end
redis.call('DEL', KEYS[1])
return removed
"""


class RedisCache:
    """Ranked lists in Redis as compact JSON, each key with a TTL, indexed per reader.

    The first backend failure marks Redis down: one warning is logged, and until a background
    probe succeeds (retried with exponential backoff) ``get`` and ``set`` skip Redis at once
    instead of paying a timeout per request. Recovery is logged once, at INFO. The probe is a
    write (a short-lived ``{prefix}:probe`` key), not a PING: a Redis that answers but refuses
    writes (full at ``maxmemory`` with ``noeviction``, a read-only replica) stays marked down,
    instead of being declared back and failing again on the next ``set``, every second.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "papersift",
        ttl: dt.timedelta = DEFAULT_TTL,
        socket_timeout: float = 0.25,
        retry_interval: float = 1.0,
        logger: logging.Logger | None = None,
    ) -> None:
        """Connects lazily: nothing is sent to ``url`` before the first operation.

        ``socket_timeout`` bounds connecting and each reply, in seconds; one whole operation is
        bounded by twice that. ``retry_interval`` is the first wait before a reconnection
        attempt, doubled after each failure up to :data:`MAX_RETRY_INTERVAL`.
        """
        ttl_seconds = int(ttl.total_seconds())
        if ttl_seconds < 1:
            raise ValueError(f"ttl must be at least one second, not {ttl}")
        self.stats = CacheStats()
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._retry_interval = retry_interval
        self._deadline = 2 * socket_timeout
        self._log = logger if logger is not None else _log
        # No retries inside redis-py: one failure is enough to mark Redis down, and retrying
        # there would multiply the time a request waits on a dead server.
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._delete_indexed = self._client.register_script(_DELETE_INDEXED)
        self._where = _describe(self._client)
        self._down = False
        self._down_since = 0.0
        self._closed = False
        self._probe: asyncio.Task[None] | None = None

    @property
    def is_down(self) -> bool:
        """Whether Redis is marked down: ``get`` and ``set`` skip it until a PING succeeds."""
        return self._down

    @property
    def client(self) -> aioredis.Redis:
        """The connection pool, shared with the revisions held beside the lists."""
        return self._client

    @property
    def prefix(self) -> str:
        """The prefix of every key this cache writes."""
        return self._prefix

    @property
    def deadline(self) -> float:
        """Seconds one whole operation may take before Redis is marked down."""
        return self._deadline

    def key_of(self, key: CacheKey) -> str:
        """The Redis key of a list."""
        return key.render(self._prefix)

    async def found(self, name: str, raw: bytes | str | None) -> RankedList | None:
        """Count and decode a value read at ``name``; a corrupt one is a miss, and deleted."""
        if raw is None:
            self.stats.count("misses")
            return None
        ranking = _decode(raw)
        if ranking is None:
            self.stats.count("misses")
            self._log.warning("Deleting a corrupt cached ranking at %s", name)
            with contextlib.suppress(*BACKEND_ERRORS):
                async with asyncio.timeout(self._deadline):
                    await self._client.delete(name)
            return None
        self.stats.count("hits")
        return ranking

    def mark_down(self, exc: BaseException) -> None:
        """Count a backend failure and, unless already down, mark Redis down and probe it."""
        self._mark_down(exc)

    async def get(self, key: CacheKey) -> RankedList | None:
        """The cached list, or ``None`` on a miss, a corrupt value or backend trouble."""
        if self._down:
            self.stats.count("skipped")
            return None
        name = key.render(self._prefix)
        try:
            async with asyncio.timeout(self._deadline):
                raw = await self._client.get(name)
        except BACKEND_ERRORS as exc:
            self._mark_down(exc)
            return None
        return await self.found(name, raw)

    async def set(self, key: CacheKey, ranking: RankedList) -> None:
        """Store a list with the TTL and index it under its reader; no-op on backend trouble."""
        if self._down:
            self.stats.count("skipped")
            return
        name = key.render(self._prefix)
        index = self._index_key(key.user_id)
        try:
            async with (
                asyncio.timeout(self._deadline),
                self._client.pipeline(transaction=True) as pipe,
            ):
                pipe.set(name, _encode(ranking), ex=self._ttl)
                pipe.sadd(index, name)
                # Renewed on every set, the index outlives every key it lists.
                pipe.expire(index, self._ttl)
                await pipe.execute()
        except BACKEND_ERRORS as exc:
            self._mark_down(exc)

    async def delete_user(self, user_id: UserId) -> int:
        """Remove every indexed list of a reader and the index; returns how many existed.

        Tried even while Redis is marked down, since a deletion must not be skipped. Raises
        :class:`CacheUnavailable` when Redis could not be cleaned.
        """
        try:
            async with asyncio.timeout(self._deadline):
                removed = await self._delete_indexed(keys=[self._index_key(user_id)])
        except BACKEND_ERRORS as exc:
            self._mark_down(exc)
            raise CacheUnavailable(
                f"the cached rankings could not be removed from Redis at {self._where} "
                f"({_explain(exc)})"
            ) from exc
        return int(removed)

    async def close(self) -> None:
        """Stop the background reconnection and close the connections; safe to call twice."""
        self._closed = True
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        await self._client.aclose()

    def _index_key(self, user_id: UserId) -> str:
        return f"{self._prefix}:userkeys:{quote(user_id)}"

    def _mark_down(self, exc: BaseException) -> None:
        self.stats.count("errors")
        if self._down or self._closed:
            return
        self._down = True
        self._down_since = time.monotonic()
        # An error reply means Redis is there but refuses the command: say so, not "unreachable".
        trouble = "refuses commands" if isinstance(exc, ResponseError) else "unreachable"
        self._log.warning(
            "Redis at %s %s (%s); serving uncached, retrying in the background",
            self._where,
            trouble,
            _explain(exc),
        )
        self._probe = asyncio.get_running_loop().create_task(
            self._reconnect(), name=f"papersift cache: reconnect to Redis at {self._where}"
        )

    async def _reconnect(self) -> None:
        delay = self._retry_interval
        while True:
            await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(self._deadline):
                    await self._client.set(f"{self._prefix}:probe", b"1", px=_PROBE_TTL_MS)
            # Any exception at all: a probe that died would leave the cache off for good.
            except Exception as exc:
                self._log.debug("Redis at %s still unreachable (%s)", self._where, _explain(exc))
                delay = min(delay * 2, MAX_RETRY_INTERVAL)
            else:
                break
        self._down = False
        self._probe = None
        self._log.info(
            "Redis at %s reachable again after %.1f s; caching resumed",
            self._where,
            time.monotonic() - self._down_since,
        )


def _describe(client: aioredis.Redis) -> str:
    """Where a client connects, as ``host:port`` or a socket path; never with credentials."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    host = str(kwargs.get("host", "localhost"))
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{kwargs.get('port', 6379)}"


def _explain(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_PACKED: Final = b"papersift-list/2\n"
"""First bytes of a packed list: a JSON header line, float64 scores, then ``\n``-joined ids."""


def _encode(ranking: RankedList) -> bytes:
    header = {
        "strategy": ranking.strategy.value,
        "model_version": ranking.model_version,
        "n": len(ranking.items),
    }
    scores = array.array("d", (item.score for item in ranking.items))
    if sys.byteorder != "little":
        scores.byteswap()
    ids = "\n".join(item.paper_id for item in ranking.items).encode()
    return b"".join((_PACKED, json.dumps(header).encode(), b"\n", scores.tobytes(), ids))


def _decode(raw: bytes | str) -> RankedList | None:
    """The list :func:`_encode` encoded (or the JSON of earlier versions), ``None`` for else."""
    if isinstance(raw, bytes) and raw.startswith(_PACKED):
        return _unpack(raw)
    return _decode_json(raw)


def _unpack(raw: bytes) -> RankedList | None:
    try:
        end = raw.index(b"\n", len(_PACKED))
        header = json.loads(raw[len(_PACKED) : end])
        strategy = Strategy(header["strategy"])
        model_version = header["model_version"]
        count = header["n"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(model_version, str) or not isinstance(count, int) or count < 0:
        return None
    start = end + 1
    scores = array.array("d")
    try:
        scores.frombytes(raw[start : start + 8 * count])
        ids = raw[start + 8 * count :].decode().split("\n") if count else []
    except (ValueError, UnicodeDecodeError):
        return None
    if len(scores) != count or len(ids) != count:
        return None
    if sys.byteorder != "little":
        scores.byteswap()
    return RankedList(strategy, model_version, PackedItems(ids, scores))


def _decode_json(raw: bytes | str) -> RankedList | None:
    """A list in the JSON that versions before the packed form wrote."""
    try:
        payload = json.loads(raw)
        strategy = Strategy(payload["strategy"])
        model_version = payload["model_version"]
        items = payload["items"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(model_version, str) or not isinstance(items, list):
        return None
    scored = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2):
            return None
        paper_id, score = item
        if not isinstance(paper_id, str) or isinstance(score, bool):
            return None
        if not isinstance(score, int | float):
            return None
        scored.append(ScoredPaper(PaperId(paper_id), float(score)))
    return RankedList(strategy=strategy, model_version=model_version, items=tuple(scored))
