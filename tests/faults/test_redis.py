"""Redis failing under a running server: killed, slow, or answering with errors.

Each test runs a ``redis-server`` of its own (never the shared one), caches real ranked lists
through a real server, upsets Redis mid-run, and counts what the cache did with the documented
``papersift_cache_requests_total{result}`` counter (the in-process server shares the test
process's Prometheus registry). Times are reported, never asserted beyond the calls' deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import pytest
import redis
from prometheus_client import REGISTRY

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.faults.proxy import TcpProxy
from tests.faults.redis_process import RedisProcess
from tests.faults.report import FaultReport
from tests.server.api import DAY, Api, make_event, make_paper

CALL_TIMEOUT = 5.0
"""Deadline of every ranking call: generous, so a loaded machine does not fail the test."""
RESUME_WITHIN = 45.0
"""Bound on waiting for caching to resume (the reconnection backs off to at most 30 s)."""
READERS = [f"reader-{n}" for n in range(10)]
REFUSING_FOR = 2.0
"""Seconds Redis refuses writes in the error test: past the first reconnection attempt (1 s)."""
OTHER_DAY = "2025-04-02"
CACHE_LOGGER = "papersift.server.cache"
RESULTS = ("hit", "miss", "error", "skipped")


def cache_counts() -> dict[str, float]:
    """The cache counters now, by result."""
    return {
        result: REGISTRY.get_sample_value("papersift_cache_requests_total", {"result": result})
        or 0.0
        for result in RESULTS
    }


def counted_since(before: dict[str, float]) -> dict[str, int]:
    """Cache lookups and writes since ``before``, by result."""
    now = cache_counts()
    return {result: int(now[result] - before[result]) for result in RESULTS}


def paper_ids(reply: pb.RankPapersResponse) -> list[str]:
    return [entry.paper.paper_id for entry in reply.papers]


async def rank_timed(api: Api, user: str) -> tuple[pb.RankPapersResponse, float]:
    """One ranking call with its deadline, and how long it took."""
    start = time.perf_counter()
    reply = await api.stub.RankPapers(
        pb.RankPapersRequest(user_id=user, date=DAY, limit=50), timeout=CALL_TIMEOUT
    )
    return reply, time.perf_counter() - start


async def seed_and_cache(api: Api) -> dict[str, list[str]]:
    """Papers on two days, a few clicks, and every reader's list cached; returns the lists."""
    await api.upsert([make_paper(n) for n in range(1, 31)])
    await api.upsert([make_paper(n, date=OTHER_DAY) for n in range(31, 41)])
    await api.record([make_event(f"seed-{n}", f"clicker-{n}", n) for n in range(1, 6)])
    lists = {}
    for reader in READERS:
        first, _ = await rank_timed(api, reader)
        again, _ = await rank_timed(api, reader)
        assert (first.cached, again.cached) == (False, True)
        lists[reader] = paper_ids(again)
    return lists


async def wait_until_cached(api: Api, user: str) -> float | None:
    """Seconds until ``user``'s list comes from the cache again, or None within the bound."""
    start = time.monotonic()
    while time.monotonic() - start < RESUME_WITHIN:
        reply, _ = await rank_timed(api, user)
        if reply.cached:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    return None


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(CACHE_LOGGER) and record.levelno == logging.WARNING
    ]


