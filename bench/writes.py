"""``python -m bench.writes``: write latency under concurrency, through a real server over gRPC.

Starts ``papersift-server`` (one worker, in-process cache, content model off so that no
background refit competes with the writes; with a trained model the speed bench's server does
no refit either) on a fresh SQLite file or a fresh PostgreSQL database, fills it with real arXiv
papers and some readers' events, then loads ``RecordInteractions`` (100 new events a call) and
``UpsertPapers`` (100 new papers a call, on a day nobody ranks) from ``--clients`` concurrent
clients, built exactly as ``bench.speed``'s write rows build them. Prints one table row per
RPC and number of clients: p50, p99, max latency and throughput. Numbers on a shared machine
are noisy: compare runs made back to back.

    python -m bench.writes --backend sqlite --clients 1,8 --seconds 5
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from bench.speed import data, workload
from bench.speed.load import RANKER, LoadResult, LoadSpec, run_load
from bench.speed.profile import recording, summarize_files
from bench.speed.serve import running_server
from papersift.client import Client, Paper

__all__ = ["main"]

DEFAULT_POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Requests a second a single client is assumed to reach at most (sizes the unique pools).
_RATES = {"RecordInteractions": 150.0, "UpsertPapers": 100.0}
_EVENTS_PER_READER = 10


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, checked."""
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--clients", default="8", help="comma-separated numbers of concurrent clients (e.g. 1,8)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--papers", type=int, default=5_000, help="papers in the store first")
    parser.add_argument("--events", type=int, default=20_000, help="events in the store first")
    parser.add_argument(
        "--postgres-admin-url",
        default=DEFAULT_POSTGRES_ADMIN,
        help="a PostgreSQL database to create (and drop) the benchmark's own database from",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record the server with py-spy during each row (raw files in DIR, summary on stderr)",
    )
    options = parser.parse_args(argv)
    try:
        options.clients = sorted({int(part) for part in options.clients.split(",")})
    except ValueError:
        parser.error(f"--clients must be comma-separated integers, got {options.clients!r}")
    if min(options.clients) < 1 or options.seconds <= 0 or min(options.papers, options.workers) < 1:
        parser.error("--clients, --seconds, --papers and --workers must be positive")
    return options


@contextlib.contextmanager
def database(options: argparse.Namespace, work: Path) -> Iterator[str]:
    """A fresh, empty database URL of the chosen backend, dropped afterwards."""
    if options.backend == "sqlite":
        yield f"sqlite:///{work / 'store.db'}"
        return
    name = f"papersift_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(options.postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(options.postgres_admin_url).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def world_of(papers: Sequence[Paper]) -> data.World:
    """A world whose history is ``papers``, in three arbitrary topics (writes need no tastes)."""
    return data.World(
        history=list(papers),
        day=[],
        date=max(paper.date for paper in papers),
        merged_days=(),
        topics=np.arange(len(papers), dtype=np.int64) % 3,
        n_topics=3,
    )


def pool_size(options: argparse.Namespace, rpc: str, clients: int) -> int:
    """Unique requests for one row: enough for ``seconds`` at a generous rate."""
    rate = _RATES[rpc] * (2 if clients > 1 else 1)
    return max(clients, int(np.ceil(options.seconds * rate)))


def requests_for(
    options: argparse.Namespace, world: data.World, rpc: str, clients: int
) -> list[bytes]:
    """The row's requests: the first one for the warm-up, the rest measured once each."""
    n = pool_size(options, rpc, clients) + 1
    if rpc == "RecordInteractions":
        events = data.synthetic_events(
            world,
            n * workload.BATCH_SIZE,
            prefix=f"writer-{clients}c-",
            per_user=_EVENTS_PER_READER,
            seed=options.seed + 2 + clients,
        )
        return workload.record_requests(world, events)
    write_day = world.date + dt.timedelta(days=1)
    return workload.upsert_requests(world.history, write_day, n, prefix=f"bench-{clients}c-")


def row(result: LoadResult, rpc: str, clients: int) -> str:
    """One table line."""
    errors = ", ".join(f"{code} {n}" for code, n in sorted(result.errors.items())) or "-"
    return (
        f"| {rpc} | {clients} | {result.requests} | {result.latency_ms(50):.1f} | "
        f"{result.latency_ms(99):.1f} | {result.latency_ms(100):.1f} | "
        f"{result.throughput:.0f} | {result.throughput * workload.BATCH_SIZE:.0f} | "
        f"{result.server_cores:.2f} | {errors} |"
    )


def measure(options: argparse.Namespace, spec: LoadSpec, pids: Sequence[int]) -> LoadResult:
    """Run the load, under py-spy when ``--profile`` asks for it."""
    if options.profile is None:
        return run_load(spec, pids)
    name = f"{spec.method.rsplit('/', 1)[-1]}-{spec.clients}c"
    with recording(pids, options.profile, name) as paths:
        result = run_load(spec, pids)
    print(f"{name}:\n{summarize_files(paths).table()}", file=sys.stderr)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table on stdout, progress on stderr."""
    options = parse_args(argv)
    papers = data.load_papers()[: options.papers]
    world = world_of(papers)
    seed_events = data.synthetic_events(
        world, options.events, prefix="seed-", per_user=25, seed=options.seed
    )
    lines = [
        f"backend {options.backend}, {options.workers} worker(s), {options.papers} papers and "
        f"{options.events} events stored first, {workload.BATCH_SIZE} rows a call, "
        f"{options.seconds:g} s a row",
        "",
        "| RPC | clients | calls | p50 ms | p99 ms | max ms | calls/s | rows/s | server cores "
        "| errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="papersift-writes-") as tmp:
        work = Path(tmp)
        (work / "models").mkdir()
        with (
            database(options, work) as url,
            running_server(
                work,
                database_url=url,
                model_dir=work / "models",
                workers=options.workers,
                env={"PAPERSIFT_CONTENT_MODEL": "false"},
                log_level="WARNING",
            ) as server,
        ):
            print(f"server pids {server.pids} at {server.address}", file=sys.stderr)
            with Client(server.address, timeout=300) as client:
                workload.ingest(client, papers, workload.event_chunks(world, seed_events))
            for rpc in ("RecordInteractions", "UpsertPapers"):
                for clients in options.clients:
                    requests = requests_for(options, world, rpc, clients)
                    spec = LoadSpec(
                        address=server.address,
                        method=RANKER + rpc,
                        requests=requests[1:],
                        clients=clients,
                        processes=min(clients, 2),
                        unique=True,
                        duration=options.seconds,
                        warmup=2,
                        warmup_requests=requests[:1],
                    )
                    print(f"{rpc}, {clients} clients ...", file=sys.stderr, flush=True)
                    lines.append(row(measure(options, spec, server.pids), rpc, clients))
    print("\n".join(lines))
    return 0


# Guarded: the load generator's spawned processes import this module again.
if __name__ == "__main__":
    raise SystemExit(main())
