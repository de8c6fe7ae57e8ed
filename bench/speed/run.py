"""``python -m bench.speed``: papersift's latency, throughput and training cost, in one run.

Steps: build a 3,000-paper day from real arXiv listings and synthetic readers with tastes
(:mod:`bench.speed.data`); train the served model on 100k interactions
(:mod:`bench.speed.training`); start ``papersift-server`` (SQLite + in-process cache,
``--workers 1``) on loopback (:mod:`bench.speed.serve`), fill its store with the client library,
and load each RPC row (:mod:`bench.speed.rows`) from separate client processes at 1 and 8
concurrent clients (:mod:`bench.speed.load`); then cache-hit ``RankPapers`` against
``--workers 1`` and ``--workers 2``; last, time training on the other sizes (10k, 1M). Tables
go to stdout and ``bench/results/speed.md`` (plus ``speed.json`` and ``speed.png``,
:mod:`bench.speed.report`); progress goes to stderr. Options: :mod:`bench.speed.options`.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc
import numpy as np

from bench.speed import data, report, rows, workload
from bench.speed.load import CHECK_METHOD, RANKER, LoadResult, LoadSpec, run_load
from bench.speed.notes import add_notes
from bench.speed.options import (
    FOLD_IN_EVENTS_PER_READER,
    HIT_READERS,
    READER_EVENTS,
    Options,
    parse_args,
)
from bench.speed.profile import recording, summarize_files
from bench.speed.serve import ServerProcess, delete_cache_keys, running_server, wait_for_model
from bench.speed.training import TrainRun, run_training
from papersift.client import Client


class Progress:
    """Timestamped progress lines on stderr."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def __call__(self, message: str) -> None:
        """Print ``message`` with the seconds since the run started."""
        print(
            f"[{time.perf_counter() - self._start:6.1f} s] {message}", file=sys.stderr, flush=True
        )

    @property
    def seconds(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self._start


@dataclass
class Bench:
    """A run's shared state: options, world, work folder, results so far."""

    options: Options
    world: data.World
    work: Path
    progress: Progress
    results: report.SpeedResults
    serving_events: data.Events
    hit_users: list[str] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        """The SQLite store every server of the run shares."""
        return f"sqlite:///{self.work / 'store.db'}"

    @property
    def cache_prefix(self) -> str:
        """This run's own Redis key prefix (its keys are deleted at the end)."""
        return f"papersift-speed-{os.getpid()}"

    @property
    def model_dir(self) -> Path:
        """Where the served model is published."""
        return self.work / "models"

    def server(self, workers: int, name: str) -> contextlib.AbstractContextManager[ServerProcess]:
        """A ``papersift-server`` on the run's store and model, ``workers`` processes."""
        return running_server(
            self.work,
            database_url=self.store_url,
            model_dir=self.model_dir,
            workers=workers,
            redis_url=self.options.redis_url,
            cache_prefix=self.cache_prefix,
            log_level=self.options.log_level,
            name=name,
        )

    def spec(
        self,
        server: ServerProcess,
        method: str,
        requests: Sequence[bytes],
        clients: int,
        **settings: object,
    ) -> LoadSpec:
        """A load run of the options' duration, spread over at most ``load_processes``."""
        return LoadSpec(
            address=server.address,
            method=method,
            requests=requests,
            clients=clients,
            processes=min(clients, self.options.load_processes),
            duration=self.options.duration,
            **settings,  # type: ignore[arg-type]
        )


def run(options: Options, command: str) -> report.SpeedResults:
    """Everything the options ask for, in one run."""
    progress = Progress()
    results = report.SpeedResults(command=command, concurrencies=options.clients)
    results.setup["machine"] = _machine()
    progress(f"loading arXiv papers; merging the latest days into a {options.day_size:,}-paper day")
    world = data.build_world(data.load_papers(), day_size=options.day_size, seed=options.seed)
    with _work_dir(options) as work:
        bench = Bench(
            options=options,
            world=world,
            work=work,
            progress=progress,
            results=results,
            serving_events=data.synthetic_events(
                world,
                options.serving_interactions,
                prefix="reader-",
                per_user=READER_EVENTS,
                seed=options.seed,
            ),
        )
        _describe_setup(bench)
        _train_serving_model(bench)
        try:
            _serve_rows(bench)
            if options.workers:
                _compare_workers(bench)
        finally:
            if options.redis_url:
                delete_cache_keys(options.redis_url, bench.cache_prefix)
        _train_other_sizes(bench)
        add_notes(options, results, world)
    results.wall_seconds = progress.seconds
    return results


@contextlib.contextmanager
def _work_dir(options: Options) -> Iterator[Path]:
    if options.work_dir is not None:
        options.work_dir.mkdir(parents=True, exist_ok=True)
        yield options.work_dir
        return
    work = Path(tempfile.mkdtemp(prefix="papersift-speed-"))
    try:
        yield work
    finally:
        if options.keep_work:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, grpcio {grpc.__version__}; "
        f"load average at start {load}"
    )


