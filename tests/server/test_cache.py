"""The ranking cache: one contract for both caches, then what is particular to each.

Redis tests run on the real Redis at ``redis_url`` under a prefix of their own. The outage tests
use a closed port, a silent server, and a ``redis-server`` process each test starts itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from papersift.core.types import PaperId, RankedList, ScoredPaper, Strategy, UserId
from papersift.server.cache import (
    DEFAULT_TTL,
    MAX_RETRY_INTERVAL,
    CacheKey,
    CacheStats,
    CacheUnavailable,
    InProcessCache,
    RankCache,
    RedisCache,
    open_cache,
)
from papersift.server.cache.packed import PackedItems

DAY = dt.date(2025, 4, 1)
LOGGER = "papersift.server.cache"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def make_key(
    user_id: str = "reader-1",
    *,
    model_version: str = "v3",
    date: dt.date = DAY,
    user_rev: int = 7,
    day_rev: str = "12.40",
) -> CacheKey:
    return CacheKey(
        model_version=model_version,
        date=date,
        user_id=UserId(user_id),
        user_rev=user_rev,
        day_rev=day_rev,
    )


def make_ranking(*scores: tuple[str, float], strategy: Strategy = Strategy.PERSONAL) -> RankedList:
    items = tuple(ScoredPaper(PaperId(paper_id), score) for paper_id, score in scores)
    return RankedList(strategy=strategy, model_version="v3", items=items)


RANKING = make_ranking(("arxiv:2504.00001", 0.875), ("arxiv:2504.00002", -0.1), ("ünï", 1e-300))


def free_port() -> int:
    """A port nothing listens on (free when asked; no one else here takes ports at random)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == level]


