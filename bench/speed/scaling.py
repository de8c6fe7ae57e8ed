"""Cache hits beyond one in-process server: the hit row on Redis, and --workers 1 against 2.

With a Redis URL (the default), a one-worker server on Redis measures the hit row at every
number of clients (the Redis-backed row, next to the in-process one); its run at the most
clients is also the ``--workers 1`` point, and a two-worker server on the same Redis the
``--workers 2`` one, so the comparison is on one shared cache, as deployed. Without Redis each
worker count is a fresh server with in-process caches. The kernel spreads connections over the
workers (SO_REUSEPORT): each hit run records how many each worker held, and the CPU each used.
"""

from __future__ import annotations

from bench.speed import report, rows, workload
from bench.speed.context import Bench, summary
from bench.speed.serve import ServerProcess, connections_by_pid
from bench.speed.serving import profile
from bench.speed.stats import Measured
from papersift.client import Client

__all__ = ["scale_rows"]


def scale_rows(bench: Bench) -> None:
    """The Redis-backed hit row (with a Redis URL) and the worker comparison (``--workers``)."""
    options = bench.options
    redis = options.redis_url is not None
    counts = sorted(set(options.workers) | ({1} if redis else set()))
    bench.results.setup["workers_cache"] = "Redis" if redis else "in-process caches"
    for workers in counts:
        backend = "Redis" if redis else "in-process caches"
        with bench.server(workers, f"server-w{workers}", redis=redis) as server:
            bench.progress(f"papersift-server --workers {workers} on {backend} at {server.address}")
            _warm(bench, server, redis)
            measured = _redis_row(bench, server) if redis and workers == 1 else {}
            if workers in options.workers:
                most = max(options.clients)
                run = measured.get(most) or _hits(bench, server, most)
                bench.results.workers.append(run)
                bench.progress(summary(f"--workers {workers} cache hit", run.measured))
                bench.progress(f"  load spread: {run.spread_text()}")
                if options.profile and workers > 1:
                    hits = rows.hit_plan(bench.hit_users, bench.world.date)
                    spec = bench.spec(server, hits, most)
                    profile(bench, server.worker_pids, spec, f"hit-{workers}workers")


def _warm(bench: Bench, server: ServerProcess, redis: bool) -> None:
    """Cache the hit readers' lists where every connection will find them."""
    bench.settle(server)
    if redis:  # one cache for every worker: rank each reader once
        with Client(server.address, timeout=300) as client:
            workload.warm(client, bench.world.date, bench.hit_users[0], bench.hit_users)
        return
    # In-process caches: every client ranks every hit reader once on its own connection (the
    # warm-up of its first run), so whichever worker holds it has them all cached.
    bench.results.setup["workers_warmup"] = "every client ranks every hit reader first"


def _redis_row(bench: Bench, server: ServerProcess) -> dict[int, report.WorkersRun]:
    """The hit row at every number of clients on this one-worker Redis server."""
    runs = {clients: _hits(bench, server, clients) for clients in bench.options.clients}
    measured = {clients: run.measured for clients, run in runs.items()}
    row = report.RpcRow(rows.REDIS_HIT_KEY, rows.REDIS_HIT_LABEL, measured)
    for result in measured.values():
        bench.progress(summary(row.label, result))
    keys = [row.key for row in bench.results.rows]
    at = keys.index("rank_hit") + 1 if "rank_hit" in keys else len(keys)
    bench.results.rows.insert(at, row)
    return runs


def _hits(bench: Bench, server: ServerProcess, clients: int) -> report.WorkersRun:
    """Cache-hit runs interleaved with the floor, with how the load spread over the workers."""
    pids = server.worker_pids
    connections: list[tuple[int, ...]] = []

    def count_connections() -> None:
        held = connections_by_pid(pids, server.address)
        connections.append(tuple(held[pid] for pid in pids))

    hits = rows.hit_plan(bench.hit_users, bench.world.date)
    warmup = 3 if bench.options.redis_url else len(hits.requests)  # see _warm
    first = rows.RowPlan(hits.method, hits.requests, check="rank", check_every=10, warmup=warmup)

    def plan(repeat: int) -> rows.RowPlan:
        return first if repeat == 0 else hits

    measured: Measured = bench.interleaved(server, plan, clients, pids, count_connections)
    cpu = tuple(sum(run.server_cpu_by_pid.get(pid, 0.0) for run in measured.runs) for pid in pids)
    return report.WorkersRun(server.workers, measured, tuple(connections), cpu)