async def test_redis_killed_mid_run_serves_uncached_then_caches_again(
    own_redis: RedisProcess,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fault_report: FaultReport,
) -> None:
    api = connect(start_server(redis_url=own_redis.url))
    before = await seed_and_cache(api)

    counts = cache_counts()
    own_redis.kill()
    calls = [await rank_timed(api, READERS[n % len(READERS)]) for n in range(50)]
    # Writes go to the store, not to Redis: clicks on the other day's papers, so the lists of
    # the ranked day stay what they were.
    clicks = [make_event(f"outage-{n}", "outage-reader", n) for n in range(31, 41)]
    recorded = await api.record(clicks)
    during = counted_since(counts)

    own_redis.start()
    resumed_after = await wait_until_cached(api, READERS[0])
    after = {reader: paper_ids((await rank_timed(api, reader))[0]) for reader in READERS}
    resent = await api.record(clicks)

    served_right = sum(
        not reply.cached and paper_ids(reply) == before[READERS[n % len(READERS)]]
        for n, (reply, _) in enumerate(calls)
    )
    same_after = sum(after[reader] == before[reader] for reader in READERS)
    fault_report(
        "Redis killed (SIGKILL) mid-run, started again on the same port",
        f"served {served_right}/50 rankings uncached and unchanged, slowest "
        f"{max(s for _, s in calls) * 1000:.0f} ms (deadline {CALL_TIMEOUT:.0f} s); breaker: "
        f"{during['error']} Redis error(s), then {during['skipped']} lookups/writes skipped; "
        + (
            f"cached again {resumed_after:.1f} s after Redis came back"
            if resumed_after is not None
            else f"NOT cached again within {RESUME_WITHIN:.0f} s"
        ),
        data_lost=resent.duplicates != len(clicks),
        evidence=f"{recorded.accepted}/{len(clicks)} clicks recorded during the outage, all in "
        f"the store afterwards (re-sent: {resent.duplicates} duplicates); lists after recovery "
        f"identical for {same_after}/{len(READERS)} readers",
    )

    assert served_right == 50
    assert during["error"] <= 2, during  # one timeout, not one per request
    assert during["skipped"] >= 2 * 50 - 3, during
    assert recorded.accepted == len(clicks)
    assert resumed_after is not None, "caching did not resume after Redis came back"
    assert same_after == len(READERS)
    assert resent.duplicates == len(clicks)


@pytest.mark.parametrize("how", ["debug-sleep", "slow-link"])
async def test_slow_redis_costs_one_timeout_then_is_skipped(
    how: str,
    own_redis: RedisProcess,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fault_report: FaultReport,
) -> None:
    proxy = TcpProxy("127.0.0.1", own_redis.port) if how == "slow-link" else None
    sleeper: threading.Thread | None = None
    try:
        url = own_redis.url
        if proxy is not None:
            proxy.start()
            url = f"redis://{proxy.address}/0"
        api = connect(start_server(redis_url=url))
        before = await seed_and_cache(api)

        counts = cache_counts()
        if proxy is not None:
            proxy.delay = 0.6  # every reply later than the cache's 0.5 s bound on an operation
            fault = "Redis slow: every packet held 0.6 s by a loopback proxy"
        else:
            sleeper = _debug_sleep(own_redis, seconds=2.5)
            fault = "Redis slow: DEBUG SLEEP 2.5 (server frozen) mid-run"
        calls = [await rank_timed(api, READERS[n % len(READERS)]) for n in range(30)]
        during = counted_since(counts)
        if proxy is not None:
            proxy.delay = 0.0
        if sleeper is not None:
            sleeper.join(timeout=10)

        resumed_after = await wait_until_cached(api, READERS[0])
        after = [(await rank_timed(api, reader))[0] for reader in READERS]
    finally:
        if proxy is not None:
            proxy.close()
        if sleeper is not None:
            sleeper.join(timeout=10)

    served_right = sum(
        not reply.cached and paper_ids(reply) == before[READERS[n % len(READERS)]]
        for n, (reply, _) in enumerate(calls)
    )
    # The lists cached before the fault are still in Redis: read back, they must be the same
    # (a late reply taken for another command would show here).
    from_cache = sum(
        reply.cached and paper_ids(reply) == before[reader]
        for reader, reply in zip(READERS, after, strict=True)
    )
    fault_report(
        fault,
        f"served {served_right}/30 rankings uncached and unchanged: the first waited "
        f"{calls[0][1] * 1000:.0f} ms, the others at most "
        f"{max(seconds for _, seconds in calls[1:]) * 1000:.0f} ms (deadline "
        f"{CALL_TIMEOUT:.0f} s); breaker: {during['error']} timeout(s), then "
        f"{during['skipped']} lookups/writes skipped; "
        + (
            f"cached again {resumed_after:.1f} s after Redis was fast again"
            if resumed_after is not None
            else f"NOT cached again within {RESUME_WITHIN:.0f} s"
        ),
        data_lost=from_cache != len(READERS),
        evidence=f"{from_cache}/{len(READERS)} lists read back from the cache after recovery "
        "were the ones cached before the fault (no late reply taken for another command)",
    )

    assert served_right == 30
    assert 1 <= during["error"] <= 2, during
    assert during["skipped"] >= 2 * 30 - 3, during
    assert resumed_after is not None, "caching did not resume after Redis was fast again"
    assert from_cache == len(READERS)


