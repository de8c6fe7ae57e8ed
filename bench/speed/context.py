"""A benchmark run's shared state, and the two things every part of it does: start a server,
and measure a row in runs interleaved with the floor."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.speed import data, report
from bench.speed.load import LoadResult, LoadSpec, run_series
from bench.speed.options import Options
from bench.speed.precompute import settle
from bench.speed.rows import RowPlan, floor_plan
from bench.speed.serve import ServerProcess, running_server, server_flags
from bench.speed.stats import Measured
from bench.speed.training import TrainRun, run_training

__all__ = ["Bench", "Progress", "summary"]

#: Most seconds to wait for a server's background precompute to finish before measuring.
SETTLE_TIMEOUT = 120.0


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
    #: A copy of the store holding the papers only (the precompute's stores start from it).
    papers_store: Path | None = None
    #: Whether the served server reported precompute metrics (``None``: not known yet).
    precompute_metrics: bool | None = None

    @property
    def store_url(self) -> str:
        """The SQLite store every server of the run shares."""
        return f"sqlite:///{self.store_path}"

    @property
    def store_path(self) -> Path:
        """The SQLite file of that store."""
        return self.work / "store.db"

    @property
    def cache_prefix(self) -> str:
        """This run's own Redis key prefix (its keys are deleted at the end)."""
        return f"papersift-speed-{os.getpid()}"

    @property
    def model_dir(self) -> Path:
        """Where the served model is published."""
        return self.work / "models"

    def server(
        self,
        workers: int,
        name: str,
        *,
        redis: bool = False,
        database_url: str | None = None,
        model_dir: Path | None = None,
        precompute: bool = False,
    ) -> contextlib.AbstractContextManager[ServerProcess]:
        """A ``papersift-server`` with ``/metrics`` on the run's store and model (by default),
        ``workers`` processes; on the run's Redis when ``redis``, else in-process caches.

        The background precompute is off unless ``precompute``: it would turn the miss rows
        into hits and share the CPU with the rows; its own row turns it on.
        """
        off = ["--precompute", "false"] if "--precompute" in server_flags() else []
        return running_server(
            self.work,
            database_url=database_url or self.store_url,
            model_dir=model_dir or self.model_dir,
            workers=workers,
            redis_url=self.options.redis_url if redis else None,
            cache_prefix=self.cache_prefix,
            log_level=self.options.log_level,
            name=name,
            metrics=True,
            extra_args=[] if precompute else off,
        )

    def spec(self, server: ServerProcess, plan: RowPlan, clients: int) -> LoadSpec:
        """A load run of ``plan`` of the options' duration, over at most ``load_processes``."""
        return LoadSpec(
            address=server.address,
            method=plan.method,
            requests=plan.requests,
            clients=clients,
            processes=min(clients, self.options.load_processes),
            duration=self.options.duration,
            unique=plan.unique,
            check=plan.check,
            check_every=plan.check_every,
            warmup=plan.warmup,
            warmup_requests=plan.warmup_requests,
            min_requests=plan.min_requests,
        )

    def interleaved(
        self,
        server: ServerProcess,
        plan: Callable[[int], RowPlan],
        clients: int,
        pids: Sequence[int] | None = None,
        on_row_start: Callable[[], object] | None = None,
    ) -> Measured:
        """The floor, the row, the floor, the row, ... ``repeats`` times, in one series.

        ``plan(repeat)`` plans the row's run ``repeat``; ``pids`` are the server processes
        whose CPU is counted (all of them by default); ``on_row_start`` is called as each of
        the row's runs starts.
        """
        specs = []
        for repeat in range(self.options.repeats):
            specs += [
                self.spec(server, floor_plan(), clients),
                self.spec(server, plan(repeat), clients),
            ]

        def started(index: int) -> None:
            if index % 2 and on_row_start is not None:
                on_row_start()

        results = run_series(specs, server.pids if pids is None else pids, started)
        return Measured(tuple(results[1::2]), tuple(results[0::2]))

    def settle(self, server: ServerProcess) -> None:
        """Wait (bounded) until the server's background precompute has nothing pending."""
        waited = settle(server.metrics_address, SETTLE_TIMEOUT)
        if self.precompute_metrics is None:
            self.precompute_metrics = waited is not None
        if waited is not None and waited > 1.5:
            self.progress(f"  waited {waited:.1f} s for the background precompute to finish")

    def train(self, n: int, events: data.Events, model_dir: Path) -> TrainRun:
        """``papersift-train`` on ``events`` (``n`` interactions) into ``model_dir``."""
        options, world, work = self.options, self.world, self.work
        papers_path = work / "papers.jsonl"
        if not papers_path.exists():
            data.write_papers_jsonl(world.papers, papers_path)
        events_path = data.write_events_jsonl(world, events, work / f"events-{n}.jsonl")
        epochs = "shipped epochs" if options.train_epochs is None else f"≤ {options.train_epochs}"
        self.progress(
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
            log=work / f"train-{events.prefix}{n}.log",
        )
        events_path.unlink()
        self.progress(
            f"  {result.seconds:.1f} s, peak RSS {result.peak_rss_mb:,.0f} MB, "
            f"exit {result.exit_code}"
        )
        return result


def summary(label: str, measured: Measured) -> str:
    """A progress line: a row's medians and ratios to the floor over its runs."""
    clients = measured.clients
    if not measured.answered:
        return f"{label}, {clients} clients: no request completed {measured.errors()}"
    errors = f" errors {measured.errors()}" if measured.errors() else ""
    ratio = measured.throughput_ratio().text(lambda value: f"{value:.2f}", "x")
    return (
        f"{label}, {clients} clients: {measured.throughput().text(_rate)} req/s ({ratio} of "
        f"the floor), p50 {measured.latency_ms(50).median:.2f} ms, p99 "
        f"{measured.latency_ms(99).median:.2f} ms ({len(measured.runs)} runs, "
        f"{measured.requests:,} requests){errors}"
    )


def _rate(value: float) -> str:
    return f"{value:,.1f}"


def one_summary(label: str, result: LoadResult) -> str:
    """A progress line for a single run (profiles)."""
    return f"{label}: {result.throughput:,.1f} req/s, {result.requests:,} requests"