def _describe_setup(bench: Bench) -> None:
    world, options = bench.world, bench.options
    first, last = world.merged_days[0], world.merged_days[-1]
    bench.results.setup.update(
        day_papers=len(world.day),
        day=world.date.isoformat(),
        merged_days=[day.isoformat() for day in world.merged_days],
        history_papers=len(world.history),
        serving_interactions=options.serving_interactions,
        serving_readers=bench.serving_events.n_users,
        backend="SQLite + Redis cache" if options.redis_url else "SQLite + in-process cache",
        duration=options.duration,
    )
    bench.progress(
        f"day {world.date}: {len(world.day):,} papers listed {first} to {last}; "
        f"{len(world.history):,} earlier papers are the readers' history"
    )


# Training -----------------------------------------------------------------------------------


def _train_serving_model(bench: Bench) -> None:
    """Train the served model first: the server needs it, and it is a point of the table."""
    options = bench.options
    in_table = options.serving_interactions in options.train_sizes
    result = _train(bench, options.serving_interactions, bench.serving_events, bench.model_dir)
    if result.exit_code != 0:
        raise RuntimeError(f"training the served model failed; see {result.log}")
    if in_table:
        bench.results.training.append(result)
    else:
        bench.results.notes.append(
            f"The served model was trained on {options.serving_interactions:,} interactions in "
            f"a run of its own ({result.seconds:.0f} s), outside the training table."
        )


def _train_other_sizes(bench: Bench) -> None:
    """The rest of the training table, after every serving measurement."""
    options = bench.options
    for n in options.train_sizes:
        if n == options.serving_interactions:
            continue
        events = data.synthetic_events(
            bench.world, n, prefix="reader-", per_user=READER_EVENTS, seed=options.seed
        )
        models = bench.work / f"models-{n}"
        bench.results.training.append(_train(bench, n, events, models))
        shutil.rmtree(models, ignore_errors=True)
    bench.results.training.sort(key=lambda run: run.interactions)


def _train(bench: Bench, n: int, events: data.Events, model_dir: Path) -> TrainRun:
    options, world, work = bench.options, bench.world, bench.work
    papers_path = work / "papers.jsonl"
    if not papers_path.exists():
        data.write_papers_jsonl(world.papers, papers_path)
    events_path = data.write_events_jsonl(world, events, work / f"events-{n}.jsonl")
    epochs = "shipped epochs" if options.train_epochs is None else f"≤ {options.train_epochs}"
    bench.progress(
        f"papersift-train on {n:,} interactions of {events.n_users:,} readers "
        f"(epochs {epochs}, {options.train_threads} thread(s))"
    )
    result = run_training(
        papers_path,
        events_path,
        model_dir,
        interactions=n,
        users=events.n_users,
        papers=len(world.papers),
        epochs=options.train_epochs,
        threads=options.train_threads,
        log=work / f"train-{n}.log",
    )
    events_path.unlink()
    bench.progress(
        f"  {result.seconds:.1f} s, peak RSS {result.peak_rss_mb:,.0f} MB, exit {result.exit_code}"
    )
    return result


# Serving ------------------------------------------------------------------------------------


def _serve_rows(bench: Bench) -> None:
    options, world, progress = bench.options, bench.world, bench.progress
    with bench.server(1, "server") as server:
        progress(f"papersift-server --workers 1 at {server.address} (pid {server.process.pid})")
        with Client(server.address, timeout=300) as client:
            progress(
                f"ingesting {len(world.papers):,} papers and {len(bench.serving_events):,} "
                "interactions with the client library"
            )
            workload.ingest(
                client, world.papers, workload.event_chunks(world, bench.serving_events)
            )
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
            warmed = workload.warm(client, world.date, prepare_user, bench.hit_users)
            bench.results.setup["prepare_day_seconds"] = warmed.prepare_seconds
            progress(
                f"day prepared by one {warmed.strategy} request in {warmed.prepare_seconds:.1f} s; "
                f"{len(bench.hit_users)} readers' lists cached"
            )
        for row in rows.row_defs(options, world, bench.hit_users, pools):
            measured: dict[int, LoadResult] = {}
            for clients in options.clients:
                if row.fewest_clients_only and clients != min(options.clients):
                    continue
                plan = row.plan(clients)
                if not plan.requests:
                    progress(f"{row.label}, {clients} clients: skipped, no requests left")
                    continue
                result = run_load(
                    bench.spec(
                        server,
                        plan.method,
                        plan.requests,
                        clients,
                        unique=plan.unique,
                        check=plan.check,
                        check_every=plan.check_every,
                        warmup=plan.warmup,
                        warmup_requests=plan.warmup_requests,
                        min_requests=plan.min_requests,
                    ),
                    server.pids,
                )
                measured[clients] = result
                progress(_summary(row.label, result))
            bench.results.rows.append(
                report.RpcRow(row.key, row.label, measured, row.items_per_request, row.item)
            )
        if options.profile:
            _profile_one_worker(bench, server, pools.get(("profile", 1), []))


