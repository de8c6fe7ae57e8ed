"""The background precompute: known readers' first lists are cached before they ask.

Each test runs real servers over gRPC: one with the precompute on, and where lists are compared
one with it off that computes every list as a miss. The model is either the trained tiny model
of the synthetic world, or (for passes long enough to act during them) the same model with
thousands of readers of random vectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from prometheus_client import REGISTRY

from papersift.core.bundle import load_version, write_bundle
from papersift.core.scoring import Scorer
from papersift.core.store import Revisions, Store
from papersift.core.types import PaperId, UserId
from papersift.server.cache import RedisCache
from papersift.server.convert import paper_to_proto
from papersift.server.lists import ListBuilder
from papersift.server.models import ModelHolder
from papersift.server.precompute import Precomputer, PrecomputeSettings
from papersift.server.service import RankingService
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.api import Api
from tests.server.model_world import COLD_DAY, load_world, make_click, publish
from tests.synthetic import DAYS, World

MANY = 4_000


def precomputer(server: ThreadedServer) -> Precomputer:
    found = server.server.precomputer
    assert found is not None
    return found


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (polling) until ``check()`` holds; fail naming ``what`` after a minute."""
    deadline = time.monotonic() + 60
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within a minute")
        await asyncio.sleep(0.005)


async def settled(server: ThreadedServer, passes: int) -> None:
    """Wait until the server's precompute finished ``passes`` passes and is idle."""
    runner = precomputer(server)
    await until(lambda: runner.passes >= passes and not runner.busy, f"pass {passes}")


async def model_loaded(api: Api, version: str) -> None:
    deadline = time.monotonic() + 60
    while (await api.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)).version != version:
        if time.monotonic() > deadline:
            pytest.fail(f"model {version} was not loaded within a minute")
        await asyncio.sleep(0.02)


def uncached(reply: pb.RankPapersResponse) -> pb.RankPapersResponse:
    copy = pb.RankPapersResponse()
    copy.CopyFrom(reply)
    copy.cached = False
    return copy


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture(params=["memory", "redis"])
def cache_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    url = request.getfixturevalue("redis_url")
    return {"redis_url": url, "cache_prefix": request.getfixturevalue("redis_prefix")}


async def test_every_known_readers_first_list_is_a_hit_with_the_list_a_miss_builds(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    cache_settings: dict[str, Any],
) -> None:
    model_dir = tmp_path / "models"
    on = start_server(
        model_dir=model_dir, model_poll_interval=0.05, precompute=True, **cache_settings
    )
    off = start_server(model_dir=model_dir, model_poll_interval=0.05)
    apis = [connect(on), connect(off)]
    for api in apis:
        await load_world(api, world)
    cached_before = sample("papersift_precompute_lists_total")

    publish(model_dir, parts, "v1")
    for api in apis:
        await model_loaded(api, "v1")
    await settled(on, 1)

    readers = sorted(world.user_topic)
    assert sample("papersift_precompute_lists_total") - cached_before == len(readers)
    assert sample("papersift_precompute_pending_readers") == 0
    for user in readers:
        hit = await apis[0].rank(user, date=COLD_DAY, limit=20)
        miss = await apis[1].rank(user, date=COLD_DAY, limit=20)
        assert hit.cached and not miss.cached, user
        assert hit.strategy == pb.STRATEGY_PERSONAL
        assert uncached(hit) == miss, user

    # New papers for the day: computed again, at the day's new revision.
    paper = dataclasses.replace(world.papers_on(DAYS[-1])[0], paper_id=PaperId("arxiv:2504.99999"))
    for api in apis:
        await api.upsert([paper_to_proto(paper)])
    await settled(on, 2)
    for user in readers[:6]:
        hit = await apis[0].rank(user, date=COLD_DAY, limit=50)
        miss = await apis[1].rank(user, date=COLD_DAY, limit=50)
        assert hit.cached and not miss.cached, user
        assert "arxiv:2504.99999" in {entry.paper.paper_id for entry in hit.papers}
        assert uncached(hit) == miss, user


