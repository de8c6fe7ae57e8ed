"""What a speed-benchmark run does: its options, from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.speed import workload

__all__ = [
    "DEFAULT_REDIS_URL",
    "FOLD_IN_EVENTS_PER_READER",
    "HIT_READERS",
    "PRECOMPUTE_EVENTS",
    "PRECOMPUTE_READERS",
    "QUICK_SERVING",
    "READER_EVENTS",
    "TRAIN_SIZES",
    "Options",
    "parse_args",
]

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
#: Known readers of the models the background precompute is timed on.
PRECOMPUTE_READERS = (1_000, 10_000)
#: Events per reader of those models (fewer than READER_EVENTS: training and recording them is
#: most of the precompute row's time, and a precomputed list does not depend on it much).
PRECOMPUTE_EVENTS = 5
#: The Redis of the Redis-backed rows: a database of its own (keys under the run's prefix).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"


@dataclass(frozen=True)
class Options:
    """What to run; see ``--help`` for each field."""

    out_dir: Path = DEFAULT_OUT_DIR
    work_dir: Path | None = None
    keep_work: bool = False
    day_size: int = 3_000
    clients: tuple[int, ...] = (1, 8)
    load_processes: int = 2
    duration: float = 3.0
    repeats: int = 3
    serving_interactions: int = 100_000
    fold_in_readers: int = 2_500
    train_sizes: tuple[int, ...] = TRAIN_SIZES
    train_epochs: int | None = 1
    train_threads: int = 2
    workers: tuple[int, ...] = (1, 2)
    redis_url: str | None = DEFAULT_REDIS_URL
    precompute_readers: tuple[int, ...] = PRECOMPUTE_READERS
    precompute_timeout: float = 120.0
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
        help="the issue's goals in one shorter run (about 6 min): 1.5 s per load run, 1,000 "
        "FOLD_IN readers, and one training run, of the served model, on "
        f"{QUICK_SERVING:,} interactions",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds of measurement per run (3; 1.5 with --quick)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each row at each number of clients, each just after a run of the floor "
        "(default 3); the tables give medians and ranges",
    )
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
        "default 2500, 1000 with --quick)",
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
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="the Redis of the Redis-backed cache-hit row and of the worker comparison (a key "
        f"prefix of the run's own, deleted at the end; default {DEFAULT_REDIS_URL}); 'none': "
        "no Redis row, workers compared on in-process caches. The other rows always use the "
        "in-process cache",
    )
    parser.add_argument(
        "--precompute-readers",
        default=",".join(str(n) for n in PRECOMPUTE_READERS),
        help="known readers of the models the background precompute is timed on, each a model "
        f"of its own ({PRECOMPUTE_EVENTS} events a reader; default "
        f"{','.join(str(n) for n in PRECOMPUTE_READERS)}; 'none' to skip)",
    )
    parser.add_argument(
        "--precompute-timeout",
        type=float,
        help="most seconds to wait for a precompute to cache every known reader (120; 90 with "
        "--quick)",
    )
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
        precompute = _counts(args.precompute_readers)
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
    duration = args.duration if args.duration is not None else (1.5 if quick else 3.0)
    if duration <= 0 or min(args.load_processes, args.day_size, args.train_threads) < 1:
        parser.error(
            "--duration, --load-processes, --day-size and --train-threads must be positive"
        )
    if args.repeats < 1:
        parser.error(f"--repeats: at least 1 (3 or more to see the noise), got {args.repeats}")
    timeout = args.precompute_timeout or (90.0 if quick else 120.0)
    if timeout <= 0:
        parser.error(f"--precompute-timeout must be positive, got {timeout:g}")
    serving = args.serving_interactions or (QUICK_SERVING if quick else 100_000)
    return Options(
        out_dir=args.out,
        work_dir=args.work_dir,
        keep_work=args.keep_work,
        day_size=args.day_size,
        clients=clients,
        load_processes=args.load_processes,
        duration=duration,
        repeats=args.repeats,
        serving_interactions=serving,
        fold_in_readers=args.fold_in_readers or (1_000 if quick else 2_500),
        train_sizes=sizes,
        train_epochs=epochs,
        train_threads=args.train_threads,
        workers=workers,
        redis_url=None if args.redis_url.strip() == "none" else args.redis_url,
        precompute_readers=precompute,
        precompute_timeout=timeout,
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
