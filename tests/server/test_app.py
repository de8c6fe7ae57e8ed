"""The server as a whole: health, reflection, Redis cache (and Redis down), store down, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from papersift.server.cli import main as server_main
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.conftest import Api, error_of, make_event, make_paper


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def health_status(api: Api, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(api.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(reply.status)


async def test_health_is_serving_for_server_and_ranker(api: Api) -> None:
    assert await health_status(api) == health_pb2.HealthCheckResponse.SERVING
    assert await health_status(api, "papersift.v1.Ranker") == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(api: Api) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(api.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    services: set[str] = set()
    async for reply in stub.ServerReflectionInfo(iter([request])):
        services |= {s.name for s in reply.list_services_response.service}
    assert {"papersift.v1.Ranker", "grpc.health.v1.Health"} <= services


async def test_rankings_are_cached_in_redis_and_deleted_with_the_user(
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    redis_url: str,
    redis_prefix: str,
) -> None:
    api = connect(start_server(redis_url=redis_url, cache_prefix=redis_prefix))
    await api.upsert([make_paper(n) for n in range(1, 4)])

    first = await api.rank("u:1")
    second = await api.rank("u:1")

    assert (first.cached, second.cached) == (False, True)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"{redis_prefix}:rank:*")]
        assert len(keys) == 1
        assert ":2025-04-01:u%3A1:" in keys[0]
        assert 0 < client.ttl(keys[0]) <= 36 * 3600
        deleted = await api.stub.DeleteUser(pb.DeleteUserRequest(user_id="u:1"), timeout=10)
        assert deleted.cached_lists_deleted == 1
        assert list(client.scan_iter(match=f"{redis_prefix}:rank:*")) == []
    finally:
        client.close()


async def test_ranking_works_when_redis_is_unreachable(
    start_server: Callable[..., ThreadedServer], connect: Callable[[ThreadedServer], Api]
) -> None:
    api = connect(start_server(redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    await api.upsert([make_paper(n) for n in range(1, 4)])
    await api.record([make_event("c", "u2", 2)])

    for _ in range(5):
        ranking = await api.rank("u1")
        assert not ranking.cached
        assert [p.paper.paper_id[-1] for p in ranking.papers] == ["2", "3", "1"]
    assert await health_status(api) == health_pb2.HealthCheckResponse.SERVING


async def test_delete_user_fails_clearly_when_redis_cannot_be_cleaned(
    start_server: Callable[..., ThreadedServer], connect: Callable[[ThreadedServer], Api]
) -> None:
    api = connect(start_server(redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    await api.upsert([make_paper(1)])
    await api.record([make_event("c", "u1", 1)])

    error = await error_of(api.stub.DeleteUser(pb.DeleteUserRequest(user_id="u1"), timeout=10))

    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.details == "the ranking cache is unavailable; nothing was changed, retry later"
    # Nothing was erased, so the caller can simply retry later.
    duplicate = await api.record([make_event("c", "u1", 1)])
    assert duplicate.duplicates == 1


async def test_store_down_means_not_serving_and_unavailable(
    start_server: Callable[..., ThreadedServer], connect: Callable[[ThreadedServer], Api]
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/papersift"
    api = connect(start_server(database_url=url, wait_until_ready=False))

    assert await health_status(api) == health_pb2.HealthCheckResponse.NOT_SERVING
    error = await error_of(api.upsert([make_paper(1)]))
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert "not ready" in error.details
    info = await api.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5)
    assert not info.loaded


async def test_server_becomes_ready_once_the_store_appears(
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    tmp_path: Path,
) -> None:
    # An SQLite file in a folder that does not exist yet is "unreachable" until it is created.
    folder = tmp_path / "later"
    server = start_server(
        database_url=f"sqlite:///{folder / 'papersift.db'}", wait_until_ready=False
    )
    api = connect(server)
    assert await health_status(api) == health_pb2.HealthCheckResponse.NOT_SERVING

    folder.mkdir()
    for _ in range(100):
        if await health_status(api) == health_pb2.HealthCheckResponse.SERVING:
            break
        await asyncio.sleep(0.1)
    assert await health_status(api) == health_pb2.HealthCheckResponse.SERVING
    assert (await api.upsert([make_paper(1)])).inserted == 1


def test_sigterm_drains_and_exits_cleanly(tmp_path: Path) -> None:
    port = closed_port()
    env = {**os.environ, "PAPERSIFT_REDIS_URL": ""}
    command = [
        sys.executable, "-m", "papersift.server.cli", "serve",
        "--listen", f"127.0.0.1:{port}",
        "--database-url", f"sqlite:///{tmp_path / 'papersift.db'}",
        "--grace-period", "2",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            status = None
            deadline = time.monotonic() + 90  # a loaded CI machine starts Python slowly
            while time.monotonic() < deadline:
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                except grpc.RpcError:
                    status = None
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
                time.sleep(0.1)
            assert status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "draining" in stderr
    assert "stopped" in stderr


def test_cli_reports_bad_settings_by_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert server_main(["serve", "--listen", "nowhere"]) == 2
    assert "--listen" in capsys.readouterr().err


def test_cli_help_lists_commands_and_environment(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        server_main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "migrate" in out
    assert "PAPERSIFT_DATABASE_URL" in out


def test_cli_migrate_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert server_main(["migrate", "--database-url", url]) == 0
    assert server_main(["migrate", "--database-url", url]) == 0  # idempotent
    assert (tmp_path / "fresh.db").exists()
    assert "migrated" in capsys.readouterr().out


def test_cli_explains_a_missing_server_extra() -> None:
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pydantic':\n"
        "            raise ModuleNotFoundError(name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from papersift.server.cli import main\n"
    )
    result = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'papersift[server]'" in result.stderr
    assert "Traceback" not in result.stderr
