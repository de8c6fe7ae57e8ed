"""The speed benchmark's results: markdown tables, goals, the JSON dump and the plot."""

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
from bench.speed.load import LoadResult
from bench.speed.training import TrainRun

__all__ = [
    "FLOOR",
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
#: Goals of issue 6.
HIT_SHARE_GOAL = 0.70
MISS_P99_GOAL = 2.0
WORKERS_GOAL = 1.6


@dataclass(frozen=True)
class RpcRow:
    """One RPC scenario measured at each concurrency (``results[clients]``)."""

    key: str
    label: str
    results: Mapping[int, LoadResult]
    #: Readers, events or papers per request (1 for single calls).
    items_per_request: int = 1
    item: str = ""


@dataclass(frozen=True)
class WorkersRun:
    """Cache-hit RankPapers against a server with ``workers`` processes."""

    workers: int
    result: LoadResult
    #: CPU seconds each worker process used during the run (how the kernel spread connections).
    worker_cpu_seconds: tuple[float, ...] = ()


@dataclass(frozen=True)
class Goal:
    """A target of issue 6 and what the run reached."""

    name: str
    target: str
    measured: str
    met: bool


@dataclass
class SpeedResults:
    """Everything one run measured, in the order the report shows it."""

    command: str
    concurrencies: tuple[int, ...]
    rows: list[RpcRow] = field(default_factory=list)
    workers: list[WorkersRun] = field(default_factory=list)
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


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) or math.isinf(value) else f"{value:.2f}x"


def _div(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(b) else float("nan")


def rpc_table(results: SpeedResults) -> str:
    """Side by side per concurrency: req/s, p50, p99 and both ratios to the floor."""
    floor = results.row(FLOOR)
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
            result = row.results.get(clients)
            base = floor.results.get(clients) if floor else None
            if result is None or result.requests == 0:
                cells += ["-"] * 5
                continue
            cells += [
                _num(result.throughput, 1 if result.throughput < 100 else 0),
                _ms(result.latency_ms(50)),
                _ms(result.latency_ms(99)),
                _ratio(_div(result.throughput, base.throughput)) if base else "-",
                _ratio(_div(result.latency_ms(99), base.latency_ms(99))) if base else "-",
            ]
        rows.append(cells)
    return _table(header, rows)


def detail_table(results: SpeedResults) -> str:
    """Per run: requests measured, items/s, the cores server and clients used, what came back."""
    header = [
        "RPC",
        "clients",
        "requests",
        "seconds",
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
            result = row.results.get(clients)
            if result is None:
                continue
            items = (
                f"{_num(result.throughput * row.items_per_request)} {row.item}"
                if row.items_per_request > 1
                else "-"
            )
            rows.append(
                [
                    row.label,
                    str(clients),
                    f"{result.requests:,}",
                    f"{result.seconds:.1f}",
                    items,
                    f"{result.server_cores:.2f}",
                    _ms(1000 * _div(result.server_cpu_seconds, result.requests)),
                    f"{result.client_cores:.2f}",
                    _checks(result.checks),
                    _checks(result.errors) or "0",
                ]
            )
    return _table(header, rows)


def _checks(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}: {count:,}" for name, count in sorted(counts.items()))


def workers_table(results: SpeedResults) -> str:
    """Cache-hit RankPapers at the same load against 1 and 2 worker processes."""
    base = results.workers[0].result.throughput if results.workers else 0.0
    header = [
        "server",
        "clients",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server cores",
        "CPU s per worker",
        "x 1 worker",
    ]
    rows = [
        [
            f"--workers {run.workers}",
            str(run.result.clients),
            _num(run.result.throughput),
            _ms(run.result.latency_ms(50)),
            _ms(run.result.latency_ms(99)),
            f"{run.result.server_cores:.2f}",
            " / ".join(f"{s:.1f}" for s in run.worker_cpu_seconds) or "-",
            _ratio(_div(run.result.throughput, base)),
        ]
        for run in results.workers
    ]
    return _table(header, rows)


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
                _ratio(_div(run.seconds, previous.seconds)) if previous else "-",
                str(run.exit_code),
            ]
        )
        previous = run
    return _table(header, rows)


