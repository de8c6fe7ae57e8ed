"""``python -m bench.speed``: papersift's latency, throughput and training cost, in one run.

Steps: build a 3,000-paper day from real arXiv listings and synthetic readers with tastes
(:mod:`bench.speed.data`); train the served model on 100k interactions; start
``papersift-server`` (SQLite + in-process cache, ``--workers 1``) on loopback
(:mod:`bench.speed.serve`), fill its store with the client library, and load each RPC row
(:mod:`bench.speed.rows`) from separate client processes at 1 and 8 concurrent clients, each
row ``--repeats`` times interleaved with the floor (:mod:`bench.speed.serving`); then the
cache-hit row on Redis and ``--workers 1`` against ``--workers 2`` (:mod:`bench.speed.scaling`);
then the background precompute on models of 1k and 10k readers
(:mod:`bench.speed.background`); last, time training on the other sizes (10k, 1M). Tables and
the goals of issue 12 go to stdout and ``bench/results/speed.md`` (plus ``speed.json`` and
``speed.png``, :mod:`bench.speed.report`); progress goes to stderr. Options:
:mod:`bench.speed.options`.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import redis

from bench.speed import data, report
from bench.speed.background import precompute_rows
from bench.speed.context import Bench, Progress
from bench.speed.notes import add_notes
from bench.speed.options import READER_EVENTS, Options, parse_args
from bench.speed.scaling import scale_rows
from bench.speed.serve import delete_cache_keys
from bench.speed.serving import serve_rows

__all__ = ["Bench", "Progress", "main", "run"]


def run(options: Options, command: str) -> report.SpeedResults:
    """Everything the options ask for, in one run."""
    progress = Progress()
    results = report.SpeedResults(
        command=command, concurrencies=options.clients, repeats=options.repeats
    )
    results.setup["machine"] = _machine()
    if options.redis_url:
        _check_redis(options.redis_url)
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
            serve_rows(bench)
            if options.workers or options.redis_url:
                scale_rows(bench)
        finally:
            if options.redis_url:
                delete_cache_keys(options.redis_url, bench.cache_prefix)
        precompute_rows(bench)
        _train_other_sizes(bench)
        add_notes(options, results, world)
    results.wall_seconds = progress.seconds
    return results


def _check_redis(url: str) -> None:
    """Fail at once, naming the option, when the Redis of the Redis rows cannot be reached."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SystemExit(
            f"--redis-url {url}: cannot reach Redis ({exc}); start one or pass --redis-url none"
        ) from None
    finally:
        client.close()


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
        backend="SQLite + in-process cache",
        redis=f"{options.redis_url}, keys under {bench.cache_prefix}:"
        if options.redis_url
        else None,
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
    result = bench.train(options.serving_interactions, bench.serving_events, bench.model_dir)
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
        bench.results.training.append(bench.train(n, events, models))
        shutil.rmtree(models, ignore_errors=True)
    bench.results.training.sort(key=lambda run: run.interactions)


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