async def test_a_reader_who_interacts_after_the_pass_gets_a_fresh_list(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    model_dir = tmp_path / "models"
    server = start_server(model_dir=model_dir, model_poll_interval=0.05, precompute=True)
    api = connect(server)
    await load_world(api, world)
    publish(model_dir, parts, "v1")
    await model_loaded(api, "v1")
    await settled(server, 1)
    user = "graphs-reader-0"
    cold = world.papers_on(DAYS[-1])
    galaxies = [p for p in cold if world.paper_topic[p.paper_id] == "galaxies"]

    await api.record([make_click("after-pass", user, galaxies[0].paper_id)])
    reply = await api.rank(user, date=COLD_DAY, limit=20)

    assert not reply.cached
    assert reply.strategy == pb.STRATEGY_PERSONAL


def many_readers(parts: tuple[Any, Any], count: int) -> tuple[Any, Scorer, list[str]]:
    """The trained world's featurizer and item side, with ``count`` readers of random vectors."""
    featurizer, trained = parts
    rng = np.random.default_rng(0)
    arrays = dict(trained.arrays)
    k = arrays["user_embeddings"].shape[1]
    arrays["user_embeddings"] = rng.normal(size=(count, k)).astype(np.float32) / np.sqrt(k)
    arrays["user_biases"] = np.zeros(count, dtype=np.float32)
    arrays["profile_data"] = np.zeros(0, dtype=np.float32)
    arrays["profile_indices"] = np.zeros(0, dtype=np.int32)
    arrays["profile_indptr"] = np.zeros(count + 1, dtype=np.int64)
    users = [f"reader-{n:05d}" for n in range(count)]
    return featurizer, Scorer(arrays, trained.params, users), users


async def a_long_pass(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    **settings: Any,
) -> tuple[ThreadedServer, Api, list[str]]:
    """A server in the middle of a pass over :data:`MANY` readers, in blocks of 8."""
    model_dir = tmp_path / "models"
    server = start_server(
        model_dir=model_dir,
        model_poll_interval=0.05,
        precompute=True,
        precompute_block=8,
        **settings,
    )
    api = connect(server)
    await load_world(api, world)
    featurizer, scorer, users = many_readers(parts, MANY)
    write_bundle(
        model_dir,
        featurizer=featurizer,
        scorer=scorer,
        trained_at=dt.datetime(2025, 4, 3, 6, tzinfo=dt.UTC),
        data_start=DAYS[0],
        data_end=DAYS[1],
        params={},
        metrics={},
        version="many",
    )
    await until(lambda: precomputer(server).busy, "the start of a pass")
    return server, api, users


async def test_live_requests_are_answered_during_a_pass(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    server, api, users = await a_long_pass(tmp_path, world, parts, start_server, connect)

    answered: list[pb.RankPapersResponse] = []
    for user in ["stranger", users[-1], users[-2], "graphs-reader-0"]:
        answered.append(await api.rank(user, date=COLD_DAY, limit=5))
    assert precomputer(server).busy, "the pass ended before the live requests were answered"
    assert sample("papersift_precompute_pending_readers") > 0

    assert all(reply.papers for reply in answered)
    assert answered[1].strategy == pb.STRATEGY_PERSONAL
    await settled(server, 1)
    assert sample("papersift_precompute_pending_readers") == 0
    reply = await api.rank(users[len(users) // 2], date=COLD_DAY, limit=5)
    assert reply.cached and reply.strategy == pb.STRATEGY_PERSONAL


async def test_a_reader_erased_during_a_pass_keeps_no_cached_list(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    redis_url: str,
    redis_prefix: str,
) -> None:
    server, api, users = await a_long_pass(
        tmp_path,
        world,
        parts,
        start_server,
        connect,
        redis_url=redis_url,
        cache_prefix=redis_prefix,
    )
    client = redis.Redis.from_url(redis_url)

    def lists_of(user: str) -> list[bytes]:
        return list(client.scan_iter(match=f"{redis_prefix}:rank:*:{user}:*", count=10_000))

    # Readers early in the pass (already cached), late (not reached yet) and in between.
    victims = [users[n] for n in (0, 1, 9, 500, 1_001, 2_000, 2_003, 3_000, 3_998, 3_999)]
    try:
        for victim in victims:
            await api.stub.DeleteUser(pb.DeleteUserRequest(user_id=victim), timeout=10)
            assert lists_of(victim) == [], victim
        assert precomputer(server).busy, "the pass ended before the readers were erased"
        await settled(server, 1)

        for victim in victims:
            assert lists_of(victim) == [], victim
            reply = await api.rank(victim, date=COLD_DAY, limit=5)
            assert reply.strategy != pb.STRATEGY_PERSONAL and not reply.cached
        assert lists_of(users[1_500]), "the pass cached no list at all"
    finally:
        client.close()


async def test_an_erasure_between_the_last_check_and_the_write_leaves_no_list(
    tmp_path: Path, world: World, parts: tuple[Any, Any], redis_url: str, redis_prefix: str
) -> None:
    """The narrowest race, made to happen: the reader is erased (as DeleteUser does it) after
    the block's revisions were checked again and before its lists are written."""
    store = Store(f"sqlite:///{tmp_path / 'race.db'}")
    store.migrate()
    store.upsert_papers(world.papers)
    store.record_interactions(world.interactions)
    publish(tmp_path / "models", parts, "v1")
    model = load_version(tmp_path / "models", "v1")
    cache = RedisCache(redis_url, prefix=redis_prefix)
    service = RankingService(store, cache, ModelHolder(tmp_path / "models"))
    victim = UserId(model.scorer.user_ids[0])
    calls = 0

    async def revisions_of(users: Sequence[UserId], date: dt.date) -> dict[UserId, Revisions]:
        nonlocal calls
        calls += 1
        found = await asyncio.to_thread(lambda: {u: store.revisions(u, date) for u in users})
        if calls == 2:  # the check after the first block was built: unchanged, then erased
            await service.delete_user(victim)
        return found

    runner = Precomputer(
        store,
        cache,
        ListBuilder(store),
        lambda: model,
        revisions_of,
        PrecomputeSettings(poll_interval=0.01),
    )
    task = asyncio.create_task(runner.run())
    client = redis.Redis.from_url(redis_url)
    try:
        await until(lambda: runner.passes >= 1, "a pass")
        assert calls >= 3
        assert list(client.scan_iter(match=f"{redis_prefix}:rank:*:{victim}:*")) == []
        other = model.scorer.user_ids[1]
        assert list(client.scan_iter(match=f"{redis_prefix}:rank:*:{other}:*"))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        client.close()
        await cache.close()
        store.close()
