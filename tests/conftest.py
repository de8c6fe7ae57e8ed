"""Fixtures shared by every test folder: real Redis and real PostgreSQL, each test on its own keys
or database, cleaned up afterwards.

Outside CI, point the tests at other services with ``REDIS_URL`` and ``DATABASE_URL``
(a PostgreSQL URL whose database is used only to create and drop per-test databases).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from papersift.server.app import PaperSiftServer
from papersift.server.config import Settings

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ENV = "PAPERSIFT_SHARED_DIR"


def _shared_dir() -> Path:
    """The team's shared folder (``data/``, ``seeds/``): ``$PAPERSIFT_SHARED_DIR``, else the
    ``shared`` folder next to the repository or next to one of its parents, else this
    machine's ``/work/shared`` (a clone made elsewhere, e.g. in /tmp, still finds it)."""
    if os.environ.get(SHARED_ENV):
        return Path(os.environ[SHARED_ENV])
    candidates = [parent / "shared" for parent in REPO_ROOT.parents] + [Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "data").is_dir():
            return candidate
    return REPO_ROOT.parent / "shared"  # missing: the tests that need it say where to put it


SHARED = _shared_dir()
SHARED_DATA = SHARED / "data"
SHARED_SEEDS = SHARED / "seeds"


def require_shared(path: Path) -> Path:
    """``path`` in the shared folder, or fail the test saying how to provide it."""
    if not path.exists():
        pytest.fail(
            f"{path} is missing: these tests read the team's shared folder; put it beside the "
            f"repository or set {SHARED_ENV}",
            pytrace=False,
        )
    return path


FIXTURES = Path(__file__).resolve().parent / "fixtures"

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

REDIS_HOWTO = (
    "start one with `redis-server --daemonize yes --port 6379 --save ''` "
    "or set REDIS_URL to a Redis the tests may write to"
)
POSTGRES_HOWTO = (
    "start one with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "or set DATABASE_URL to a PostgreSQL URL whose user may CREATE DATABASE"
)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """Give every test the root logger it started with.

    ``papersift-server``'s ``main`` (run in-process by some tests) sets up logging for the
    whole process, bound to that test's captured stderr; later tests must not log there.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis the tests use; fails (never skips) when it is not reachable."""
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is not reachable ({exc}); {REDIS_HOWTO}", pytrace=False)
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"papersift-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the PostgreSQL database used to create and drop the per-test databases."""
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is not "
            f"reachable ({exc.orig}); {POSTGRES_HOWTO}",
            pytrace=False,
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of this test's own, dropped afterwards."""
    name = f"papersift_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file of this test's own."""
    return f"sqlite:///{tmp_path / 'papersift.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL, each a fresh database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


class ThreadedServer:
    """A real papersift server on 127.0.0.1:<free port>, run by its own event loop in a thread.

    Sync tests, async tests and the sync client can all call it over a real gRPC channel.
    """

    def __init__(self, settings: Settings, *, wait_until_ready: bool = True) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self._run(self._start(settings, wait_until_ready))

    async def _start(self, settings: Settings, wait_until_ready: bool) -> PaperSiftServer:
        server = PaperSiftServer(settings)
        await server.start()
        if wait_until_ready:
            async with asyncio.timeout(30):
                await server.wait_until_ready()
        return server

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    @property
    def address(self) -> str:
        """``127.0.0.1:port`` of the running server."""
        return self.server.address

    def stop(self, grace: float = 0.0) -> None:
        """Stop the server and its loop; safe to call twice."""
        if not self._thread.is_alive():
            return
        self._run(self.server.stop(grace))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ThreadedServer]]:
    """Start real servers (fresh SQLite + in-process cache unless overridden); stopped after."""
    started: list[ThreadedServer] = []

    def start(*, wait_until_ready: bool = True, **overrides: Any) -> ThreadedServer:
        values: dict[str, Any] = {
            "listen": "127.0.0.1:0",
            "database_url": f"sqlite:///{tmp_path / f'server{len(started)}.db'}",
            "redis_url": None,
            "model_dir": tmp_path / "models",
            "grace_period": 1.0,
            # Fitted in the background, the content model would change lists mid-test; the
            # tests of the CONTENT strategy turn it on and wait for it.
            "content_model": False,
            # Likewise the background precompute would turn first requests into hits; its
            # tests turn it on.
            "precompute": False,
        }
        values.update(overrides)
        server = ThreadedServer(Settings(**values), wait_until_ready=wait_until_ready)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_address(start_server: Callable[..., ThreadedServer]) -> str:
    """Address of a fresh real server: SQLite file, in-process cache, no model."""
    return start_server().address
