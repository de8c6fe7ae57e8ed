"""A served model of the synthetic three-topic world, for tests that rank with a trained model.

The fixtures (``world``, ``parts``, ``served``) are made available to every server test by
``tests/server/conftest.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.core.bundle import write_bundle
from papersift.core.types import Interaction
from papersift.server.convert import paper_to_proto
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.api import Api
from tests.synthetic import DAYS, World, fitted_parts, make_world

COLD_DAY = DAYS[-1].isoformat()
KIND = {
    "click": pb.INTERACTION_KIND_CLICK,
    "save": pb.INTERACTION_KIND_SAVE,
    "dismiss": pb.INTERACTION_KIND_DISMISS,
    "unsave": pb.INTERACTION_KIND_UNSAVE,
    "impression": pb.INTERACTION_KIND_IMPRESSION,
}


def make_click(event_id: str, user_id: str, paper_id: str) -> pb.Interaction:
    return pb.Interaction(
        event_id=event_id,
        user_id=user_id,
        paper_id=paper_id,
        kind=pb.INTERACTION_KIND_CLICK,
        occurred_at=Timestamp(seconds=1_743_600_000),
    )


def event_message(interaction: Interaction) -> pb.Interaction:
    occurred_at = Timestamp()
    occurred_at.FromDatetime(interaction.occurred_at)
    return pb.Interaction(
        event_id=interaction.event_id,
        user_id=interaction.user_id,
        paper_id=interaction.paper_id,
        kind=KIND[interaction.kind.value],
        occurred_at=occurred_at,
    )


def publish(model_dir: Path, parts: tuple[Any, Any], version: str) -> None:
    featurizer, scorer = parts
    write_bundle(
        model_dir,
        featurizer=featurizer,
        scorer=scorer,
        trained_at=dt.datetime(2025, 4, 3, 6, tzinfo=dt.UTC),
        data_start=DAYS[0],
        data_end=DAYS[1],
        params={},
        metrics={"recall@50": 0.5},
        version=version,
    )


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def parts(world: World) -> tuple[Any, Any]:
    return fitted_parts(world, epochs=10)


async def load_world(api: Api, world: World) -> None:
    await api.upsert([paper_to_proto(p) for p in world.papers])
    await api.record([event_message(i) for i in world.interactions])


@pytest.fixture
async def served(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> Api:
    model_dir = tmp_path / "models"
    publish(model_dir, parts, "v1")
    api = connect(start_server(model_dir=model_dir, model_poll_interval=0.05))
    await load_world(api, world)
    return api


async def ranked_ids(api: Api, user: str, **fields: Any) -> tuple[list[str], pb.RankPapersResponse]:
    reply = await api.rank(user, date=COLD_DAY, limit=20, **fields)
    return [p.paper.paper_id for p in reply.papers], reply
