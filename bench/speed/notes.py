"""The notes under the tables: how the load was made and what each row measured."""

from __future__ import annotations

import datetime as dt
import os

from bench.speed import workload
from bench.speed.data import World
from bench.speed.options import (
    FOLD_IN_EVENTS_PER_READER,
    HIT_READERS,
    PRECOMPUTE_EVENTS,
    READER_EVENTS,
    Options,
)
from bench.speed.report import SpeedResults

__all__ = ["add_notes"]


def add_notes(options: Options, results: SpeedResults, world: World) -> None:
    """Say how the run was made: load, server, day, readers, writes, workers, training."""
    setup, notes = results.setup, results.notes
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
        "unique requests runs out; slow calls finish. Every row runs "
        f"{options.repeats} time(s) at each number of clients, alternating with runs of the "
        "floor (floor, row, floor, row, ...) from the same client processes, which wait for "
        "each other between runs; unique rows (misses, writes) get new readers, events or "
        "papers in every run. Latency is per call, client side; p99 "
        "is the nearest-rank percentile. 'server cores' is the server's CPU time over the "
        "window (/proc), 'client cores' the load processes'; all on one "
        f"{os.cpu_count()}-core machine, so their sum is what contends.",
    )
    notes.append(
        f"Server: papersift-server --workers 1 on {setup['backend']}, --log-level "
        f"{options.log_level} (an access-log line per request, to a file), the served model "
        f"trained on {options.serving_interactions:,} synthetic interactions of "
        f"{setup['serving_readers']:,} readers (version {setup.get('model_version', '?')}). "
        "Before each row the benchmark waits (at most 2 min) until the server's background "
        "precompute reports no reader pending (papersift_precompute_pending_readers on "
        "/metrics), so that no row shares the CPU with it."
    )
    _cached_misses(results, notes)
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
        f"text, new ids) listed on {(world.date + dt.timedelta(days=1)).isoformat()}, "
        "a day nobody ranks; neither invalidates a cached list of the ranked day."
    )
    if setup.get("redis"):
        notes.append(
            "RankPapers, cache hit (Redis): the same hit readers on a fresh one-worker server "
            f"whose cache is the Redis at {setup['redis']} (deleted at the end); its lists were "
            "cached by one ranking of each reader, its floor runs are that server's."
        )
    if results.workers:
        if setup.get("workers_cache") == "Redis":
            how = (
                "one Redis cache shared by the workers (the --workers 1 runs are the Redis "
                "row's at the most clients); the lists were cached once"
            )
        else:
            how = (
                "an in-process cache per worker; each client first ranks all the hit readers "
                "on its own connection, so the worker it landed on has cached them (outside "
                "the measurement)"
            )
        notes.append(
            f"Workers: each count is a fresh server (SO_REUSEPORT) under the same cache-hit load "
            f"of {max(options.clients)} clients, with {how}. The kernel spreads connections "
            "over the workers by hash: 'load spread' gives the established connections each "
            "worker held at the start of each run (read from /proc/net/tcp and the workers' "
            "open sockets) and the CPU seconds each used over the hit runs. The ratio to "
            "--workers 1 is of medians over runs of different servers, so its range is the "
            "widest pairing (lowest over highest to highest over lowest)."
        )
    if results.precompute:
        notes.append(
            "Background precompute: per size, a model trained on that many synthetic readers "
            f"({PRECOMPUTE_EVENTS} events each) is published to a fresh one-worker server "
            "(in-process cache) whose store holds the papers and those readers' events; the "
            "times are seconds after the publication (CURRENT replaced), read by polling "
            "/metrics (papersift_precompute_lists_total, papersift_precompute_pending_readers) "
            "and GetModelInfo every 0.1 s, never RankPapers. 'every reader cached' is when as "
            "many lists as readers were counted with none pending; readers/s is the lists over "
            "the time from the model's load to the last list. The 100k row is on paper: "
            "T = L + N / r, L the largest run's load time and r its readers/s, assuming a "
            "reader costs the same at any count (fixed-size blocks) and loading does not grow. "
            f"Each wait is bounded ({options.precompute_timeout:g} s, --precompute-timeout)."
        )
    if results.training:
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


def _cached_misses(results: SpeedResults, notes: list[str]) -> None:
    """Say so when rows meant to miss were answered from the cache (precomputed lists)."""
    for key in ("rank_miss", "fold_in_miss", "batch_miss"):
        row = results.row(key)
        if row is None:
            continue
        checks: dict[str, int] = {}
        for measured in row.results.values():
            for label, count in measured.checks().items():
                checks[label] = checks.get(label, 0) + count
        cached = sum(count for label, count in checks.items() if label.endswith(" cached"))
        if cached:
            notes.append(
                f"{row.label}: {cached:,} of {sum(checks.values()):,} checked answers came from "
                "the cache (lists precomputed in the background), so the row measures hits, "
                "not misses; run the server without the precompute to time a miss."
            )
