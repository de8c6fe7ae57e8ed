"""The speed benchmark's results: markdown tables, goals, the JSON dump and the plot.

Each RPC row at each number of clients is a :class:`~bench.speed.stats.Measured`: several
runs, each just after a run of the floor. Tables give medians, and ratios to the floor as
``median (min-max)`` over the repeats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never open a window, work without a display
import matplotlib.pyplot as plt

from bench.results_files import write_results
from bench.speed.goals import Goal, goals
from bench.speed.load import LoadResult
from bench.speed.precompute import PrecomputeRun, extrapolate
from bench.speed.stats import Measured, Spread, bounds_of_ratio
from bench.speed.training import TrainRun

__all__ = [
    "FLOOR",
    "ON_PAPER_READERS",
    "Goal",
    "RpcRow",
    "SpeedResults",
    "WorkersRun",
    "goals",
    "markdown",
    "to_json",
    "write",
]

#: Key of the row every other row is compared with.
FLOOR = "check"
#: Known readers whose precompute time is extrapolated from the largest measured one.
ON_PAPER_READERS = 100_000


@dataclass(frozen=True)
class RpcRow:
    """One RPC scenario measured at each concurrency (``results[clients]``)."""

    key: str
    label: str
    results: Mapping[int, Measured]
    #: Readers, events or papers per request (1 for single calls).
    items_per_request: int = 1
    item: str = ""


@dataclass(frozen=True)
class WorkersRun:
    """Cache-hit RankPapers against a server with ``workers`` processes, repeated.

    ``connections``: per hit run, the established connections each worker held (how the kernel
    spread the clients); ``worker_cpu_seconds``: CPU each worker used over the hit runs.
    """

    workers: int
    measured: Measured
    connections: tuple[tuple[int, ...], ...] = ()
    worker_cpu_seconds: tuple[float, ...] = ()

    def spread_text(self) -> str:
        """How the load was spread over the workers, e.g. ``connections 4/4, CPU s 3.1/2.9``."""
        parts = []
        if self.connections:
            runs = sorted({"/".join(str(n) for n in run) for run in self.connections})
            parts.append(f"connections per worker {' or '.join(runs)}")
        if self.worker_cpu_seconds:
            cpu = "/".join(f"{s:.1f}" for s in self.worker_cpu_seconds)
            parts.append(f"CPU s per worker {cpu}")
        return ", ".join(parts) or "-"


@dataclass
class SpeedResults:
    """Everything one run measured, in the order the report shows it."""

    command: str
    concurrencies: tuple[int, ...]
    repeats: int = 1
    rows: list[RpcRow] = field(default_factory=list)
    workers: list[WorkersRun] = field(default_factory=list)
    precompute: list[PrecomputeRun] = field(default_factory=list)
    training: list[TrainRun] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Markdown summaries of py-spy profiles (``--profile``), taken after the measurements.
    profiles: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def row(self, key: str) -> RpcRow | None:
        """The row named ``key``, if it was measured."""
        return next((row for row in self.rows if row.key == key), None)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _num(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _rate(value: float) -> str:
    return _num(value, 1 if value < 100 else 0)


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def _ratio(spread: Spread) -> str:
    finite = Spread.of(v for v in (spread.median, spread.low, spread.high) if not math.isinf(v))
    if not finite.measured:
        return "-"
    return spread.text(lambda value: f"{value:.2f}", "x")


def _div(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(b) else float("nan")


def rpc_table(results: SpeedResults) -> str:
    """Side by side per concurrency: median req/s, p50, p99 and both ratios to the floor."""
    header = ["RPC"]
    for clients in results.concurrencies:
        header += [
            f"{clients}c req/s",
            f"{clients}c p50 ms",
            f"{clients}c p99 ms",
            f"{clients}c req/s ÷ floor",
            f"{clients}c p99 ÷ floor",
        ]
    rows = []
    for row in results.rows:
        cells = [row.label]
        for clients in results.concurrencies:
            measured = row.results.get(clients)
            if measured is None or not measured.answered:
                cells += ["-"] * 5
                continue
            cells += [
                _rate(measured.throughput().median),
                _ms(measured.latency_ms(50).median),
                _ms(measured.latency_ms(99).median),
                _ratio(measured.throughput_ratio()),
                _ratio(measured.latency_ratio(99)),
            ]
        rows.append(cells)
    return _table(header, rows)


def detail_table(results: SpeedResults) -> str:
    """Per row and clients, over its runs: requests, items/s, cores used, what came back."""
    header = [
        "RPC",
        "clients",
        "runs",
        "requests",
        "seconds",
        "req/s per run",
        "items/s",
        "server cores",
        "server CPU ms/req",
        "client cores",
        "answers checked",
        "errors",
    ]
    rows = []
    for row in results.rows:
        for clients in results.concurrencies:
            measured = row.results.get(clients)
            if measured is None:
                continue
            seconds = measured.seconds()
            items = (
                f"{_num(measured.throughput().median * row.items_per_request)} {row.item}"
                if row.items_per_request > 1
                else "-"
            )
            rows.append(
                [
                    row.label,
                    str(clients),
                    str(len(measured.runs)),
                    f"{measured.requests:,}",
                    f"{seconds:.1f}",
                    ", ".join(_rate(run.throughput) for run in measured.runs),
                    items,
                    f"{_div(measured.server_cpu_seconds(), seconds):.2f}",
                    _ms(1000 * _div(measured.server_cpu_seconds(), measured.requests)),
                    f"{_div(measured.client_cpu_seconds(), seconds):.2f}",
                    _checks(measured.checks()),
                    _checks(measured.errors()) or "0",
                ]
            )
    return _table(header, rows)


def _checks(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}: {count:,}" for name, count in sorted(counts.items()))


def workers_table(results: SpeedResults) -> str:
    """Cache-hit RankPapers at the same load against 1 and 2 worker processes."""
    base = results.workers[0].measured.throughput() if results.workers else Spread.of(())
    header = [
        "server",
        "clients",
        "runs",
        "req/s",
        "p50 ms",
        "p99 ms",
        "floor req/s",
        "req/s ÷ floor",
        "load spread over the workers",
        f"x --workers {results.workers[0].workers}" if results.workers else "x",
    ]
    rows = []
    for run in results.workers:
        measured = run.measured
        floor = Spread.of(floor.throughput for floor in measured.floors)
        rows.append(
            [
                f"--workers {run.workers}",
                str(measured.clients),
                str(len(measured.runs)),
                measured.throughput().text(_rate),
                _ms(measured.latency_ms(50).median),
                _ms(measured.latency_ms(99).median),
                _rate(floor.median),
                _ratio(measured.throughput_ratio()),
                run.spread_text(),
                "1.00x"
                if run is results.workers[0]
                else _ratio(bounds_of_ratio(measured.throughput(), base)),
            ]
        )
    return _table(header, rows)


def precompute_table(results: SpeedResults) -> str:
    """Per model: seconds after its publication until it loaded and its readers were cached."""
    header = [
        "known readers",
        "status",
        "model loaded s",
        "first list s",
        "last list s",
        "every reader cached s",
        "lists cached",
        "most pending",
        "readers/s",
    ]
    rows = [
        [
            f"{run.readers:,}",
            run.status,
            _num(run.loaded_seconds, 1),
            _num(run.first_list_seconds, 1),
            _num(run.last_list_seconds, 1),
            _num(run.cached_seconds, 1),
            f"{run.lists:,}" if run.available else "-",
            f"{run.most_pending:,}" if run.available else "-",
            _num(run.readers_per_second),
        ]
        for run in results.precompute
    ]
    basis = _extrapolation_basis(results.precompute)
    if basis is not None:
        rows.append(
            [
                f"{ON_PAPER_READERS:,} (on paper)",
                f"T = L + N / r from {basis.readers:,}",
                _num(basis.loaded_seconds, 1),
                "-",
                "-",
                _num(extrapolate(basis, ON_PAPER_READERS), 0),
                "-",
                "-",
                _num(basis.readers_per_second),
            ]
        )
    return _table(header, rows)


def _extrapolation_basis(runs: Sequence[PrecomputeRun]) -> PrecomputeRun | None:
    """The largest run with a rate: the one the on-paper time is drawn from."""
    rated = [run for run in runs if not math.isnan(run.readers_per_second)]
    return max(rated, key=lambda run: run.readers) if rated else None


def training_table(runs: Sequence[TrainRun]) -> str:
    """Training wall time, CPU time and peak memory against the number of interactions."""
    header = [
        "interactions",
        "readers",
        "papers",
        "epochs",
        "threads",
        "wall s",
        "CPU s",
        "peak RSS MB",
        "wall s ÷ previous",
        "exit",
    ]
    rows = []
    previous: TrainRun | None = None
    for run in runs:
        rows.append(
            [
                f"{run.interactions:,}",
                f"{run.users:,}",
                f"{run.papers:,}",
                "shipped (≤ 30, early stop)" if run.epochs is None else f"≤ {run.epochs} (capped)",
                str(run.threads),
                f"{run.seconds:.1f}",
                f"{run.cpu_seconds:.1f}",
                f"{run.peak_rss_mb:,.0f}",
                f"{_div(run.seconds, previous.seconds):.2f}x" if previous else "-",
                str(run.exit_code),
            ]
        )
        previous = run
    return _table(header, rows)


def goals_table(results: SpeedResults) -> str:
    """The goals: target, measured value, ratio with its range, met or missed."""
    verdicts = {True: "yes", False: "**no**", None: "not measured"}
    return _table(
        ["goal", "target", "measured (median, min-max)", "ratio (median, min-max)", "met"],
        [[g.name, g.target, g.measured, g.ratio_text(), verdicts[g.met]] for g in goals(results)],
    )


def markdown(results: SpeedResults) -> str:
    """The whole report: tables, goals, notes, command and wall time."""
    setup = results.setup
    parts = [
        "# papersift speed benchmark",
        "",
        f"Command: `{results.command}`  ",
        f"Wall time: {results.wall_seconds:.0f} s  ",
        f"Machine: {setup.get('machine', '?')}",
        "",
        f"## RPCs on a {setup.get('day_papers', 0):,}-paper day (one server, "
        f"--workers 1, {setup.get('backend', '?')})",
        "",
        f"Each row ran {results.repeats} time(s) at each number of clients, each run just "
        "after a run of the health `Check` (the floor of this machine's gRPC stack) with the "
        "same clients. req/s, p50 and p99 are medians over the runs; the ratios are taken run "
        "by run against the floor run before it, shown as median (min-max). The floor's own "
        "ratios are its runs against their median: how much the machine moved. req/s ÷ floor "
        "above 1 would be faster than the floor; p99 ÷ floor is how many times the floor's "
        "p99 the row's p99 is.",
        "",
        rpc_table(results),
        "",
        "Per row, over its runs:",
        "",
        detail_table(results),
    ]
    if results.workers:
        parts += [
            "",
            f"## Worker processes (cache-hit RankPapers, {setup.get('workers_cache', '?')})",
            "",
            workers_table(results),
        ]
    if results.precompute:
        parts += [
            "",
            "## Background precompute (known readers' lists, after a model is published)",
            "",
            precompute_table(results),
        ]
    if results.training:
        parts += [
            "",
            "## Training cost against interactions (`papersift-train`, JSONL input)",
            "",
            training_table(results.training),
        ]
    parts += ["", "## Goals (issue 12)", "", goals_table(results)]
    if results.notes:
        parts += ["", "Notes:", "", *(f"- {note}" for note in results.notes)]
    if results.profiles:
        parts += [
            "",
            "## Where the server's time goes (py-spy, after the measurements)",
            "",
            "Shares of the samples in which the server's Python was busy; 'total' counts a "
            "function whenever it is on the stack.",
            "",
            *results.profiles,
        ]
    return "\n".join(parts) + "\n"


def _result_json(result: LoadResult) -> dict[str, Any]:
    return {
        "clients": result.clients,
        "processes": result.processes,
        "requests": result.requests,
        "seconds": result.seconds,
        "throughput": result.throughput,
        "latency_ms": {
            f"p{q:g}": result.latency_ms(q) if result.requests else None for q in (50, 90, 99, 100)
        },
        "server_cpu_seconds": result.server_cpu_seconds,
        "client_cpu_seconds": result.client_cpu_seconds,
        "checks": result.checks,
        "errors": result.errors,
    }


def _measured_json(measured: Measured) -> dict[str, Any]:
    """Medians at the top (as one run's fields were), then ratios and every run."""
    throughput = measured.throughput()
    return {
        "clients": measured.clients,
        "requests": measured.requests,
        "throughput": None if not throughput.measured else throughput.median,
        "latency_ms": {
            f"p{q:g}": measured.latency_ms(q).as_json()["median"] for q in (50, 90, 99, 100)
        },
        "spread": {
            "throughput": throughput.as_json(),
            "p50_ms": measured.latency_ms(50).as_json(),
            "p99_ms": measured.latency_ms(99).as_json(),
        },
        "ratio_to_floor": {
            "throughput": measured.throughput_ratio().as_json(),
            "p50": measured.latency_ratio(50).as_json(),
            "p99": measured.latency_ratio(99).as_json(),
        },
        "checks": measured.checks(),
        "errors": measured.errors(),
        "runs": [_result_json(run) for run in measured.runs],
        "floor_runs": [_result_json(run) for run in measured.floors],
    }


def _precompute_json(run: PrecomputeRun) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return None if math.isnan(value) else value

    return {
        "readers": run.readers,
        "status": run.status,
        "loaded_seconds": number(run.loaded_seconds),
        "first_list_seconds": number(run.first_list_seconds),
        "last_list_seconds": number(run.last_list_seconds),
        "cached_seconds": number(run.cached_seconds),
        "lists": run.lists,
        "most_pending": run.most_pending,
        "readers_per_second": number(run.readers_per_second),
    }


def to_json(results: SpeedResults) -> dict[str, Any]:
    """Every measured number, for comparing runs."""
    basis = _extrapolation_basis(results.precompute)
    on_paper = extrapolate(basis, ON_PAPER_READERS) if basis else math.nan
    return {
        "command": results.command,
        "wall_seconds": results.wall_seconds,
        "repeats": results.repeats,
        "setup": results.setup,
        "rpcs": {
            row.key: {
                "label": row.label,
                "items_per_request": row.items_per_request,
                "by_clients": {str(c): _measured_json(m) for c, m in row.results.items()},
            }
            for row in results.rows
        },
        "workers": [
            {
                "workers": run.workers,
                "connections_per_worker": [list(counts) for counts in run.connections],
                "worker_cpu_seconds": list(run.worker_cpu_seconds),
                **_measured_json(run.measured),
            }
            for run in results.workers
        ],
        "precompute": {
            "runs": [_precompute_json(run) for run in results.precompute],
            "on_paper": {
                "readers": ON_PAPER_READERS,
                "formula": "T = L + N / r (L: load seconds, r: readers/s of the largest run)",
                "from_readers": basis.readers if basis else None,
                "seconds": None if math.isnan(on_paper) else on_paper,
            },
        },
        "training": [
            {
                "interactions": run.interactions,
                "users": run.users,
                "papers": run.papers,
                "epochs_cap": run.epochs,
                "threads": run.threads,
                "seconds": run.seconds,
                "cpu_seconds": run.cpu_seconds,
                "peak_rss_mb": run.peak_rss_mb,
                "exit_code": run.exit_code,
            }
            for run in results.training
        ],
        "goals": [goal.as_json() for goal in goals(results)],
        "notes": results.notes,
    }


def plot(results: SpeedResults, path: Path) -> Path:
    """Median throughput and latency per RPC and concurrency, and training cost, in one PNG."""
    panels = 3 if results.training else 2
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 5.5))
    labels = [row.label for row in results.rows]
    width = 0.8 / max(1, len(results.concurrencies))
    for n, clients in enumerate(results.concurrencies):
        positions = [i + n * width for i in range(len(results.rows))]
        measured = [row.results.get(clients) for row in results.rows]
        axes[0].barh(
            positions,
            [_median_or_zero(m.throughput()) if m else 0 for m in measured],
            height=width,
            label=f"{clients} client{'s' if clients > 1 else ''}",
        )
        axes[1].barh(
            positions,
            [_median_or_zero(m.latency_ms(99)) if m else 0 for m in measured],
            height=width,
            label=f"p99, {clients}c",
        )
        axes[1].scatter(
            [_median_or_zero(m.latency_ms(50)) if m else 0 for m in measured],
            positions,
            marker="|",
            color="black",
            zorder=3,
            label="p50" if n == 0 else None,
        )
    for axis, title in zip(axes[:2], ("requests/s", "latency ms (bar p99, tick p50)"), strict=True):
        axis.set_xscale("log")
        axis.set_yticks(
            [i + width * (len(results.concurrencies) - 1) / 2 for i in range(len(labels))]
        )
        axis.set_yticklabels(labels, fontsize=8)
        axis.invert_yaxis()
        axis.set_title(title)
        axis.legend(fontsize=8)
        axis.grid(axis="x", alpha=0.3)
    axes[1].set_yticklabels([])
    if results.training:
        axis = axes[2]
        xs = [run.interactions for run in results.training]
        axis.plot(xs, [run.seconds for run in results.training], "o-", label="wall s")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("interactions")
        axis.set_ylabel("training wall seconds")
        memory = axis.twinx()
        memory.plot(
            xs,
            [run.peak_rss_mb for run in results.training],
            "s--",
            color="C1",
            label="peak RSS MB",
        )
        memory.set_ylabel("peak RSS MB")
        axis.set_title("papersift-train cost")
        lines = axis.get_legend_handles_labels()
        more = memory.get_legend_handles_labels()
        axis.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
        axis.grid(alpha=0.3)
    figure.suptitle(f"papersift speed ({results.setup.get('machine', '')})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _median_or_zero(spread: Spread) -> float:
    return spread.median if spread.measured else 0.0


def write(results: SpeedResults, out_dir: Path) -> dict[str, Path]:
    """Write ``speed.md``, ``speed.json`` and ``speed.png`` into ``out_dir``."""
    return write_results(
        out_dir,
        "speed",
        markdown=markdown(results),
        data=to_json(results),
        plot=lambda path: plot(results, path),
    )
