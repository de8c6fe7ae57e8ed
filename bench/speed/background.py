"""The background precompute row: how fast a server caches the lists of every reader a newly
published model knows, on the 3,000-paper day, for models of 1k and 10k readers.

For each size: train a model on synthetic readers of its own, hold its publication back, start
a one-worker server (in-process cache, ``/metrics``) on a copy of the store that holds the
papers only, record those readers' events through it, then publish the model and time the
precompute from ``/metrics`` (:mod:`bench.speed.precompute`). 100k readers are extrapolated.
"""

from __future__ import annotations

import shutil

from bench.speed import data, workload
from bench.speed.context import Bench
from bench.speed.options import PRECOMPUTE_EVENTS
from bench.speed.precompute import NOT_AVAILABLE, PrecomputeRun, measure
from papersift.client import Client
from papersift.core.bundle import CURRENT, current_version

__all__ = ["precompute_rows"]


def precompute_rows(bench: Bench) -> None:
    """One :class:`PrecomputeRun` per ``--precompute-readers`` size."""
    options, progress = bench.options, bench.progress
    sizes = options.precompute_readers
    if not sizes:
        return
    if not bench.precompute_metrics or bench.papers_store is None:
        progress(f"background precompute: {NOT_AVAILABLE} on the served server; not timed")
        bench.results.precompute += [PrecomputeRun(n, NOT_AVAILABLE) for n in sizes]
        return
    for n in sizes:
        bench.results.precompute.append(_one_size(bench, n))


def _one_size(bench: Bench, readers: int) -> PrecomputeRun:
    options, progress, work = bench.options, bench.progress, bench.work
    events = data.synthetic_events(
        bench.world,
        readers * PRECOMPUTE_EVENTS,
        prefix=f"known{readers}-",
        per_user=PRECOMPUTE_EVENTS,
        seed=options.seed + 7,
    )
    models = work / f"models-known{readers}"
    store = work / f"store-known{readers}.db"
    try:
        trained = bench.train(len(events), events, models)
        version = current_version(models)
        if trained.exit_code != 0 or version is None:
            raise RuntimeError(f"training the {readers:,}-reader model failed; see {trained.log}")
        (models / CURRENT).unlink()  # published again once the store holds its readers
        assert bench.papers_store is not None
        shutil.copyfile(bench.papers_store, store)
        with bench.server(
            1,
            f"server-known{readers}",
            database_url=f"sqlite:///{store}",
            model_dir=models,
            precompute=True,
        ) as server:
            assert server.metrics_address is not None
            with Client(server.address, timeout=300) as client:
                workload.ingest(client, [], workload.event_chunks(bench.world, events))
            bench.settle(server)
            progress(f"publishing the model of {readers:,} known readers; timing the precompute")
            run = measure(
                address=server.address,
                metrics_address=server.metrics_address,
                model_dir=models,
                version=version,
                readers=readers,
                timeout=options.precompute_timeout,
            )
    finally:
        shutil.rmtree(models, ignore_errors=True)
        for path in (
            store,
            store.with_name(store.name + "-wal"),
            store.with_name(store.name + "-shm"),
        ):
            path.unlink(missing_ok=True)
    progress(
        f"  {readers:,} readers: {run.status}, model loaded at {run.loaded_seconds:.1f} s, "
        f"{run.lists:,} lists by {run.last_list_seconds:.1f} s, "
        f"{run.readers_per_second:,.0f} readers/s"
    )
    return run
