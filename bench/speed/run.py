"""``python -m bench.speed``: papersift's latency, throughput and training cost, in one run.

Steps: build a 3,000-paper day from real arXiv listings and synthetic readers with tastes
(:mod:`bench.speed.data`); time ``papersift-train`` on 10k, 100k and 1M interactions
(:mod:`bench.speed.training`), the serving size's model becoming the served one; start
``papersift-server`` (SQLite + in-process cache, ``--workers 1``) on loopback, fill its store,
and load each RPC from separate client processes at 1 and 8 concurrent clients
(:mod:`bench.speed.load`); then cache-hit ``RankPapers`` against ``--workers 1`` and
``--workers 2``. Tables go to stdout and ``bench/results/speed.md`` (plus ``speed.json`` and
``speed.png``); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np

from bench.speed import data, report, workload
from bench.speed.load import CHECK_METHOD, RANKER, Checked, LoadResult, LoadSpec, run_load
from bench.speed.profile import recording, summarize_files
from bench.speed.serve import ServerProcess, running_server, wait_for_model
from bench.speed.training import TrainRun, run_training
from papersift.client import Client

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "results"
TRAIN_SIZES = (10_000, 100_000, 1_000_000)
#: Interactions of the served model with --quick: enough readers for every never-ranked pool.
QUICK_SERVING = 60_000
#: Readers whose lists are cached before the cache-hit rows (and one batch of them).
HIT_READERS = workload.BATCH_SIZE
FOLD_IN_EVENTS_PER_READER = 8
#: Mean events per synthetic reader of the trained models (readers grow with interactions).
READER_EVENTS = 40


@dataclass(frozen=True)
class Options:
    """What to run; see ``--help`` for each field."""

    out_dir: Path = DEFAULT_OUT_DIR
    work_dir: Path | None = None
    keep_work: bool = False
    day_size: int = 3_000
    clients: tuple[int, ...] = (1, 8)
    load_processes: int = 2
    duration: float = 4.0
    serving_interactions: int = 100_000
    fold_in_readers: int = 1_000
    train_sizes: tuple[int, ...] = TRAIN_SIZES
    train_epochs: int | None = 1
    train_threads: int = 2
    workers: tuple[int, ...] = (1, 2)
    redis_url: str | None = None
    log_level: str = "INFO"
    seed: int = 0
    profile: bool = False
    profile_seconds: float = 15.0


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line; ``--quick`` sets small defaults for the others."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.speed",
        description="papersift speed benchmark: RPC latency and throughput on loopback, "
        "--workers 1 vs 2, and training cost against interactions.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (~2 min): 1.5 s per load run, 300 FOLD_IN readers, and one training "
        f"run, of the served model, on {QUICK_SERVING:,} interactions",
    )
    parser.add_argument("--duration", type=float, help="seconds of measurement per run (4)")
    parser.add_argument(
        "--clients", default="1,8", help="comma-separated concurrent clients (default 1,8)"
    )
    parser.add_argument(
        "--load-processes",
        type=int,
        default=2,
        help="client processes the clients are spread over at most (default 2; 1 client = 1)",
    )
    parser.add_argument("--day-size", type=int, default=3_000, help="papers of the ranked day")
    parser.add_argument(
        "--serving-interactions",
        type=int,
        help="synthetic interactions the served model is trained on and the store holds "
        f"(default 100000; {QUICK_SERVING} with --quick)",
    )
    parser.add_argument(
        "--fold-in-readers",
        type=int,
        help=f"readers recorded after training ({FOLD_IN_EVENTS_PER_READER} events each; "
        "default 1000, 300 with --quick)",
    )
    parser.add_argument(
        "--train-sizes",
        help="comma-separated interaction counts to time training on (default "
        f"{','.join(str(n) for n in TRAIN_SIZES)}; 'none' to skip)",
    )
    parser.add_argument(
        "--train-epochs",
        default="1",
        help="cap on training epochs (--epochs of papersift-train), or 'shipped' for the "
        "shipped configuration's (30 with early stopping); default 1 so that 1M interactions "
        "fit the time budget",
    )
    parser.add_argument(
        "--train-threads",
        type=int,
        default=2,
        help="LightFM threads of papersift-train (--threads; default 2, the machine's cores: "
        "nothing else runs while it trains)",
    )
    parser.add_argument(
        "--workers",
        default="1,2",
        help="worker counts to compare on cache-hit RankPapers (default 1,2; 'none' to skip)",
    )
    parser.add_argument("--redis-url", help="use this Redis as the ranking cache (default: none)")
    parser.add_argument(
        "--server-log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="papersift-server --log-level (INFO: an access-log line per request, the default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic readers")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after measuring, sample the server with py-spy under cache-hit, cache-miss and "
        "2-worker load and print where the time goes (adds about a minute)",
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=15.0, help="seconds per profile (default 15)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="results folder")
    parser.add_argument(
        "--work-dir", type=Path, help="folder for the store, models and logs (default: a temp one)"
    )
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the work folder (store, models, logs)"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    try:
        clients = _counts(args.clients)
        workers = _counts(args.workers)
        sizes = (
            _counts(args.train_sizes)
            if args.train_sizes
            else ((QUICK_SERVING,) if quick else TRAIN_SIZES)
        )
    except ValueError as exc:
        parser.error(str(exc))
    if not clients:
        parser.error("--clients: give at least one count, e.g. 1,8")
    epochs = None if args.train_epochs == "shipped" else _positive(parser, args.train_epochs)
    duration = args.duration if args.duration is not None else (1.5 if quick else 4.0)
    if duration <= 0 or min(args.load_processes, args.day_size, args.train_threads) < 1:
        parser.error(
            "--duration, --load-processes, --day-size and --train-threads must be positive"
        )
    serving = args.serving_interactions or (QUICK_SERVING if quick else 100_000)
    return Options(
        out_dir=args.out,
        work_dir=args.work_dir,
        keep_work=args.keep_work,
        day_size=args.day_size,
        clients=clients,
        load_processes=args.load_processes,
        duration=duration,
        serving_interactions=serving,
        fold_in_readers=args.fold_in_readers or (300 if quick else 1_000),
        train_sizes=sizes,
        train_epochs=epochs,
        train_threads=args.train_threads,
        workers=workers,
        redis_url=args.redis_url,
        log_level=args.server_log_level,
        seed=args.seed,
        profile=args.profile,
        profile_seconds=args.profile_seconds,
    )


def _counts(text: str) -> tuple[int, ...]:
    if text.strip() == "none":
        return ()
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"expected comma-separated whole numbers or 'none', got {text!r}"
        ) from None
    if any(value < 1 for value in values):
        raise ValueError(f"counts must be at least 1, got {text!r}")
    return values


def _positive(parser: argparse.ArgumentParser, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        parser.error(f"--train-epochs: a whole number >= 1 or 'shipped', got {text!r}")
    return int(text)


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
        _serve_rows(bench)
        if options.workers:
            _compare_workers(bench)
        _train_other_sizes(bench)
        _notes(bench)
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


@dataclass(frozen=True)
class RowPlan:
    """How to load one RPC row at one concurrency."""

    method: str
    requests: list[bytes]
    unique: bool = False
    check: Checked = "none"
    check_every: int = 1
    warmup: int = 3
    warmup_requests: list[bytes] = field(default_factory=list)
    min_requests: int = 1


@dataclass(frozen=True)
class RowDef:
    """An RPC row: its label, and how to plan it for a number of clients."""

    key: str
    label: str
    plan: Callable[[int], RowPlan]
    items_per_request: int = 1
    item: str = ""
    #: Measured at the fewest clients only (when more would not fit the time budget).
    fewest_clients_only: bool = False


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
            pools = _pools(options, personal[1 + HIT_READERS :], newcomers.user_ids)
            warmed = workload.warm(client, world.date, prepare_user, bench.hit_users)
            bench.results.setup["prepare_day_seconds"] = warmed.prepare_seconds
            progress(
                f"day prepared by one {warmed.strategy} request in {warmed.prepare_seconds:.1f} s; "
                f"{len(bench.hit_users)} readers' lists cached"
            )
        rows = _row_defs(bench, pools)
        for row in rows:
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


def _unique_budget(options: Options, clients: int, per_second_single: float) -> int:
    """How many unique requests a run may use: enough for its duration at a generous rate."""
    rate = per_second_single * (2 if clients > 1 else 1)
    return max(clients, math.ceil(options.duration * rate))


#: Generous single-client rates (requests/s) that size the pools of never-ranked readers.
MISS_RATE = 60.0
BATCH_MISS_RATE = 0.5


def _pools(
    options: Options, personal: Sequence[str], newcomers: Sequence[str]
) -> dict[tuple[str, int], list[str]]:
    """Readers never ranked, split between the runs that need them (one reader, one run)."""
    batch = workload.BATCH_SIZE
    wants: dict[tuple[str, int], int] = {}
    for clients in options.clients:
        wants["miss", clients] = _unique_budget(options, clients, MISS_RATE)
    wants["batch", min(options.clients)] = batch * _unique_budget(
        options, min(options.clients), BATCH_MISS_RATE
    )
    if options.profile:
        wants["profile", 1] = math.ceil(options.profile_seconds * MISS_RATE)
    pools = workload.allocate(personal, wants, {key: batch for key in wants if key[0] == "batch"})
    fold_in = workload.allocate(
        newcomers,
        {("fold_in", c): _unique_budget(options, c, MISS_RATE) for c in options.clients},
    )
    return {**pools, **fold_in}


def _row_defs(bench: Bench, pools: dict[tuple[str, int], list[str]]) -> list[RowDef]:
    options, world = bench.options, bench.world
    date = world.date
    hit_requests = workload.rank_requests(bench.hit_users, date)
    write_day = date + dt.timedelta(days=1)  # nobody ranks it: writes touch no cached list

    def check(clients: int) -> RowPlan:
        return RowPlan(CHECK_METHOD, [workload.check_request()])

    def rank_hit(clients: int) -> RowPlan:
        return RowPlan(RANKER + "RankPapers", hit_requests, check="rank", check_every=10)

    def rank_miss(clients: int) -> RowPlan:
        users = pools["miss", clients]
        return RowPlan(
            RANKER + "RankPapers",
            workload.rank_requests(users, date),
            unique=True,
            check="rank",
            warmup=1,
            warmup_requests=hit_requests,
        )

    def fold_in_miss(clients: int) -> RowPlan:
        users = pools["fold_in", clients]
        return RowPlan(
            RANKER + "RankPapers",
            workload.rank_requests(users, date),
            unique=True,
            check="rank",
            warmup=1,
            warmup_requests=hit_requests,
        )

    def batch_hit(clients: int) -> RowPlan:
        return RowPlan(
            RANKER + "RankPapersBatch",
            workload.rank_batch_requests(bench.hit_users, date),
            check="batch",
            warmup=1,
        )

    def batch_miss(clients: int) -> RowPlan:
        users = pools["batch", clients]
        return RowPlan(
            RANKER + "RankPapersBatch",
            workload.rank_batch_requests(users, date),
            unique=True,
            check="batch",
            warmup=1,
            warmup_requests=workload.rank_batch_requests(bench.hit_users, date),
            min_requests=2,
        )

    def record(clients: int) -> RowPlan:
        n = _unique_budget(options, clients, 150)
        events = data.synthetic_events(
            world,
            (n + 1) * workload.BATCH_SIZE,
            prefix=f"writer-{clients}c-",
            per_user=10,
            seed=options.seed + 2 + clients,
        )
        requests = workload.record_requests(world, events)
        return RowPlan(
            RANKER + "RecordInteractions",
            requests[1:],
            unique=True,
            warmup=2,
            warmup_requests=requests[:1],  # recorded once, then duplicates
        )

    def upsert(clients: int) -> RowPlan:
        n = _unique_budget(options, clients, 100)
        requests = workload.upsert_requests(
            world.history, write_day, n + 1, prefix=f"speed-{clients}c-"
        )
        return RowPlan(
            RANKER + "UpsertPapers",
            requests[1:],
            unique=True,
            warmup=2,
            warmup_requests=requests[:1],  # inserted once, then unchanged
        )

    batch = workload.BATCH_SIZE
    return [
        RowDef("check", "Check (health; the floor)", check),
        RowDef("rank_hit", "RankPapers, cache hit", rank_hit),
        RowDef("rank_miss", "RankPapers, cache miss (PERSONAL)", rank_miss),
        RowDef("fold_in_miss", "RankPapers, FOLD_IN reader (miss)", fold_in_miss),
        RowDef(
            "batch_hit", f"RankPapersBatch, {batch} cached readers", batch_hit, batch, "readers/s"
        ),
        RowDef(
            "batch_miss",
            f"RankPapersBatch, {batch} readers never ranked",
            batch_miss,
            batch,
            "readers/s",
            fewest_clients_only=True,
        ),
        RowDef("record", f"RecordInteractions, {batch} new events", record, batch, "events/s"),
        RowDef("upsert", f"UpsertPapers, {batch} new papers", upsert, batch, "papers/s"),
    ]


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
    from dataclasses import replace

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


# Notes --------------------------------------------------------------------------------------


def _notes(bench: Bench) -> None:
    options, setup, notes = bench.options, bench.results.setup, bench.results.notes
    processes = min(max(options.clients), options.load_processes)
    notes.insert(
        0,
        "Load: closed loop from separate client processes (spawned, never the server's); a "
        "client is one gRPC channel with its own HTTP/2 connection and one request in flight. "
        f"{max(options.clients)} clients run as {processes} processes of asyncio tasks on "
        "grpc.aio, 1 client as 1 process. Requests are serialized before the clock starts and "
        "sent as raw bytes; a sample of the ranking answers is parsed to check the strategy "
        f"and the cached flag (the 'answers checked' column). Each run measures "
        f"{options.duration:g} s after a few warm-up calls per client, or until its pool of "
        "unique requests runs out; slow calls finish. Latency is per call, client side; p99 "
        "is the nearest-rank percentile. 'server cores' is the server's CPU time over the "
        "window (/proc), 'client cores' the load processes'; all on one "
        f"{os.cpu_count()}-core machine, so their sum is what contends.",
    )
    notes.append(
        f"Server: papersift-server --workers 1 on {setup['backend']}, --log-level "
        f"{options.log_level} (an access-log line per request, to a file), the served model "
        f"trained on {options.serving_interactions:,} synthetic interactions of "
        f"{setup['serving_readers']:,} readers (version {setup.get('model_version', '?')})."
    )
    notes.append(
        f"The day: {setup['day_papers']:,} arXiv papers of {len(setup['merged_days'])} listing "
        f"days ({setup['merged_days'][0]} to {setup['merged_days'][-1]}) listed as one day, "
        f"{setup['day']}. Before any RankPapers row, one request prepared the day's item matrix "
        f"for the model ({setup.get('prepare_day_seconds', float('nan')):.1f} s, done once per "
        "model and day and kept in memory), so the miss rows measure a reader's own cost only."
    )
    notes.append(
        f"Cache hit: the same {HIT_READERS} PERSONAL readers, each ranked once before. Cache "
        "miss (PERSONAL): every request a different reader of the model never ranked that day. "
        f"FOLD_IN: every request a different one of {options.fold_in_readers:,} readers whose "
        f"{FOLD_IN_EVENTS_PER_READER} clicks and saves were recorded after training, never "
        "ranked that day. RankPapersBatch: 100 readers per call, first page of 20 each; "
        "'cached readers' are the cache-hit readers, 'never ranked' are PERSONAL readers "
        "ranked for the first time by that call, measured at "
        f"{min(options.clients)} client only (at least 2 calls): at {max(options.clients)} "
        f"clients one call each is {max(options.clients) * workload.BATCH_SIZE} misses, "
        "half a minute on one worker, beyond the time budget."
    )
    notes.append(
        "Writes run after every ranking row: RecordInteractions records 100 new events of new "
        "readers on earlier days' papers per call, UpsertPapers inserts 100 new papers (real "
        f"text, new ids) listed on {(bench.world.date + dt.timedelta(days=1)).isoformat()}, "
        "a day nobody ranks; neither invalidates a cached list of the ranked day."
    )
    if bench.results.workers:
        notes.append(
            f"Workers: each count is a fresh server (SO_REUSEPORT, in-process cache per "
            f"worker) under the same cache-hit load of {max(options.clients)} clients; each "
            "client first ranks all the hit readers on its own connection, so the worker it "
            "landed on has prepared the day and cached them (outside the measurement). The "
            "kernel spreads connections over the workers by hash, so the split can be uneven "
            "(the 'CPU s per worker' column)."
        )
    if bench.results.training:
        cap = (
            "the shipped configuration's epochs (at most 30, early stopping)"
            if options.train_epochs is None
            else f"at most {options.train_epochs} epoch(s) (--train-epochs; papersift-train "
            "--epochs), so that 1M interactions fit the 10-minute budget: the shipped "
            "configuration trains up to 30 with early stopping"
        )
        notes.append(
            "Training: papersift-train on JSONL exports of all the papers and the synthetic "
            f"interactions (readers with 1 to 3 favourite topics, about {READER_EVENTS} events "
            f"each, so readers grow with interactions), {cap}; validation split, blend tuning, "
            "baselines and the final refit on everything included, as the job runs them; "
            f"{options.train_threads} LightFM thread(s) (--train-threads; the CLI's default is "
            "1), nothing else of the benchmark running. Peak RSS is the training process's own "
            "ru_maxrss, taken by a small launcher (bench/speed/rusage.py) so that the "
            "benchmark's own memory is not counted. The served model is the "
            f"{options.serving_interactions:,}-interaction run's, trained before the RPC rows; "
            "the other sizes run after them."
        )


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
