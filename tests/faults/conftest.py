"""Fault tests: each injects one real fault into a running server and records what it did.

The ``fault_report`` fixture collects a row per fault; after the run the rows print as a table
("fault report"), so ``make test`` shows every fault injected, what the service did and whether
any data was lost. Fixtures here start what the faults act on: a ``redis-server`` of the test's
own, a PostgreSQL database reached through a loopback proxy the test can cut, real channels.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.faults.proxy import TcpProxy
from tests.faults.redis_process import RedisProcess
from tests.faults.report import FaultLog, FaultReport, render
from tests.server.conftest import connect

# The server tests' fixture opening real channels, shared rather than copied.
__all__ = ["connect"]

_FAULT_LOG = pytest.StashKey[FaultLog]()


def _fault_log(config: pytest.Config) -> FaultLog:
    if _FAULT_LOG not in config.stash:
        config.stash[_FAULT_LOG] = FaultLog()
    return config.stash[_FAULT_LOG]


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> FaultReport:
    """Record ``(fault, what the service did, data_lost=..., evidence=...)`` for the table."""
    return FaultReport(_fault_log(request.config), request.node.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note each test's outcome, shown next to its rows (a failed teardown fails it too)."""
    report = yield
    outcomes = _fault_log(item.config).outcomes
    if report.failed:
        outcomes[item.nodeid] = "FAILED"
    elif report.when == "call":
        outcomes.setdefault(item.nodeid, report.outcome)
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Print the fault table when any fault test ran."""
    log = config.stash.get(_FAULT_LOG, None)
    if log is None or not log.rows:
        return
    terminalreporter.write_sep("=", "fault report")
    for line in render(log):
        terminalreporter.write_line(line)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A running ``redis-server`` of this test's own; stopped afterwards whatever happened.

    ``DEBUG`` is enabled on it (``DEBUG SLEEP`` makes it slow); the shared Redis is never touched.
    """
    server = RedisProcess(tmp_path, "--enable-debug-command", "yes")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class ProxiedDatabase:
    """A fresh PostgreSQL database, reached directly or through a proxy the test controls."""

    direct_url: str
    """For the test's own checks: never goes through the proxy."""
    server_url: str
    """For the server: through the proxy."""
    proxy: TcpProxy


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Iterator[ProxiedDatabase]:
    """The test's own PostgreSQL database behind a loopback proxy (closed afterwards)."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        through = url.set(host="127.0.0.1", port=proxy.port)
        yield ProxiedDatabase(postgres_url, through.render_as_string(hide_password=False), proxy)
    finally:
        proxy.close()