def _summary(label: str, result: LoadResult) -> str:
    if not result.requests:
        return f"{label}, {result.clients} clients: no request completed {result.errors}"
    errors = f" errors {result.errors}" if result.errors else ""
    return (
        f"{label}, {result.clients} clients: {result.throughput:,.1f} req/s, "
        f"p50 {result.latency_ms(50):.2f} ms, p99 {result.latency_ms(99):.2f} ms "
        f"({result.requests:,} requests, server {result.server_cores:.2f} cores, "
        f"clients {result.client_cores:.2f}){errors}"
    )


# Workers ------------------------------------------------------------------------------------


def _compare_workers(bench: Bench) -> None:
    options = bench.options
    clients = max(options.clients)
    requests = workload.rank_requests(bench.hit_users, bench.world.date)
    for workers in options.workers:
        with bench.server(workers, f"server-w{workers}") as server:
            bench.progress(f"papersift-server --workers {workers} at {server.address}")
            # Every client first ranks every hit reader on its own connection, so whichever
            # worker the kernel gave that connection has prepared the day and cached them all.
            spec = bench.spec(
                server,
                RANKER + "RankPapers",
                requests,
                clients,
                check="rank",
                check_every=10,
                warmup=len(requests),
            )
            result = run_load(spec, server.worker_pids)
            bench.progress(_summary(f"--workers {workers} cache hit", result))
            bench.results.workers.append(
                report.WorkersRun(
                    workers,
                    result,
                    tuple(result.server_cpu_by_pid[pid] for pid in server.worker_pids),
                )
            )
            if options.profile and workers > 1:
                _profile(bench, server.worker_pids, spec, f"hit-{workers}workers")


# Profiles -----------------------------------------------------------------------------------


def _profile_one_worker(bench: Bench, server: ServerProcess, users: Sequence[str]) -> None:
    """Profile the floor and cache hits at the most clients, cache misses at one client."""
    options, date = bench.options, bench.world.date
    seconds = options.profile_seconds
    floor = bench.spec(server, CHECK_METHOD, [workload.check_request()], max(options.clients))
    _profile(bench, [server.process.pid], floor, "check-1worker", seconds)
    hits = workload.rank_requests(bench.hit_users, date)
    spec = bench.spec(server, RANKER + "RankPapers", hits, max(options.clients), check="rank")
    _profile(bench, [server.process.pid], spec, "hit-1worker", seconds)
    if users:
        misses = bench.spec(
            server,
            RANKER + "RankPapers",
            workload.rank_requests(users, date),
            1,
            unique=True,
            check="rank",
            warmup=1,
            warmup_requests=hits,
        )
        _profile(bench, [server.process.pid], misses, "miss-1worker", seconds)


def _profile(
    bench: Bench, pids: Sequence[int], spec: LoadSpec, name: str, seconds: float | None = None
) -> None:
    spec = replace(spec, duration=seconds or bench.options.profile_seconds)
    folder = bench.options.out_dir / "profiles"
    with recording(pids, folder, name) as paths:
        result = run_load(spec, pids)
    profile = summarize_files(paths)
    cpu_ms = 1000 * result.server_cpu_seconds / max(1, result.requests)
    text = (
        f"### py-spy: {name} ({spec.clients} client(s); {result.requests:,} requests, "
        f"{result.throughput:,.0f} req/s under the profiler, {cpu_ms:.2f} ms of server CPU per "
        f"request; {profile.samples:,} busy samples)\n\n{profile.table(15)}\n"
    )
    (folder / f"{name}.md").write_text(text, encoding="utf-8")
    bench.results.profiles.append(text)
    bench.progress(f"profile {name}: {folder / (name + '.md')}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the results folder; exit code 0."""
    options = parse_args(argv)
    arguments = list(argv) if argv is not None else sys.argv[1:]
    command = ("python -m bench.speed " + shlex.join(arguments)).strip()
    results = run(options, command)
    paths = report.write(results, options.out_dir)
    print(report.markdown(results))
    print(f"wrote {', '.join(str(path) for path in paths.values())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
