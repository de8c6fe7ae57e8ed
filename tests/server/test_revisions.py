"""The revision boards: current after every write, never put back stale, shared across workers.

Real SQLite and real Redis throughout. ``GatedStore`` is a real store that can hold one read
after it ran, so that a write can slip in between a read and its fill, deterministically.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import urllib.parse
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path

import pytest

from papersift.core.store import Store
from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId
from papersift.server.cache import RedisCache
from papersift.server.revisions import MemoryBoard, RedisBoard, RevisionBoard
from papersift.server.revisions.memory import FillGuard
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.faults.proxy import TcpProxy
from tests.server.api import Api, make_event, make_paper

DAY = dt.date(2025, 4, 1)
READER = UserId("reader-1")


class GatedStore(Store):
    """A store whose next ``user_stamps`` read, once armed, waits for ``release`` to return."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.armed = False
        self.read_done = threading.Event()
        self.release = threading.Event()
        self.user_reads = 0

    def user_stamps(
        self, user_ids: Collection[UserId]
    ) -> dict[UserId, tuple[int, dt.datetime | None]]:
        self.user_reads += 1
        stamps = super().user_stamps(user_ids)
        if self.armed:
            self.armed = False
            self.read_done.set()
            self.release.wait(timeout=30)
        return stamps


def paper(number: int) -> Paper:
    return Paper(
        paper_id=PaperId(f"arxiv:2504.{number:05d}"),
        title=f"Paper number {number}",
        abstract="An abstract.",
        authors=("Ada Lovelace",),
        categories=("cs.CL",),
        url=f"https://arxiv.org/abs/2504.{number:05d}",
        date=DAY,
        source="arxiv",
    )


def click(number: int, user: UserId = READER) -> Interaction:
    return Interaction(
        event_id=EventId(f"event-{user}-{number}"),
        user_id=user,
        paper_id=PaperId(f"arxiv:2504.{number:05d}"),
        kind=InteractionKind.CLICK,
        occurred_at=dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC),
    )


@pytest.fixture
def store(tmp_path: Path) -> GatedStore:
    gated = GatedStore(f"sqlite:///{tmp_path / 'papersift.db'}")
    gated.migrate()
    gated.upsert_papers([paper(n) for n in range(1, 6)])
    gated.record_interactions([click(1)])
    return gated


@pytest.fixture
async def redis_caches(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[..., RedisCache]]:
    """Caches on one Redis and prefix, as two workers have (closed after the test)."""
    opened: list[RedisCache] = []

    def open_cache(url: str = redis_url) -> RedisCache:
        cache = RedisCache(url, prefix=redis_prefix, retry_interval=0.05)
        opened.append(cache)
        return cache

    yield open_cache
    for cache in opened:
        await cache.close()


async def write(store: Store, board: RevisionBoard, number: int) -> None:
    """What the service does for a RecordInteractions: commit, then tell the board."""
    await asyncio.to_thread(store.record_interactions, [click(number)])
    await board.written({READER})


async def a_read_before_a_write_is_not_put_back(store: GatedStore, board: RevisionBoard) -> None:
    """A fill whose read predates a write must not leave the pre-write revisions held."""
    before = store.revisions(READER, DAY)
    store.armed = True
    reading = asyncio.create_task(board.get(READER, DAY))
    await asyncio.to_thread(store.read_done.wait, 30)

    await write(store, board, 2)  # committed and announced while the old read is in flight
    store.release.set()
    # What that request read predates the write: fine for it, as it began before the write.
    assert (await reading).user == before.user

    after = store.revisions(READER, DAY)
    assert after.user > before.user
    assert await board.get(READER, DAY) == after


async def test_memory_board_never_keeps_a_read_that_a_write_overtook(store: GatedStore) -> None:
    await a_read_before_a_write_is_not_put_back(store, MemoryBoard(store))


async def test_redis_board_never_keeps_a_read_that_a_write_overtook(
    store: GatedStore, redis_caches: Callable[..., RedisCache]
) -> None:
    await a_read_before_a_write_is_not_put_back(store, RedisBoard(store, redis_caches()))


async def test_memory_board_serves_held_revisions_without_the_store(store: GatedStore) -> None:
    board = MemoryBoard(store)
    first = await board.get(READER, DAY)
    reads = store.user_reads

    for _ in range(50):
        assert await board.get(READER, DAY) == first
    assert store.user_reads == reads

    await write(store, board, 3)
    assert await board.get(READER, DAY) == store.revisions(READER, DAY) != first


