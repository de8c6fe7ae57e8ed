"""The RPC rows on one server with in-process caches: fill its store, then measure each row in
runs interleaved with the floor; with ``--profile``, sample where the server's time goes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.speed import data, report, rows, workload
from bench.speed.context import Bench, summary
from bench.speed.load import LoadResult, LoadSpec, run_load
from bench.speed.options import FOLD_IN_EVENTS_PER_READER, HIT_READERS
from bench.speed.profile import recording, summarize_files
from bench.speed.serve import ServerProcess, wait_for_model
from bench.speed.stats import Measured
from papersift.client import Client

__all__ = ["profile", "serve_rows"]


def serve_rows(bench: Bench) -> None:
    """Every row of :func:`bench.speed.rows.row_defs` at every number of clients."""
    options, world, progress = bench.options, bench.world, bench.progress
    with bench.server(1, "server") as server:
        progress(f"papersift-server --workers 1 at {server.address} (pid {server.process.pid})")
        with Client(server.address, timeout=300) as client:
            progress(
                f"ingesting {len(world.papers):,} papers and {len(bench.serving_events):,} "
                "interactions with the client library"
            )
            workload.ingest(client, world.papers, [])
            if options.precompute_readers:
                bench.papers_store = _copy_store(bench)
            workload.ingest(client, [], workload.event_chunks(world, bench.serving_events))
            version = wait_for_model(server.address)
            bench.results.setup["model_version"] = version
            newcomers = data.synthetic_events(
                world,
                options.fold_in_readers * FOLD_IN_EVENTS_PER_READER,
                prefix="newcomer-",
                per_user=FOLD_IN_EVENTS_PER_READER,
                seed=options.seed + 1,
            )
            progress(
                f"model {version} loaded; recording {len(newcomers):,} events of "
                f"{newcomers.n_users:,} FOLD_IN readers (not in the model)"
            )
            workload.ingest(client, [], workload.event_chunks(world, newcomers))
            rng = np.random.default_rng(options.seed)
            personal = [str(user) for user in rng.permutation(bench.serving_events.user_ids)]
            prepare_user = personal[0]
            bench.hit_users = personal[1 : 1 + HIT_READERS]
            pools = rows.pools(options, personal[1 + HIT_READERS :], newcomers.user_ids)
            bench.settle(server)
            warmed = workload.warm(client, world.date, prepare_user, bench.hit_users)
            bench.results.setup["prepare_day_seconds"] = warmed.prepare_seconds
            progress(
                f"day prepared by one {warmed.strategy} request in {warmed.prepare_seconds:.1f} s; "
                f"{len(bench.hit_users)} readers' lists cached"
            )
        floors: dict[int, list[LoadResult]] = {clients: [] for clients in options.clients}
        measured_rows: list[report.RpcRow] = []
        for row in rows.row_defs(options, world, bench.hit_users, pools):
            if row.key == report.FLOOR:
                continue  # the floor runs next to every other row: its row pools those runs
            measured: dict[int, Measured] = {}
            for clients in options.clients:
                if row.fewest_clients_only and clients != min(options.clients):
                    continue
                plans = [row.plan(clients, repeat) for repeat in range(options.repeats)]
                if not all(plan.requests for plan in plans):
                    progress(f"{row.label}, {clients} clients: skipped, no requests left")
                    continue
                bench.settle(server)
                result = bench.interleaved(server, plans.__getitem__, clients)
                floors[clients] += result.floors
                measured[clients] = result
                progress(summary(row.label, result))
            measured_rows.append(
                report.RpcRow(row.key, row.label, measured, row.items_per_request, row.item)
            )
        floor_row = report.RpcRow(
            report.FLOOR,
            rows.FLOOR_LABEL,
            {clients: Measured(tuple(runs)) for clients, runs in floors.items() if runs},
        )
        for clients, floor in floor_row.results.items():
            progress(summary(floor_row.label, floor) + f" at {clients} clients, every floor run")
        bench.results.rows[:0] = [floor_row, *measured_rows]
        if options.profile:
            _profile_one_worker(bench, server, pools.get(("profile", 1, 0), []))


def _copy_store(bench: Bench) -> Path:
    """A consistent copy of the store as it is now (SQLite's online backup), for later."""
    copy = bench.work / "papers-only.db"
    source = sqlite3.connect(bench.store_path)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy


# Profiles -----------------------------------------------------------------------------------


def _profile_one_worker(bench: Bench, server: ServerProcess, users: Sequence[str]) -> None:
    """Profile the floor and cache hits at the most clients, cache misses at one client."""
    options, date = bench.options, bench.world.date
    most = max(options.clients)
    pids = [server.process.pid]
    profile(bench, pids, bench.spec(server, rows.floor_plan(), most), "check-1worker")
    hits = rows.hit_plan(bench.hit_users, date)
    profile(bench, pids, bench.spec(server, hits, most), "hit-1worker")
    if users:
        misses = rows.RowPlan(
            hits.method,
            workload.rank_requests(users, date),
            unique=True,
            check="rank",
            warmup=1,
            warmup_requests=hits.requests,
        )
        profile(bench, pids, bench.spec(server, misses, 1), "miss-1worker")


def profile(bench: Bench, pids: Sequence[int], spec: LoadSpec, name: str) -> None:
    """Sample ``pids`` with py-spy under ``spec``'s load; add the summary to the results."""
    spec = replace(spec, duration=bench.options.profile_seconds)
    folder = bench.options.out_dir / "profiles"
    with recording(pids, folder, name) as paths:
        result = run_load(spec, pids)
    summarized = summarize_files(paths)
    cpu_ms = 1000 * result.server_cpu_seconds / max(1, result.requests)
    text = (
        f"### py-spy: {name} ({spec.clients} client(s); {result.requests:,} requests, "
        f"{result.throughput:,.0f} req/s under the profiler, {cpu_ms:.2f} ms of server CPU per "
        f"request; {summarized.samples:,} busy samples)\n\n{summarized.table(15)}\n"
    )
    (folder / f"{name}.md").write_text(text, encoding="utf-8")
    bench.results.profiles.append(text)
    bench.progress(f"profile {name}: {folder / (name + '.md')}")
