"""``papersift-server`` as started by a person: database URLs, SQLite paths, the default number
of workers, and a start-up log that says where the time goes (issue 11, deliverable 6)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.core.errors import StoreNotFound
from papersift.core.store import DatabaseUrlError, require_existing, resolve_url
from papersift.server.app import PaperSiftServer
from papersift.server.cli import main as server_main
from papersift.server.config import Settings, _cores
from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc
from tests.conftest import REPO_ROOT, ThreadedServer
from tests.server.api import DAY, make_paper

START_TIMEOUT = 90.0  # a loaded machine starts Python slowly
PHASES = {
    "imports",
    "settings",
    "server imports",
    "model load",
    "gRPC bind",
    "store connect and migrations",
    "total, to serving",
}


def settings(**values: Any) -> Settings:
    """Settings from the environment and ``values`` (typed loosely: pydantic fills the rest)."""
    return Settings(**values)


def alias_of(url: str, scheme: str) -> str:
    """``url`` (postgresql+psycopg://...) written with another scheme, e.g. ``postgres``."""
    return scheme + "://" + url.split("://", 1)[1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PAPERSIFT_* setting from the surroundings."""
    for name in list(os.environ):
        if name.startswith("PAPERSIFT_"):
            monkeypatch.delenv(name)


# --- database URLs -------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgres+psycopg"])
def test_postgres_aliases_are_taken_as_psycopg(scheme: str) -> None:
    url, alias = resolve_url(f"{scheme}://app:secret@db:5432/papersift")

    assert alias == scheme
    assert url.drivername == "postgresql+psycopg"
    assert url.render_as_string(hide_password=False) == (
        "postgresql+psycopg://app:secret@db:5432/papersift"
    )


def test_supported_urls_are_kept() -> None:
    for text in ("postgresql+psycopg://app@db/papersift", "sqlite:///papersift.db", "sqlite://"):
        url, alias = resolve_url(text)
        assert alias is None
        assert url.render_as_string(hide_password=False) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "papersift.db",
        "mysql://app:secret@db/papersift",
        "http://app:secret@db/",
        "postgresql+psycopg2://app:secret@db/papersift",
        "nonsense://app:secret@db",
    ],
)
def test_unusable_urls_are_refused_with_both_forms_named(text: str) -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        resolve_url(text)

    message = str(refused.value)
    assert "postgresql+psycopg://user@host/db" in message
    assert "secret" not in message
    if "psycopg2" not in text:
        assert "sqlite:///path" in message


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize(
    "url", ["mysql://app:secret@db/papersift", "not a url", "postgresql+psycopg2://db/x"]
)
def test_server_refuses_an_unusable_url_without_a_traceback(
    capsys: pytest.CaptureFixture[str], command: str, url: str
) -> None:
    assert server_main([command, "--database-url", url]) == 2

    err = capsys.readouterr().err
    assert err.startswith("papersift-server: --database-url: ")
    assert "postgresql+psycopg://user@host/db" in err
    assert len(err.splitlines()) == 1, err  # nothing about --workers or anything else
    assert "secret" not in err


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_migrate_accepts_a_postgres_alias_and_says_so(
    postgres_url: str, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    assert server_main(["migrate", "--database-url", alias_of(postgres_url, scheme)]) == 0

    out, err = capsys.readouterr()
    assert out.startswith("migrated postgresql+psycopg://")
    assert f"database URL {scheme}://... taken as postgresql+psycopg://..." in err


def test_a_server_on_a_postgres_alias_serves(
    start_server: Callable[..., ThreadedServer], postgres_url: str
) -> None:
    server = start_server(database_url=alias_of(postgres_url, "postgres"))
    paper = make_paper(1)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.RankerStub(channel)
        stub.UpsertPapers(pb.UpsertPapersRequest(papers=[paper]), timeout=10)
        ranking = stub.RankPapers(pb.RankPapersRequest(user_id="u", date=DAY), timeout=10)
    assert [entry.paper.paper_id for entry in ranking.papers] == [paper.paper_id]


# --- SQLite files that do not exist --------------------------------------------------------


def test_require_existing_names_migrate_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreNotFound) as refused:
        require_existing(f"sqlite:///{missing}")

    assert "papersift-server migrate" in str(refused.value)
    assert not missing.exists()
    (tmp_path / "there.db").touch()
    require_existing(f"sqlite:///{tmp_path / 'there.db'}")
    require_existing("sqlite://")  # in memory: nothing to check
    require_existing("postgresql+psycopg://app@db/papersift")  # checked on first use


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_server_refuses_a_sqlite_file_in_a_folder_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    folder = tmp_path / "no" / "such"
    url = f"sqlite:///{folder / 'papersift.db'}"

    assert server_main([command, "--database-url", url]) == 2

    err = capsys.readouterr().err
    assert err == (
        f"papersift-server: --database-url: the folder {folder} of the SQLite file does not "
        "exist; create it first\n"
    )
    assert not folder.exists()


# --- workers ----------------------------------------------------------------------------------


def test_default_workers_is_one_without_redis_and_the_cpu_count_with_it(clean_env: None) -> None:
    assert settings().workers == 1
    assert settings(redis_url="").workers == 1
    assert settings(redis_url="redis://cache:6379/0").workers == _cores()
    assert settings(workers=3).workers == 3
    assert settings(redis_url="redis://cache:6379/0", workers=1).workers == 1


def test_default_workers_follows_the_environment(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERSIFT_REDIS_URL", "redis://cache:6379/0")
    assert settings().workers == _cores()
    monkeypatch.setenv("PAPERSIFT_WORKERS", "5")
    assert settings().workers == 5


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({}, None),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "100000 100000\n"}, 1),
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ],
)
def test_cpu_count_is_capped_by_the_cgroup_quota(
    tmp_path: Path, files: dict[str, str], cores: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    unlimited = len(os.sched_getaffinity(0))

    assert _cores(tmp_path) == (unlimited if cores is None else min(cores, unlimited))


def test_serve_help_says_the_workers_default_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        server_main(["serve", "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: 1, or the CPU count ({_cores()}) with --redis-url)" in text
    assert "the CPU count (default:" not in text
    assert "DeleteUser clears only one worker's lists" in text


# --- a real start --------------------------------------------------------------------------


def start_and_stop(command: list[str], log: Path) -> list[dict[str, Any]]:
    """Run ``papersift-server`` until it serves and answers a health check; SIGTERM it; return
    its JSON log records."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PAPERSIFT_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "papersift.server.cli", *command, "--log-format", "json"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "total, to serving" not in log.read_text():
            assert process.poll() is None, f"server exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not serving:\n{log.read_text()}"
            time.sleep(0.1)
        records = [json.loads(line) for line in log.read_text().splitlines()]
        listening = next(r["message"] for r in records if "listening on" in r["message"])
        address = re.search(r"listening on (\S+)", listening)
        assert address is not None
        with grpc.insecure_channel(address.group(1)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_serve_on_a_fresh_sqlite_file_runs_one_worker_and_logs_each_phase(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    records = start_and_stop(
        [
            *("serve", "--listen", "127.0.0.1:0", "--database-url", f"sqlite:///{database}"),
            *("--model-dir", str(tmp_path / "models")),
        ],
        tmp_path / "server.log",
    )

    phases = {r["phase"]: r["seconds"] for r in records if "phase" in r}
    assert set(phases) >= PHASES, records
    assert all(isinstance(seconds, float) and seconds >= 0 for seconds in phases.values())
    assert phases["total, to serving"] >= phases["server imports"]
    # One process, no supervisor, and no warning about a default the user never chose.
    assert len({r["process"] for r in records}) == 1
    assert not [r for r in records if r["level"] == "WARNING"], records
    assert not [r for r in records if "supervisor" in r["message"]]
    assert database.exists()  # serve creates and migrates the store it is given


def test_serve_with_redis_and_any_port_runs_one_worker(
    tmp_path: Path, redis_url: str, redis_prefix: str, postgres_url: str
) -> None:
    records = start_and_stop(
        [
            *("serve", "--listen", "127.0.0.1:0", "--redis-url", redis_url),
            *("--cache-prefix", redis_prefix, "--model-dir", str(tmp_path / "models")),
            *("--database-url", alias_of(postgres_url, "postgres")),
        ],
        tmp_path / "server.log",
    )

    messages = [r["message"] for r in records]
    assert "database URL postgres://... taken as postgresql+psycopg://..." in " ".join(messages)
    assert len({r["process"] for r in records}) == 1
    if _cores() > 1:  # the default would be several workers, which cannot share port 0
        assert any("any free port, which workers cannot share" in m for m in messages)


async def test_a_store_that_comes_up_late_is_retried_at_least_every_two_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PaperSiftServer(
        settings(
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/papersift",
            model_dir=tmp_path / "models",
            redis_url=None,
        )
    )
    delays: list[float] = []

    async def no_sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 8:
            raise asyncio.CancelledError

    monkeypatch.setattr(asyncio, "sleep", no_sleep)  # the one app.py calls
    try:
        with pytest.raises(asyncio.CancelledError):
            await server._become_ready()
    finally:
        server._store.close()

    assert delays[:3] == [0.5, 1.0, 2.0]
    assert max(delays) == 2.0
