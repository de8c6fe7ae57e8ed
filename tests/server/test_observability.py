"""Metrics and logs of an in-process server over a real channel (one process: its registry)."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from prometheus_client import REGISTRY

from papersift.server.logs import configure_logging
from tests.server.api import Api, error_of, make_paper


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def settled(name: str, expected: float, **labels: str) -> float:
    """The sample once it reaches ``expected``, or its value after a bounded wait.

    An aborted call's status reaches the client before the server has finished recording it.
    """
    for _ in range(100):
        if sample(name, **labels) == expected:
            break
        await asyncio.sleep(0.02)
    return sample(name, **labels)


async def test_rpcs_are_counted_by_method_and_code(api: Api) -> None:
    ok = sample("papersift_rpc_duration_seconds_count", method="RankPapers", code="OK")
    missing = sample("papersift_rpc_duration_seconds_count", method="RankPapers", code="NOT_FOUND")
    await api.upsert([make_paper(1)])
    await api.rank("reader")
    await api.rank("reader")
    failure = await error_of(api.rank("reader", date="2030-01-01"))

    assert failure.code is grpc.StatusCode.NOT_FOUND
    assert sample("papersift_rpc_duration_seconds_count", method="RankPapers", code="OK") == ok + 2
    name = "papersift_rpc_duration_seconds_count"
    assert await settled(name, missing + 1, method="RankPapers", code="NOT_FOUND") == missing + 1


async def test_cache_hits_misses_and_rankings_are_counted(api: Api) -> None:
    hits, misses = (
        sample("papersift_cache_requests_total", result="hit"),
        sample("papersift_cache_requests_total", result="miss"),
    )
    popular = sample("papersift_rankings_total", strategy="popular")
    await api.upsert([make_paper(1)])
    await api.rank("reader")
    await api.rank("reader")

    assert sample("papersift_cache_requests_total", result="miss") == misses + 1
    assert sample("papersift_cache_requests_total", result="hit") == hits + 1
    assert sample("papersift_rankings_total", strategy="popular") == popular + 1


async def test_json_access_log_has_rpc_status_duration_and_only_the_user_id(
    api: Api, capfd: pytest.CaptureFixture[str]
) -> None:
    await api.upsert([make_paper(1)])
    capfd.readouterr()
    configure_logging("INFO", "json")
    await api.rank("reader-7", limit=3)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]

    access = [line for line in lines if line["logger"] == "papersift.access"]
    assert len(access) == 1
    entry = access[0]
    assert (entry["rpc"], entry["status"], entry["user_id"]) == ("RankPapers", "OK", "reader-7")
    assert entry["duration_ms"] > 0
    assert set(entry) == {
        "time", "level", "logger", "message", "process", "rpc", "status", "duration_ms", "user_id"
    }  # fmt: skip
