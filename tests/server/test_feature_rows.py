"""History feature rows kept across requests: the same rows as featurizing, within the budget;
and the one-hand-off miss gives what loading the reader and building the list give."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
import scipy.sparse as sp

from papersift.core.bundle import ModelBundle
from papersift.core.scoring import UserHistory
from papersift.core.signals import user_signals
from papersift.core.store import Store
from papersift.core.types import Interaction, UserId
from papersift.server.content import Community, content_bundle
from papersift.server.feature_rows import FeatureRowCache
from papersift.server.lists import ListBuilder
from papersift.server.queries import RankQuery
from papersift.server.readers import load_reader, reader_history
from papersift.server.rules import RankRules
from tests.synthetic import DAYS, World, make_world

NOW = dt.datetime(2025, 4, 3, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def model(world: World) -> ModelBundle:
    return content_bundle(world.papers, "content-rows-test", NOW)


def same_matrix(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def same_history(a: UserHistory, b: UserHistory) -> bool:
    return (
        same_matrix(a.positive, b.positive)
        and same_matrix(a.negative, b.negative)
        and np.array_equal(a.positive_weights, b.positive_weights)
        and a.positive_weights.dtype == b.positive_weights.dtype
    )


def test_cached_rows_are_the_featurizer_rows_in_any_order(world: World, model: ModelBundle) -> None:
    rows = FeatureRowCache()
    papers = world.papers[:40]
    assert same_matrix(rows.transform(model, papers), model.featurizer.transform(papers))
    # Half kept, half new, in another order: still the featurizer's rows.
    mixed = world.papers[60:20:-2]
    assert same_matrix(rows.transform(model, mixed), model.featurizer.transform(mixed))
    assert rows.transform(model, []).shape == (0, model.featurizer.n_features)


def test_reader_history_with_rows_is_the_history_without(world: World, model: ModelBundle) -> None:
    rows = FeatureRowCache()
    by_id = {paper.paper_id: paper for paper in world.papers}
    readers: dict[str, list[Interaction]] = {}
    for interaction in world.interactions:
        readers.setdefault(interaction.user_id, []).append(interaction)
    for _ in range(2):  # the second time every row comes from the cache
        for interactions in readers.values():
            signals = user_signals(interactions)
            touched = {pid: by_id[pid] for pid in set(signals.positive) | signals.negative}
            plain = reader_history(model, signals, touched)
            assert same_history(reader_history(model, signals, touched, rows=rows), plain)
    assert len(rows) == len({i.paper_id for i in world.interactions})


def test_rows_of_another_model_or_an_edited_paper_are_not_reused(
    world: World, model: ModelBundle
) -> None:
    rows = FeatureRowCache()
    paper = world.papers[0]
    rows.transform(model, [paper])
    edited = dataclasses.replace(paper, title="A corrected title about graph attention")
    assert same_matrix(rows.transform(model, [edited]), model.featurizer.transform([edited]))
    other = content_bundle(world.papers[:60], "content-rows-other", NOW)
    assert same_matrix(rows.transform(other, [paper]), other.featurizer.transform([paper]))
    assert len(rows) == 3


def test_the_byte_budget_holds_and_the_least_recently_used_go_first(
    world: World, model: ModelBundle
) -> None:
    probe = FeatureRowCache()
    probe.transform(model, world.papers[:10])
    per_row = probe.nbytes / 10
    rows = FeatureRowCache(max_bytes=int(per_row * 12))
    for start in range(0, len(world.papers), 5):
        rows.transform(model, world.papers[start : start + 5])
        assert rows.nbytes <= rows.max_bytes
    assert 8 <= len(rows) <= 16
    # The latest papers are the ones kept: reading them again featurizes nothing new.
    before = len(rows)
    latest = world.papers[-5:]
    assert same_matrix(rows.transform(model, latest), model.featurizer.transform(latest))
    assert len(rows) == before and rows.nbytes <= rows.max_bytes
    none = FeatureRowCache(max_bytes=0)
    assert same_matrix(none.transform(model, latest), model.featurizer.transform(latest))
    assert len(none) == 0 and none.nbytes == 0
    with pytest.raises(ValueError, match="max_bytes"):
        FeatureRowCache(max_bytes=-1)


@pytest.fixture
def store(sqlite_url: str, world: World) -> Store:
    store = Store(sqlite_url)
    store.migrate()
    store.upsert_papers(world.papers)
    store.record_interactions(world.interactions)
    return store


@pytest.mark.parametrize(
    "rules",
    [RankRules(), RankRules.build(exclude_touched=True, include_categories=["cs.LG"])],
    ids=["plain", "rules"],
)
@pytest.mark.parametrize("diversity", [0.0, 0.5])
async def test_miss_is_load_reader_then_build(
    store: Store, world: World, model: ModelBundle, rules: RankRules, diversity: float
) -> None:
    builder = ListBuilder(store, max_list_length=30)
    day = await builder.papers_of_day(DAYS[-1], 1)
    liked = Community("c1", tuple(world.papers[:5]), np.ones(5, dtype=np.float32))
    users = [*sorted({i.user_id for i in world.interactions})[:4], "nobody-yet"]
    for community in (None, liked):
        for user in users:
            query = RankQuery(UserId(user), DAYS[-1], 10, rules=rules, diversity=diversity)
            reader, ranked = await builder.miss(model, query, day, 1, community, personal=False)
            plain = await load_reader(store, model, query, personal=False)
            built = await builder.build(model, query, plain, day, 1, community)
            assert ranked == built
            assert reader.signals == plain.signals and reader.touched == plain.touched
            assert ranked.items or rules.include_categories
    assert len(builder.history_rows) > 0


async def test_miss_without_a_model_is_popular(store: Store, world: World) -> None:
    builder = ListBuilder(store)
    day = await builder.papers_of_day(DAYS[-1], 1)
    query = RankQuery(UserId(world.interactions[0].user_id), DAYS[-1], 10)
    reader, ranked = await builder.miss(None, query, day, 1, None, personal=False)
    assert reader.model is None and ranked.strategy.value == "popular"
    assert ranked == await builder.build(None, query, reader, day, 1, None)
    assert len(ranked.items) == len(day.papers)


async def test_miss_sync_with_a_model_needs_the_prepared_items(
    store: Store, world: World, model: ModelBundle
) -> None:
    builder = ListBuilder(store)
    day = await builder.papers_of_day(DAYS[-1], 1)
    query = RankQuery(UserId(world.interactions[0].user_id), DAYS[-1], 10)
    with pytest.raises(ValueError, match="items"):
        builder.miss_sync(model, query, day, None, None, personal=False)