def goals(results: SpeedResults) -> list[Goal]:
    """Issue 6's three goals, judged on this run's numbers (those that were measured)."""
    out: list[Goal] = []
    floor, hit, miss = results.row(FLOOR), results.row("rank_hit"), results.row("rank_miss")
    top = max(results.concurrencies)
    if floor and hit and top in floor.results and top in hit.results:
        share = _div(hit.results[top].throughput, floor.results[top].throughput)
        out.append(
            Goal(
                f"cache-hit RankPapers throughput vs the floor ({top} clients)",
                f"≥ {HIT_SHARE_GOAL:.0%}",
                f"{share:.0%} ({hit.results[top].throughput:,.0f} vs "
                f"{floor.results[top].throughput:,.0f} req/s)",
                share >= HIT_SHARE_GOAL,
            )
        )
    if floor and miss:
        for clients in results.concurrencies:
            if clients not in floor.results or clients not in miss.results:
                continue
            ratio = _div(
                miss.results[clients].latency_ms(99), floor.results[clients].latency_ms(99)
            )
            out.append(
                Goal(
                    f"cache-miss (PERSONAL) RankPapers p99 vs the floor's p99 ({clients} "
                    f"client{'s' if clients > 1 else ''})",
                    f"≤ {MISS_P99_GOAL:g}x",
                    f"{ratio:.1f}x ({miss.results[clients].latency_ms(99):.1f} vs "
                    f"{floor.results[clients].latency_ms(99):.2f} ms)",
                    ratio <= MISS_P99_GOAL,
                )
            )
    if len(results.workers) >= 2:
        one, two = results.workers[0].result, results.workers[1].result
        speedup = _div(two.throughput, one.throughput)
        out.append(
            Goal(
                f"--workers {results.workers[1].workers} vs --workers {results.workers[0].workers}"
                f" (cache-hit RankPapers, {one.clients} clients)",
                f"≥ {WORKERS_GOAL:g}x",
                f"{speedup:.2f}x ({two.throughput:,.0f} vs {one.throughput:,.0f} req/s)",
                speedup >= WORKERS_GOAL,
            )
        )
    return out


def goals_table(results: SpeedResults) -> str:
    """The goals, met or missed."""
    return _table(
        ["goal", "target", "measured", "met"],
        [[g.name, g.target, g.measured, "yes" if g.met else "**no**"] for g in goals(results)],
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
        "Ratios compare with the health `Check` at the same number of clients (the floor of "
        "this machine's gRPC stack); req/s ÷ floor above 1 would be faster than the floor, "
        "p99 ÷ floor is how many times the floor's p99 the row's p99 is.",
        "",
        rpc_table(results),
        "",
        "Per run:",
        "",
        detail_table(results),
    ]
    if results.workers:
        parts += [
            "",
            "## Worker processes (cache-hit RankPapers)",
            "",
            workers_table(results),
        ]
    if results.training:
        parts += [
            "",
            "## Training cost against interactions (`papersift-train`, JSONL input)",
            "",
            training_table(results.training),
        ]
    parts += ["", "## Goals (issue 6)", "", goals_table(results)]
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


def to_json(results: SpeedResults) -> dict[str, Any]:
    """Every measured number, for comparing runs."""
    return {
        "command": results.command,
        "wall_seconds": results.wall_seconds,
        "setup": results.setup,
        "rpcs": {
            row.key: {
                "label": row.label,
                "items_per_request": row.items_per_request,
                "by_clients": {str(c): _result_json(r) for c, r in row.results.items()},
            }
            for row in results.rows
        },
        "workers": [
            {
                "workers": run.workers,
                "worker_cpu_seconds": list(run.worker_cpu_seconds),
                **_result_json(run.result),
            }
            for run in results.workers
        ],
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
        "goals": [
            {"name": g.name, "target": g.target, "measured": g.measured, "met": g.met}
            for g in goals(results)
        ],
        "notes": results.notes,
    }


def plot(results: SpeedResults, path: Path) -> Path:
    """Throughput and latency per RPC and concurrency, and training cost, in one PNG."""
    panels = 3 if results.training else 2
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 5.5))
    labels = [row.label for row in results.rows]
    width = 0.8 / max(1, len(results.concurrencies))
    for n, clients in enumerate(results.concurrencies):
        positions = [i + n * width for i in range(len(results.rows))]
        measured = [row.results.get(clients) for row in results.rows]
        axes[0].barh(
            positions,
            [r.throughput if r else 0 for r in measured],
            height=width,
            label=f"{clients} client{'s' if clients > 1 else ''}",
        )
        axes[1].barh(
            positions,
            [r.latency_ms(99) if r and r.requests else 0 for r in measured],
            height=width,
            label=f"p99, {clients}c",
        )
        axes[1].scatter(
            [r.latency_ms(50) if r and r.requests else 0 for r in measured],
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


def write(results: SpeedResults, out_dir: Path) -> dict[str, Path]:
    """Write ``speed.md``, ``speed.json`` and ``speed.png`` into ``out_dir``."""
    return write_results(
        out_dir,
        "speed",
        markdown=markdown(results),
        data=to_json(results),
        plot=lambda path: plot(results, path),
    )
