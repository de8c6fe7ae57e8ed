"""The served model bundle damaged on disk while the server runs: truncated, or deleted.

The bundle is built here without training (a real featurizer fitted on the synthetic world, small
random embeddings): the fault is in serving, and LightFM would only slow the suite down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from papersift.core.bundle import CURRENT, write_bundle
from papersift.core.features import Featurizer
from papersift.core.scoring import FORMAT, Scorer
from papersift.core.types import InteractionKind, Paper, PaperId
from papersift.server.convert import paper_to_proto
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.faults.report import FaultReport
from tests.server.api import Api
from tests.server.model_world import COLD_DAY, event_message
from tests.synthetic import DAYS, World, make_world

COMPONENTS = 8


def publish_bundle(model_dir: Path, world: World, version: str) -> None:
    """A valid bundle that knows every reader of ``world``, published as ``CURRENT``."""
    train = [paper for paper in world.papers if paper.date != DAYS[-1]]
    featurizer = Featurizer.fit(train)
    users = sorted(world.user_topic)
    rows = featurizer.transform(train)
    row_of = {paper.paper_id: n for n, paper in enumerate(train)}
    liked: dict[str, list[int]] = {user: [] for user in users}
    for event in world.interactions:
        if event.kind in (InteractionKind.CLICK, InteractionKind.SAVE):
            liked[event.user_id].append(row_of[event.paper_id])
    profiles = sp.csr_matrix(
        sp.vstack([sp.csr_matrix(rows[liked[user]].mean(axis=0)) for user in users]),
        dtype=np.float32,
    )
    rng = np.random.default_rng(7)
    arrays = {
        "feature_embeddings": rng.normal(0, 0.1, (featurizer.n_features, COMPONENTS)).astype(
            np.float32
        ),
        "feature_biases": np.zeros(featurizer.n_features, dtype=np.float32),
        "user_embeddings": rng.normal(0, 0.1, (len(users), COMPONENTS)).astype(np.float32),
        "user_biases": np.zeros(len(users), dtype=np.float32),
        "fold_in_matrix": np.eye(COMPONENTS, dtype=np.float32),
        "profile_data": profiles.data.astype(np.float32),
        "profile_indices": profiles.indices.astype(np.int32),
        "profile_indptr": profiles.indptr.astype(np.int64),
    }
    params = {
        "format": FORMAT,
        "n_features": featurizer.n_features,
        "n_components": COMPONENTS,
        "blend_weight": 0.5,
        "negative_weight": 0.5,
        "fold_in_norm": 1.0,
    }
    write_bundle(
        model_dir,
        featurizer=featurizer,
        scorer=Scorer(arrays, params, users),
        trained_at=dt.datetime(2025, 4, 3, 6, tzinfo=dt.UTC),
        data_start=DAYS[0],
        data_end=DAYS[1],
        params={},
        metrics={},
        version=version,
    )


def damage(model_dir: Path, how: str) -> str:
    """Damage the published bundle on disk; says what was done."""
    if how == "deleted":
        shutil.rmtree(model_dir)
        return "model directory deleted (rm -r: CURRENT and every bundle)"
    sizes = []
    for path in sorted((model_dir / "v1").iterdir()):
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.truncate(size // 2)
        sizes.append(f"{path.name} {size:,}->{size // 2:,} B")
    (model_dir / CURRENT).write_bytes(b"")
    return f"bundle files truncated to half ({', '.join(sizes)}), CURRENT emptied"


async def personal_lists(api: Api, readers: Sequence[str]) -> list[pb.RankPapersResponse]:
    return [
        await api.stub.RankPapers(
            pb.RankPapersRequest(user_id=reader, date=COLD_DAY, limit=100), timeout=10
        )
        for reader in readers
    ]


@pytest.mark.parametrize("how", ["truncated", "deleted"])
async def test_damaged_bundle_on_disk_the_loaded_model_keeps_serving(
    how: str,
    tmp_path: Path,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fault_report: FaultReport,
) -> None:
    world = make_world()
    model_dir = tmp_path / "models"
    publish_bundle(model_dir, world, "v1")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    api = connect(start_server(database_url=store, model_dir=model_dir, model_poll_interval=0.05))
    await api.upsert([paper_to_proto(paper) for paper in world.papers])
    events = [event_message(event) for event in world.interactions]
    await api.record(events)
    readers = sorted(world.user_topic)[::4]
    before = await personal_lists(api, readers)
    assert {(reply.strategy, reply.model_version) for reply in before} == {
        (pb.STRATEGY_PERSONAL, "v1")
    }

    what = damage(model_dir, how)
    await asyncio.sleep(0.5)  # ten model checks
    # A paper new to the day: the day's candidates are featurized again, with the model in memory.
    newcomer = Paper(
        paper_id=PaperId("arxiv:2504.99999"),
        title="Graph neural network message passing",
        abstract="graph neural network message passing node embedding edge attention",
        date=dt.date.fromisoformat(COLD_DAY),
        authors=("Graphs Author 1",),
        categories=("cs.LG",),
        url="https://arxiv.org/abs/2504.99999",
        source="synthetic",
    )
    await api.upsert([paper_to_proto(newcomer)])
    after = await personal_lists(api, readers)
    info = await api.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5)
    resent = await api.record(events)

    personal = sum(
        reply.strategy == pb.STRATEGY_PERSONAL and reply.model_version == "v1" for reply in after
    )
    with_newcomer = sum(
        "arxiv:2504.99999" in {entry.paper.paper_id for entry in reply.papers} for reply in after
    )
    restart_note = ""
    if how == "truncated":
        # What a restart on the damaged directory would do: no model, POPULAR, still serving.
        fresh = connect(
            start_server(database_url=store, model_dir=model_dir, model_poll_interval=0.05)
        )
        info_fresh = await fresh.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5)
        [fresh_reply] = await personal_lists(fresh, readers[:1])
        restart_note = (
            f"; a server started afresh on the damaged directory: model loaded "
            f"{info_fresh.loaded}, {pb.Strategy.Name(fresh_reply.strategy)} lists"
        )

    publish_bundle(model_dir, world, "v2")  # the model watch outlived the damage
    for _ in range(100):
        [probe] = await personal_lists(api, readers[:1])
        if probe.model_version == "v2":
            break
        await asyncio.sleep(0.05)

    fault_report(
        f"Served model bundle {how} on disk: {what}",
        f"{personal}/{len(readers)} readers still got PERSONAL lists from v1 (held in "
        f"memory; GetModelInfo: {info.version}), {with_newcomer}/{len(readers)} with a paper "
        f"added after the damage{restart_note}; a bundle published afterwards was picked up "
        f"({probe.model_version})",
        data_lost=resent.duplicates != len(events),
        evidence=f"store untouched: all {len(events)} interactions re-sent came back as "
        f"{resent.duplicates} duplicates; only the bundle files were lost (a retraining "
        "rebuilds them)",
    )

    assert personal == len(readers)
    assert info.loaded and info.version == "v1"
    assert with_newcomer == len(readers)
    assert all(a.total == b.total + 1 for a, b in zip(after, before, strict=True))
    assert resent.duplicates == len(events)
    assert probe.model_version == "v2"
