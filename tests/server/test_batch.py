"""RankPapersBatch scores its readers together and gives each what RankPapers gives them.

Two servers hold the same model, papers and interactions: one answers a batch, the other each
reader's RankPapers, both cold; the pages must be equal field for field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.api import Api
from tests.server.model_world import COLD_DAY, KIND, load_world, make_click, publish
from tests.synthetic import DAYS, World

KNOWN = ["graphs-reader-0", "proteins-reader-1", "galaxies-reader-2", "graphs-reader-3"]
NEWCOMER = "newcomer"  # clicked a few papers: folded in
DISMISSER = "dismisser"  # only dismissed: no profile, POPULAR
STRANGER = "stranger"  # nothing at all: POPULAR
ERASED = "galaxies-reader-5"  # known to the model, then erased: not PERSONAL any more
READERS = [*KNOWN, NEWCOMER, DISMISSER, STRANGER, ERASED]


def extra_events(world: World) -> list[pb.Interaction]:
    """Likes, dismissals and a cold-day click, so that rules and penalties have work."""
    graphs = [p.paper_id for p in world.papers if world.paper_topic[p.paper_id] == "graphs"]
    cold = [p.paper_id for p in world.papers_on(DAYS[-1])]
    events = [make_click(f"new-{n}", NEWCOMER, graphs[n]) for n in range(3)]
    events.append(make_click("cold-click", KNOWN[3], cold[0]))
    dismiss = make_click("cold-dismiss", KNOWN[3], cold[1])
    dismiss.kind = KIND["dismiss"]
    lone = make_click("lone-dismiss", DISMISSER, cold[2])
    lone.kind = KIND["dismiss"]
    return [*events, dismiss, lone]


async def same_world(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> tuple[Api, Api]:
    model_dir = tmp_path / "models"
    publish(model_dir, parts, "v1")
    apis = [connect(start_server(model_dir=model_dir)) for _ in range(2)]
    for api in apis:
        await load_world(api, world)
        await api.record(extra_events(world))
        await api.stub.DeleteUser(pb.DeleteUserRequest(user_id=ERASED), timeout=10)
    return apis[0], apis[1]


FILTERS = pb.RankFilters(
    exclude_categories=["astro-ph.GA"], exclude_seen=True, exclude_touched=True
)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"filters": FILTERS},
        {"diversity": 0.4, "explain": True},
        {"filters": pb.RankFilters(followed_authors=["Graphs Author 1"]), "explain": True},
    ],
    ids=["plain", "rules", "diversity-explain", "followed-explain"],
)
async def test_a_batch_gives_each_reader_what_rank_papers_gives(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fields: dict[str, Any],
) -> None:
    batch_api, single_api = await same_world(tmp_path, world, parts, start_server, connect)
    request = pb.RankPapersBatchRequest(user_ids=READERS, date=COLD_DAY, limit=8, **fields)

    batch = await batch_api.stub.RankPapersBatch(request, timeout=30)
    singles = [await single_api.rank(user, date=COLD_DAY, limit=8, **fields) for user in READERS]

    assert [result.user_id for result in batch.results] == READERS
    strategies = {result.user_id: result.ranking.strategy for result in batch.results}
    assert {strategies[user] for user in KNOWN} == {pb.STRATEGY_PERSONAL}
    assert strategies[NEWCOMER] == pb.STRATEGY_FOLD_IN
    assert {strategies[DISMISSER], strategies[STRANGER], strategies[ERASED]} == {
        pb.STRATEGY_POPULAR
    }
    for result, single in zip(batch.results, singles, strict=True):
        assert result.ranking.papers, result.user_id
        assert not result.ranking.cached and not single.cached
        assert result.ranking == single, result.user_id

    again = await batch_api.stub.RankPapersBatch(request, timeout=30)
    for first, second in zip(batch.results, again.results, strict=True):
        assert second.ranking.cached
        second.ranking.cached = False
        assert second.ranking == first.ranking


async def test_a_batch_reuses_lists_already_cached(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    api, _ = await same_world(tmp_path, world, parts, start_server, connect)
    first = await api.rank(KNOWN[0], date=COLD_DAY, limit=5)

    batch = await api.stub.RankPapersBatch(
        pb.RankPapersBatchRequest(user_ids=[KNOWN[1], KNOWN[0]], date=COLD_DAY, limit=5),
        timeout=30,
    )

    assert [result.ranking.cached for result in batch.results] == [False, True]
    reused = batch.results[1].ranking
    reused.cached = False
    assert reused == first


async def test_a_batch_for_a_day_without_papers_names_the_nearest_days(
    tmp_path: Path,
    world: World,
    parts: tuple[Any, Any],
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    api, _ = await same_world(tmp_path, world, parts, start_server, connect)
    request = pb.RankPapersBatchRequest(user_ids=KNOWN, date="2025-05-01", limit=5)

    with pytest.raises(Exception, match="no papers are listed on 2025-05-01"):
        await api.stub.RankPapersBatch(request, timeout=30)