async def test_memory_board_holds_at_most_its_bound(store: GatedStore) -> None:
    board = MemoryBoard(store, max_users=3)
    readers = [UserId(f"reader-{n}") for n in range(10)]
    await board.many(readers, DAY)
    assert len(board._users) == 3
    assert list(board._users) == readers[-3:]  # the least recently asked went first


def test_fill_guard_forgets_marks_once_no_fill_needs_them() -> None:
    guard = FillGuard()
    token = guard.begin()
    guard.invalidate("a")
    later = guard.begin()
    assert not guard.fresh("a", token)
    assert guard.fresh("a", later)
    guard.end(token)
    guard.end(later)
    assert len(guard) == 0


async def test_a_write_through_one_worker_is_seen_by_the_other_at_once(
    store: GatedStore, tmp_path: Path, redis_caches: Callable[..., RedisCache]
) -> None:
    writer_store = Store(f"sqlite:///{tmp_path / 'papersift.db'}")
    writer = RedisBoard(writer_store, redis_caches())
    reader = RedisBoard(store, redis_caches())
    assert await reader.get(READER, DAY) == store.revisions(READER, DAY)
    reads = store.user_reads

    for number in range(2, 6):
        await write(writer_store, writer, number)
        assert await reader.get(READER, DAY) == store.revisions(READER, DAY)
    # The writer read the new values back: the other worker never had to ask the store.
    assert store.user_reads == reads


async def test_a_worker_that_wrote_while_redis_was_down_for_it_starts_a_new_epoch(
    store: GatedStore, redis_url: str, redis_caches: Callable[..., RedisCache]
) -> None:
    """A worker cut off from Redis writes; the other worker held the old revisions meanwhile
    (the TTL bounds that). Once Redis is back for the writer, nothing held before is trusted."""
    url = urllib.parse.urlsplit(redis_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 6379)
    proxy.start()
    try:
        cut_off_cache = redis_caches(f"redis://{proxy.address}{url.path}")
        cut_off = RedisBoard(store, cut_off_cache)
        other = RedisBoard(store, redis_caches())
        assert await cut_off.get(READER, DAY) == await other.get(READER, DAY)

        proxy.cut()
        await write(store, cut_off, 2)  # committed; Redis could not be told
        assert cut_off.needs_new_epoch
        assert await cut_off.get(READER, DAY) == store.revisions(READER, DAY)  # from the store
        proxy.restore()
        for _ in range(600):  # the probe retries every 0.05 s at first
            if not cut_off_cache.is_down:
                break
            await asyncio.sleep(0.05)

        assert await cut_off.get(READER, DAY) == store.revisions(READER, DAY)
        assert not cut_off.needs_new_epoch
        assert await other.get(READER, DAY) == store.revisions(READER, DAY)
    finally:
        proxy.close()


async def test_lists_on_worker_b_follow_each_write_through_worker_a_at_once(
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    """Two servers on one store and one Redis (as two workers or replicas are). While clients
    keep ranking the reader on B, each dismissal acknowledged by A is gone from B's next list."""
    shared = {
        "database_url": f"sqlite:///{tmp_path / 'shared.db'}",
        "redis_url": redis_url,
        "cache_prefix": redis_prefix,
    }
    worker_a = connect(start_server(**shared))
    worker_b = connect(start_server(**shared))
    await worker_a.upsert([make_paper(n) for n in range(1, 41)])
    stop = asyncio.Event()

    async def keep_ranking() -> int:
        calls = 0
        while not stop.is_set():
            await worker_b.rank(READER, limit=40)
            calls += 1
        return calls

    rankers = [asyncio.create_task(keep_ranking()) for _ in range(3)]
    try:
        for n in range(1, 16):
            listed = [p.paper.paper_id for p in (await worker_b.rank(READER, limit=40)).papers]
            top = listed[0]
            number = int(top.rsplit(".", 1)[1])
            dismiss = make_event(f"dismiss-{n}", READER, number, pb.INTERACTION_KIND_DISMISS)
            await worker_a.record([dismiss])

            after = await worker_b.rank(READER, limit=40)
            assert top not in [p.paper.paper_id for p in after.papers], f"after dismissal {n}"
            assert len(after.papers) == len(listed) - 1
    finally:
        stop.set()
        calls = await asyncio.gather(*rankers)
    assert min(calls) > 0
