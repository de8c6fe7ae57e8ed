"""Fixtures of the server tests: real grpc.aio channels to real servers, and a served model.

The helpers live in ``tests/server/api.py`` and ``tests/server/model_world.py``; the names tests
import from here are re-exported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from tests.conftest import ThreadedServer
from tests.server.api import DAY, Api, Failure, error_of, make_event, make_paper
from tests.server.model_world import parts, served, world

__all__ = [
    "DAY",
    "Api",
    "Failure",
    "error_of",
    "make_event",
    "make_paper",
    "parts",
    "served",
    "world",
]


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[ThreadedServer], Api]]:
    """Open real channels to servers; closed after the test."""
    channels: list[grpc.aio.Channel] = []

    def open_api(server: ThreadedServer) -> Api:
        channel = grpc.aio.insecure_channel(server.address)
        channels.append(channel)
        return Api(channel)

    yield open_api
    for channel in channels:
        await channel.close()


@pytest.fixture
async def api(
    start_server: Callable[..., ThreadedServer], connect: Callable[[ThreadedServer], Api]
) -> Api:
    """A real channel to a fresh server (SQLite, in-process cache)."""
    return connect(start_server())
