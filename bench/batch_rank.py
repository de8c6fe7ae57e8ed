"""``python -m bench.batch_rank``: RankPapersBatch and the background precompute, in one process.

A bounded, small measurement (a minute or two on 2 cores) for issue 12's items 2 and 3. Real
arXiv papers (``bench.speed.data``: the latest days merged into one serving day of
``--day-size`` papers, up to ``--history`` older papers), ``--readers`` synthetic readers with
25 clicks and saves each, and a model whose item side and reader vectors are random (timing
does not depend on what was learned; training one would take longer than the measurement).
One server (SQLite, in-process cache) with the precompute off is timed over a real gRPC
channel:

- ``RankPapersBatch`` of 100 never-ranked known readers, then of the same 100 (cached);
- the same for 100 other readers one ``RankPapers`` at a time (what ``rank_many`` did before);

then a second server on the same store with the precompute on: the time from start until every
known reader's list of the day is cached, and readers per second. Numbers on a shared machine
are noisy: compare rows of one run.

    python -m bench.batch_rank --readers 1000 --day-size 3000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from bench.speed import data
from papersift.client import Paper as ClientPaper
from papersift.core.bundle import write_bundle
from papersift.core.features import FeatureConfig, Featurizer
from papersift.core.scoring import FORMAT, Scorer
from papersift.core.store import Store
from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId
from papersift.server.app import PaperSiftServer
from papersift.server.config import Settings
from papersift.server.precompute import Precomputer
from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc

__all__ = ["main"]

BATCH = 100
COMPONENTS = 64


def _core(paper: ClientPaper) -> Paper:
    return Paper(
        paper_id=PaperId(paper.paper_id),
        title=paper.title,
        date=paper.date,
        abstract=paper.abstract,
        authors=tuple(paper.authors),
        categories=tuple(paper.categories),
        url=paper.url,
        source=paper.source,
    )


def _random_model(featurizer: Featurizer, users: Sequence[str], seed: int = 0) -> Scorer:
    rng = np.random.default_rng(seed)
    n_features = featurizer.n_features
    scale = 1 / np.sqrt(COMPONENTS)
    scorer = Scorer(
        {
            "feature_embeddings": (rng.normal(size=(n_features, COMPONENTS)) * scale).astype(
                np.float32
            ),
            "feature_biases": (rng.normal(size=n_features) * 0.01).astype(np.float32),
            "user_embeddings": (rng.normal(size=(len(users), COMPONENTS)) * scale).astype(
                np.float32
            ),
            "user_biases": np.zeros(len(users), dtype=np.float32),
            "fold_in_matrix": np.eye(COMPONENTS, dtype=np.float32),
            "profile_data": np.zeros(0, dtype=np.float32),
            "profile_indices": np.zeros(0, dtype=np.int32),
            "profile_indptr": np.zeros(len(users) + 1, dtype=np.int64),
        },
        {
            "format": FORMAT,
            "n_features": n_features,
            "n_components": COMPONENTS,
            "blend_weight": 0.3,
            "negative_weight": 0.5,
            "fold_in_norm": 1.0,
        },
        list(users),
    )
    scorer.validate()
    return scorer


def _prepare(root: Path, readers: int, day_size: int, history: int) -> tuple[str, list[str]]:
    """A store and a published model; returns the serving day and the known readers."""
    listed = sorted(data.load_papers(), key=lambda paper: (paper.date, paper.paper_id))
    world = data.build_world(listed[-(day_size + history) :], day_size=day_size)
    events = data.synthetic_events(world, readers * 25, prefix="reader-")
    store = Store(f"sqlite:///{root / 'bench.db'}")
    store.migrate()
    papers = [_core(paper) for paper in world.papers]
    for start in range(0, len(papers), 1_000):
        store.upsert_papers(papers[start : start + 1_000])
    liked: list[Interaction] = [
        Interaction(
            event_id=EventId(event.event_id),
            user_id=UserId(event.user_id),
            paper_id=PaperId(event.paper_id),
            kind=InteractionKind(event.kind.value),
            occurred_at=event.occurred_at,
        )
        for event in data.interactions(world, events)
    ]
    for start in range(0, len(liked), 1_000):
        store.record_interactions(liked[start : start + 1_000])
    store.close()
    featurizer = Featurizer.fit([_core(paper) for paper in world.history], FeatureConfig())
    users = events.user_ids
    write_bundle(
        root / "models",
        featurizer=featurizer,
        scorer=_random_model(featurizer, users),
        trained_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        data_start=None,
        data_end=None,
        params={},
        metrics={},
        version="bench",
    )
    return world.date.isoformat(), users


async def _timed_batch(stub: pb_grpc.RankerAsyncStub, users: Sequence[str], date: str) -> float:
    began = time.perf_counter()
    reply = await stub.RankPapersBatch(
        pb.RankPapersBatchRequest(user_ids=users, date=date, limit=20), timeout=600
    )
    assert all(result.ranking.papers for result in reply.results)
    return time.perf_counter() - began


async def _timed_singles(stub: pb_grpc.RankerAsyncStub, users: Sequence[str], date: str) -> float:
    began = time.perf_counter()
    for user in users:
        reply = await stub.RankPapers(
            pb.RankPapersRequest(user_id=user, date=date, limit=20), timeout=60
        )
        assert reply.papers
    return time.perf_counter() - began


def _settings(root: Path, *, precompute: bool) -> Settings:
    values: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "database_url": f"sqlite:///{root / 'bench.db'}",
        "model_dir": root / "models",
        "content_model": False,
        "precompute": precompute,
        "model_poll_interval": 0.2,
    }
    return Settings(**values)


async def _measure(root: Path, date: str, users: list[str]) -> None:
    server = PaperSiftServer(_settings(root, precompute=False))
    await server.start()
    await server.wait_until_ready()
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = pb_grpc.RankerStub(channel)
        await _timed_singles(stub, users[-2:], date)  # the day prepared once, as in a live server
        rows = [
            ("RankPapersBatch, 100 never ranked", await _timed_batch(stub, users[:BATCH], date)),
            ("RankPapersBatch, 100 cached", await _timed_batch(stub, users[:BATCH], date)),
            (
                "100 x RankPapers, never ranked (rank_many before)",
                await _timed_singles(stub, users[BATCH : 2 * BATCH], date),
            ),
            (
                "100 x RankPapers, cached",
                await _timed_singles(stub, users[BATCH : 2 * BATCH], date),
            ),
        ]
    await server.stop(0)
    for label, seconds in rows:
        print(f"| {label} | {seconds * 1000:,.0f} ms |")

    began = time.perf_counter()
    server = PaperSiftServer(_settings(root, precompute=True))
    await server.start()
    await server.wait_until_ready()
    precomputer = server.precomputer
    assert precomputer is not None
    await _passes(precomputer, 1, began)
    first = time.perf_counter() - began
    # New papers for the day: a second pass, with the day's history rows already featurized.
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = pb_grpc.RankerStub(channel)
        listed = await stub.RankPapers(
            pb.RankPapersRequest(user_id=users[0], date=date, limit=1), timeout=60
        )
        paper = pb.Paper()
        paper.CopyFrom(listed.papers[0].paper)
        paper.paper_id = "arxiv:2599.00001"
        began = time.perf_counter()
        await stub.UpsertPapers(pb.UpsertPapersRequest(papers=[paper]), timeout=60)
    await _passes(precomputer, 2, began)
    second = time.perf_counter() - began
    await server.stop(0)
    for label, seconds in (
        ("from server start (model load, day, history featurized)", first),
        ("after new papers of the day", second),
    ):
        print(
            f"| precompute of {len(users):,} readers, {label} | {seconds:,.1f} s, "
            f"{len(users) / seconds:,.0f} readers/s |"
        )


async def _passes(precomputer: Precomputer, passes: int, began: float) -> None:
    while precomputer.passes < passes:
        if time.perf_counter() - began > 600:
            raise TimeoutError("the precompute did not finish within 10 minutes")
        await asyncio.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurement and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m bench.batch_rank", description=__doc__)
    parser.add_argument("--readers", type=int, default=1_000, help="known readers (>= 200)")
    parser.add_argument("--day-size", type=int, default=3_000, help="papers of the serving day")
    parser.add_argument("--history", type=int, default=15_000, help="older papers kept")
    options = parser.parse_args(argv)
    if options.readers < 2 * BATCH:
        parser.error(f"--readers must be at least {2 * BATCH}")
    with tempfile.TemporaryDirectory(prefix="papersift-batch-") as tmp:
        root = Path(tmp)
        date, users = _prepare(root, options.readers, options.day_size, options.history)
        print(f"| {options.day_size:,}-paper day, {len(users):,} known readers | time |")
        print("| --- | ---: |")
        asyncio.run(_measure(root, date, users))


if __name__ == "__main__":
    main()