@pytest.fixture(params=["in_process", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[RankCache]:
    """Each contract test runs on an in-process cache and on the real Redis."""
    opened: RankCache
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_url"))
        opened = RedisCache(url, prefix=str(request.getfixturevalue("redis_prefix")))
    else:
        opened = InProcessCache()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client to look at or tamper with what the cache wrote."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


# The contract, on both caches.


async def test_miss_then_hit_returns_an_equal_list(cache: RankCache) -> None:
    key = make_key()
    assert await cache.get(key) is None
    await cache.set(key, RANKING)
    assert await cache.get(key) == RANKING
    assert cache.stats == CacheStats(hits=1, misses=1)


@pytest.mark.parametrize(
    "ranking",
    [make_ranking(), make_ranking(("p", 0.0), strategy=Strategy.POPULAR)],
    ids=["empty", "popular"],
)
async def test_round_trip_keeps_strategy_and_empty_lists(
    cache: RankCache, ranking: RankedList
) -> None:
    await cache.set(make_key(), ranking)
    assert await cache.get(make_key()) == ranking


@pytest.mark.parametrize(
    "changed",
    [
        make_key(model_version="v4"),
        make_key(model_version=""),
        make_key(date=DAY + dt.timedelta(days=1)),
        make_key(user_rev=8),
        make_key(day_rev="12.41"),
        make_key(day_rev="13.40"),
        make_key("reader-2"),
    ],
    ids=["model", "no-model", "date", "user_rev", "activity_rev", "papers_rev", "user"],
)
async def test_any_change_of_the_key_misses(cache: RankCache, changed: CacheKey) -> None:
    await cache.set(make_key(), RANKING)
    assert await cache.get(changed) is None


async def test_setting_again_replaces_the_list(cache: RankCache) -> None:
    replacement = make_ranking(("other", 1.0))
    await cache.set(make_key(), RANKING)
    await cache.set(make_key(), replacement)
    assert await cache.get(make_key()) == replacement


async def test_delete_user_removes_only_that_readers_lists(cache: RankCache) -> None:
    mine = [make_key(user_rev=1), make_key(user_rev=2), make_key(model_version="")]
    other = make_key("reader-2")
    for key in [*mine, other]:
        await cache.set(key, RANKING)
    await cache.set(mine[0], RANKING)  # stored twice, counted once

    assert await cache.delete_user(UserId("reader-1")) == 3

    for key in mine:
        assert await cache.get(key) is None
    assert await cache.get(other) == RANKING
    assert await cache.delete_user(UserId("reader-1")) == 0
    assert await cache.delete_user(UserId("nobody")) == 0


async def test_a_list_cached_after_delete_user_is_kept(cache: RankCache) -> None:
    await cache.set(make_key(user_rev=1), RANKING)
    await cache.delete_user(UserId("reader-1"))
    await cache.set(make_key(user_rev=2), RANKING)
    assert await cache.get(make_key(user_rev=2)) == RANKING
    assert await cache.delete_user(UserId("reader-1")) == 1


TRICKY_KEYS = [
    make_key("a"),
    make_key("a:b"),
    make_key("a%3Ab"),
    make_key("*"),
    make_key("a*"),
    make_key("a?[b]"),
    make_key("a b/ü"),
    # Joined with bare ':' these two would be the same key: "...:a:1:2:3".
    make_key("a:1", user_rev=2, day_rev="3"),
    make_key("a", user_rev=1, day_rev="2:3"),
    # And these two: "...:rank:m:2025-04-01:x:7:1:2025-04-01:x:7:1".
    make_key("x", model_version="m", day_rev="1:2025-04-01:x:7:1"),
    make_key("x", model_version="m:2025-04-01:x:7:1", day_rev="1"),
]


async def test_ids_with_colons_stars_and_escapes_do_not_collide(cache: RankCache) -> None:
    rankings = {key: make_ranking((f"paper-{n}", float(n))) for n, key in enumerate(TRICKY_KEYS)}
    for key, ranking in rankings.items():
        await cache.set(key, ranking)
    for key, ranking in rankings.items():
        assert await cache.get(key) == ranking

    assert await cache.delete_user(UserId("*")) == 1
    assert await cache.delete_user(UserId("a*")) == 1
    assert await cache.get(make_key("a")) == rankings[make_key("a")]
    assert await cache.get(make_key("a:b")) == rankings[make_key("a:b")]


async def test_stats_count_hits_and_misses(cache: RankCache) -> None:
    for user in ["r1", "r2"]:
        assert await cache.get(make_key(user)) is None
    await cache.set(make_key("r1"), RANKING)
    for _ in range(3):
        await cache.get(make_key("r1"))
    assert cache.stats == CacheStats(hits=3, misses=2, errors=0, skipped=0)


# Keys and opening.


def test_key_renders_the_documented_layout_and_escapes_free_form_parts() -> None:
    assert make_key().render("papersift") == "papersift:rank:v3:2025-04-01:reader-1:7:12.40"
    assert (
        make_key("ab:c*", model_version="", day_rev="1:2").render("p")
        == "p:rank:none:2025-04-01:ab%3Ac%2A:7:1%3A2"
    )


async def test_open_cache_picks_the_backend(redis_url: str) -> None:
    for url in [None, ""]:
        assert isinstance(open_cache(url), InProcessCache)
    opened = open_cache(redis_url, prefix="papersift-test-open")
    try:
        assert isinstance(opened, RedisCache)
    finally:
        await opened.close()


# The in-process cache.


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_in_process_evicts_the_least_recently_used() -> None:
    cache = InProcessCache(max_entries=2)
    first, second, third = make_key("r1"), make_key("r2"), make_key("r3")
    await cache.set(first, RANKING)
    await cache.set(second, RANKING)
    assert await cache.get(first) == RANKING  # now second is the least recently used
    await cache.set(third, RANKING)

    assert len(cache) == 2
    assert await cache.get(second) is None
    assert await cache.get(first) == RANKING
    assert await cache.get(third) == RANKING
    assert await cache.delete_user(UserId("r2")) == 0


async def test_in_process_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = InProcessCache(ttl=dt.timedelta(seconds=10), clock=clock)
    await cache.set(make_key(), RANKING)

    clock.now += 9.9
    assert await cache.get(make_key()) == RANKING
    clock.now += 0.1
    assert await cache.get(make_key()) is None
    assert len(cache) == 0
    assert cache.stats == CacheStats(hits=1, misses=1)


async def test_in_process_delete_user_counts_only_live_lists() -> None:
    clock = FakeClock()
    cache = InProcessCache(ttl=dt.timedelta(seconds=10), clock=clock)
    await cache.set(make_key(user_rev=1), RANKING)
    clock.now += 5
    await cache.set(make_key(user_rev=2), RANKING)
    clock.now += 6
    assert await cache.delete_user(UserId("reader-1")) == 1
    assert len(cache) == 0


def test_in_process_refuses_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        InProcessCache(max_entries=0)


# Redis: what it stores.


async def test_redis_stores_a_packed_list_with_a_ttl(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    cache = RedisCache(redis_url, prefix=redis_prefix)
    try:
        await cache.set(make_key(), make_ranking(("p1", 0.5), ("p2", -1.25)))
    finally:
        await cache.close()
    name = make_key().render(redis_prefix)
    index = f"{redis_prefix}:userkeys:reader-1"

    header = b'{"strategy": "personal", "model_version": "v3", "n": 2}'
    scores = struct.pack("<2d", 0.5, -1.25)
    assert await redis_client.get(name) == (
        b"papersift-list/2\n" + header + b"\n" + scores + b"p1\np2"
    )
    assert await redis_client.smembers(index) == {name.encode()}
    full = int(DEFAULT_TTL.total_seconds())
    for stored in [name, index]:
        assert full - 60 < await redis_client.ttl(stored) <= full


async def test_redis_uses_the_given_ttl(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    cache = RedisCache(redis_url, prefix=redis_prefix, ttl=dt.timedelta(minutes=5))
    try:
        await cache.set(make_key(), RANKING)
    finally:
        await cache.close()
    assert 240 < await redis_client.ttl(make_key().render(redis_prefix)) <= 300


@pytest.mark.parametrize(
    "stored",
    [
        b"\x80\x04\x95pickle",
        b"not json",
        b"[]",
        b'{"strategy":"personal","model_version":"v3"}',
        b'{"strategy":"best","model_version":"v3","items":[]}',
        b'{"strategy":"personal","model_version":3,"items":[]}',
        b'{"strategy":"personal","model_version":"v3","items":[["p1","high"]]}',
        b'{"strategy":"personal","model_version":"v3","items":[["p1",true]]}',
        b'{"strategy":"personal","model_version":"v3","items":[["p1",0.5,1]]}',
        b'{"strategy":"personal","model_version":"v3","items":[[1,0.5]]}',
        b"papersift-list/2\n",
        b"papersift-list/2\nnot json\n",
        b'papersift-list/2\n{"strategy": "personal", "model_version": "v3", "n": 2}\n'
        + struct.pack("<2d", 0.5, 0.25)
        + b"p1",  # one id short
        b'papersift-list/2\n{"strategy": "personal", "model_version": "v3", "n": 2}\n'
        + struct.pack("<d", 0.5),  # scores cut short
        b'papersift-list/2\n{"strategy": "personal", "model_version": "v3", "n": -1}\n',
        b'papersift-list/2\n{"strategy": "personal", "model_version": "v3", "n": 1}\n'
        + struct.pack("<d", 0.5)
        + b"\xff\xfe",  # not UTF-8
    ],
)
async def test_redis_treats_a_corrupt_value_as_a_miss_and_deletes_it(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis, stored: bytes
) -> None:
    name = make_key().render(redis_prefix)
    await redis_client.set(name, stored)
    cache = RedisCache(redis_url, prefix=redis_prefix)
    try:
        assert await cache.get(make_key()) is None
        assert cache.stats == CacheStats(misses=1)
    finally:
        await cache.close()
    assert await redis_client.exists(name) == 0


async def test_redis_reads_lists_cached_as_json_by_an_earlier_version(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    stored = b'{"strategy":"personal","model_version":"v3","items":[["p1",0.5],["p2",0.25]]}'
    await redis_client.set(make_key().render(redis_prefix), stored)
    cache = RedisCache(redis_url, prefix=redis_prefix)
    try:
        assert await cache.get(make_key()) == make_ranking(("p1", 0.5), ("p2", 0.25))
    finally:
        await cache.close()


async def test_a_packed_list_reads_back_equal_and_pages_slice_it(
    redis_url: str, redis_prefix: str
) -> None:
    ranking = make_ranking(*((f"arxiv:2504.{n:05d}", 1.0 / (n + 1)) for n in range(1000)))
    cache = RedisCache(redis_url, prefix=redis_prefix)
    try:
        await cache.set(make_key(), ranking)
        read = await cache.get(make_key())
    finally:
        await cache.close()
    assert read == ranking
    assert read is not None and len(read.items) == 1000
    assert tuple(read.items[20:40]) == ranking.items[20:40]
    assert read.items[-1] == ranking.items[-1]


def test_redis_refuses_a_ttl_under_a_second() -> None:
    with pytest.raises(ValueError, match="ttl"):
        RedisCache("redis://127.0.0.1:1/0", ttl=dt.timedelta(milliseconds=500))


# Redis down: a closed port.


async def test_redis_down_serves_misses_logs_once_and_skips(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    port = free_port()
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", retry_interval=MAX_RETRY_INTERVAL)
    try:
        for _ in range(100):
            assert await cache.get(make_key()) is None
            await cache.set(make_key(), RANKING)

        assert cache.is_down
        # Only the first call tried Redis; the other 199 did not wait on it.
        assert cache.stats == CacheStats(errors=1, skipped=199)
    finally:
        await cache.close()
    [warning] = messages(caplog, logging.WARNING)
    assert f"Redis at 127.0.0.1:{port} unreachable (" in warning
    assert "serving uncached, retrying in the background" in warning


async def test_redis_down_logs_once_for_concurrent_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", retry_interval=MAX_RETRY_INTERVAL)
    try:
        results = await asyncio.gather(*(cache.get(make_key(f"r{n}")) for n in range(20)))
        assert results == [None] * 20
        assert cache.stats.errors + cache.stats.skipped == 20
    finally:
        await cache.close()
    assert len(messages(caplog, logging.WARNING)) == 1


async def test_redis_password_is_never_logged_or_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    cache = RedisCache(
        f"redis://reader:hunter2-secret@127.0.0.1:{free_port()}/0", retry_interval=0.01
    )
    try:
        assert await cache.get(make_key()) is None
        with pytest.raises(CacheUnavailable) as raised:
            await cache.delete_user(UserId("reader-1"))
        await asyncio.sleep(0.05)  # a few background attempts, logged at DEBUG
    finally:
        await cache.close()
    assert "127.0.0.1" in caplog.text
    assert "hunter2" not in caplog.text
    assert "hunter2" not in str(raised.value)


async def test_redis_delete_user_raises_when_redis_is_unreachable() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", retry_interval=MAX_RETRY_INTERVAL)
    try:
        for _ in range(2):  # tried even once Redis is marked down
            with pytest.raises(CacheUnavailable, match="could not be removed"):
                await cache.delete_user(UserId("reader-1"))
        assert cache.stats == CacheStats(errors=2)
    finally:
        await cache.close()


async def test_redis_reconnection_backs_off_exponentially(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def record_wait(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("papersift.server.cache.redis_cache.asyncio.sleep", record_wait)
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", retry_interval=1.0)
    try:
        await cache.get(make_key())
        for _ in range(1000):
            if len(waits) >= 8:
                break
            await real_sleep(0.005)
    finally:
        await cache.close()
    assert waits[:8] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


# Redis slow: a server that accepts connections and never answers.


async def test_redis_that_never_answers_times_out_once_then_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    writers: list[asyncio.StreamWriter] = []

    async def stay_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()

    server = await asyncio.start_server(stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = RedisCache(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.05, retry_interval=MAX_RETRY_INTERVAL
    )
    try:
        for _ in range(50):
            assert await cache.get(make_key()) is None
        assert cache.stats == CacheStats(errors=1, skipped=49)
    finally:
        await cache.close()
        server.close()
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await server.wait_closed()
    assert len(messages(caplog, logging.WARNING)) == 1


# Redis down, then back: a redis-server process of this test's own.


class RedisProcess:
    """A throwaway ``redis-server`` on 127.0.0.1 that keeps nothing on disk."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        assert self._process is None
        self._process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self._workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        pytest.fail(f"redis-server did not start on port {self.port}")
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Terminate the process this object started, if it runs."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    """A ``redis-server`` on a free port, started; stopped after the test whatever happens."""
    server = RedisProcess(free_port(), tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_redis_restart_is_survived_and_caching_resumes_by_itself(
    redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    cache = RedisCache(redis_process.url, retry_interval=0.05)
    key = make_key()
    try:
        await cache.set(key, RANKING)
        assert await cache.get(key) == RANKING
        assert await cache.delete_user(UserId("reader-1")) == 1

        redis_process.stop()
        for _ in range(20):
            assert await cache.get(key) is None
            await cache.set(key, RANKING)
        assert cache.is_down
        assert cache.stats == CacheStats(hits=1, errors=1, skipped=39)

        redis_process.start()
        resumed = False
        for _ in range(200):  # at most ~10 s; the first retries come within a second
            await cache.set(key, RANKING)
            if await cache.get(key) == RANKING:
                resumed = True
                break
            await asyncio.sleep(0.05)
        assert resumed, "caching did not resume after Redis came back"
        assert not cache.is_down
        # The new server has not seen the deletion script yet.
        assert await cache.delete_user(UserId("reader-1")) == 1
    finally:
        await cache.close()
    assert len(messages(caplog, logging.WARNING)) == 1
    [recovered] = messages(caplog, logging.INFO)
    assert f"Redis at 127.0.0.1:{redis_process.port} reachable again" in recovered


async def test_redis_delete_user_is_tried_while_marked_down(redis_process: RedisProcess) -> None:
    cache = RedisCache(redis_process.url, retry_interval=MAX_RETRY_INTERVAL)
    try:
        await cache.set(make_key(), RANKING)
        redis_process.stop()
        await cache.set(make_key(user_rev=8), RANKING)
        redis_process.start()
        assert cache.is_down  # the next background attempt is half a minute away
        assert await cache.delete_user(UserId("reader-1")) == 0  # the new server is empty
        assert cache.stats == CacheStats(errors=1)
    finally:
        await cache.close()


async def test_the_in_process_cache_holds_lists_packed_and_reads_them_back_equal() -> None:
    cache = InProcessCache()
    ranking = make_ranking(*((f"arxiv:2504.{n:05d}", 1.0 / (n + 1)) for n in range(1000)))
    await cache.set(make_key(), ranking)
    read = await cache.get(make_key())
    assert read == ranking
    assert read is not None and isinstance(read.items, PackedItems)
    assert tuple(read.items[980:]) == ranking.items[980:]