def _debug_sleep(server: RedisProcess, seconds: float) -> threading.Thread:
    """Freeze ``server`` for ``seconds`` (from a thread); returns once it has frozen."""

    def freeze() -> None:
        with server.client(timeout=seconds + 5) as client:
            client.execute_command("DEBUG", "SLEEP", seconds)

    thread = threading.Thread(target=freeze, name="redis-debug-sleep", daemon=True)
    thread.start()
    with server.client(timeout=0.1) as probe:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                probe.ping()
            except redis.TimeoutError:
                return thread  # it no longer answers: frozen
            time.sleep(0.01)
    pytest.fail("redis-server did not freeze on DEBUG SLEEP")


async def test_redis_refusing_writes_mid_run_serves_and_counts_errors(
    own_redis: RedisProcess,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fault_report: FaultReport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=CACHE_LOGGER)
    api = connect(start_server(redis_url=own_redis.url))
    before = await seed_and_cache(api)

    counts = cache_counts()
    with own_redis.client() as admin:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)  # every write now fails: OOM command not allowed
    calls: list[tuple[str, pb.RankPapersResponse, float]] = []
    start = time.monotonic()
    while time.monotonic() - start < REFUSING_FOR:
        # Readers whose lists were cached before (reads still work) alternating with new
        # readers (whose lists fail to be written).
        n = len(calls)
        reader = READERS[n % len(READERS)] if n % 2 else f"new-reader-{n}"
        calls.append((reader, *(await rank_timed(api, reader))))
    during = counted_since(counts)
    warnings = warnings_of(caplog)
    with own_redis.client() as admin:
        admin.config_set("maxmemory", 0)
    resumed_after = await wait_until_cached(api, "reader-after-oom")

    known = [(reader, reply) for reader, reply, _ in calls if reader in before]
    unchanged = sum(paper_ids(reply) == before[reader] for reader, reply in known)
    fault_report(
        f"Redis refuses every write (maxmemory 1, noeviction: OOM errors) for {REFUSING_FOR:.0f} s",
        f"served {len(calls)}/{len(calls)} rankings "
        f"({sum(reply.cached for _, reply, _ in calls)} from cache), slowest "
        f"{max(seconds for _, _, seconds in calls) * 1000:.0f} ms; cache: {during['hit']} hits, "
        f"{during['error']} error(s), {during['skipped']} skipped; {len(warnings)} "
        f"warning(s) logged; "
        + (
            f"caching again {resumed_after:.1f} s after writes were allowed"
            if resumed_after is not None
            else f"NOT caching again within {RESUME_WITHIN:.0f} s"
        ),
        data_lost=unchanged != len(known),
        evidence=f"only derived lists went uncached; {unchanged}/{len(known)} lists of readers "
        "cached before the fault were served unchanged",
    )

    assert unchanged == len(known)
    assert 1 <= during["error"] <= 2, during  # the breaker, not a failure per call
    # Not declared back (and failing again) at every reconnection attempt while Redis refuses.
    assert len(warnings) == 1, warnings
    assert "refuses commands (OutOfMemoryError" in warnings[0]
    assert resumed_after is not None, "caching did not resume after Redis took writes again"
