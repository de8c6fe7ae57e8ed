"""DeleteUser leaves nothing of the reader in the store or in Redis, and the served model stops
ranking them with their old vector (PostgreSQL + Redis, over a real channel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.api import Api
from tests.server.model_world import COLD_DAY, load_world, publish
from tests.synthetic import DAYS, World

READER = "graphs-reader-1"


def everything_in(database_url: str) -> list[str]:
    """Every row of every table, as text."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            return [
                repr(tuple(row))
                for table in tables
                for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))
            ]
    finally:
        engine.dispose()


def everything_under(redis_url: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` and everything stored in it, as text."""
    client = redis.Redis.from_url(redis_url)
    try:
        found: list[object] = []
        for key in client.scan_iter(match=f"{prefix}:*"):
            found.append(key)
            kind = client.type(key)
            if kind == b"string":
                found.append(client.get(key))
            elif kind == b"set":
                found.extend(client.smembers(key))
            elif kind == b"zset":
                found.extend(client.zrange(key, 0, -1))
            elif kind == b"hash":
                found.extend(client.hgetall(key).items())
        return [repr(item) for item in found]
    finally:
        client.close()


async def test_delete_user_erases_the_reader_everywhere_and_from_the_served_model(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    publish(tmp_path / "models", parts, "v1")
    api = connect(
        start_server(
            model_dir=tmp_path / "models",
            database_url=postgres_url,
            redis_url=redis_url,
            cache_prefix=redis_prefix,
        )
    )
    await load_world(api, world)
    before = await api.rank(READER, date=COLD_DAY, limit=5)
    assert before.strategy == pb.STRATEGY_PERSONAL
    sent_at = Timestamp()
    sent_at.FromDatetime(dt.datetime.now(dt.UTC))
    await api.stub.RecordDigest(
        pb.RecordDigestRequest(
            user_id=READER,
            date=DAYS[1].isoformat(),
            paper_ids=[world.papers_on(DAYS[1])[0].paper_id],
            sent_at=sent_at,
            message_id=f"<{READER}@example.org>",
        )
    )
    await api.rank(READER, date=COLD_DAY, limit=5)  # cached again, under the new revision
    assert any(READER in row for row in everything_in(postgres_url))
    assert any(READER in item for item in everything_under(redis_url, redis_prefix))

    deleted = await api.stub.DeleteUser(pb.DeleteUserRequest(user_id=READER))

    assert (deleted.interactions_deleted, deleted.digests_deleted) == (7, 1)
    assert deleted.cached_lists_deleted >= 1
    assert not [row for row in everything_in(postgres_url) if READER in row]
    assert not [item for item in everything_under(redis_url, redis_prefix) if READER in item]
    # The bundle still holds a vector for the id; it must not rank for the erased reader.
    after = await api.rank(READER, date=COLD_DAY, limit=5)
    assert after.strategy == pb.STRATEGY_POPULAR
