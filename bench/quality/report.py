"""Markdown tables, the JSON dump and the plot of a benchmark run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never open a window, work without a display
import matplotlib.pyplot as plt
import numpy as np

from bench.quality.evaluate import MethodResult
from bench.quality.scenarios import NewUserResult, SvmTuning
from bench.results_files import write_results

COLD_KS = (20, 50, 100, 200)
COLD_NDCG = 20
IN_MATRIX_KS = (50, 100, 200, 300)


@dataclass
class BenchResults:
    """Everything a run measured, in the order the tables show it."""

    command: str
    folds: list[int]
    cold: dict[str, list[MethodResult]] = field(default_factory=dict)
    in_matrix: list[MethodResult] = field(default_factory=list)
    new_users: NewUserResult | None = None
    new_users_method: str = ""
    svm_tuning: SvmTuning | None = None
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0


def _spread(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return "-"
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {float(np.std(values, ddof=1)):.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _paired_column(results: Sequence[MethodResult]) -> bool:
    return any(r.paired_metrics for r in results)


def cold_table(cold: Mapping[str, Sequence[MethodResult]]) -> str:
    """Item cold start: mean ± sample std over folds of each metric, and mean timings.

    When a method was judged on a subsample of the users, a column gives every method's
    recall@100 on that same subsample.
    """
    paired = _paired_column([r for runs in cold.values() for r in runs])
    header = [
        "method",
        *(f"recall@{k}" for k in COLD_KS),
        f"nDCG@{COLD_NDCG}",
        *(["recall@100, SVM's users"] if paired else []),
        "users/fold",
        "fit s",
        "score s",
    ]
    rows = []
    for name, results in cold.items():
        rows.append(
            [
                name,
                *(_spread([r.metrics[f"recall@{k}"] for r in results]) for k in COLD_KS),
                _spread([r.metrics[f"ndcg@{COLD_NDCG}"] for r in results]),
                *([_spread([r.paired_metrics["recall@100"] for r in results])] if paired else []),
                f"{np.mean([r.users for r in results]):,.0f}",
                f"{np.mean([r.fit_seconds for r in results]):.1f}",
                f"{np.mean([r.score_seconds for r in results]):.1f}",
            ]
        )
    return _table(header, rows)


def per_fold_table(cold: Mapping[str, Sequence[MethodResult]], folds: Sequence[int]) -> str:
    """recall@100 of each method on each fold."""
    header = ["method", *(f"fold {fold}" for fold in folds)]
    rows = [
        [name, *(f"{r.metrics['recall@100']:.3f}" for r in results)]
        for name, results in cold.items()
    ]
    return _table(header, rows)


def in_matrix_table(results: Sequence[MethodResult]) -> str:
    """In-matrix split: recall@M with each user's training papers masked."""
    paired = _paired_column(results)
    header = [
        "method",
        *(f"recall@{k}" for k in IN_MATRIX_KS),
        *(["recall@100, SVM's users"] if paired else []),
        "users",
        "fit s",
        "score s",
    ]
    rows = [
        [
            r.method,
            *(f"{r.metrics[f'recall@{k}']:.3f}" for k in IN_MATRIX_KS),
            *([f"{r.paired_metrics['recall@100']:.3f}"] if paired else []),
            f"{r.users:,}",
            f"{r.fit_seconds:.1f}",
            f"{r.score_seconds:.1f}",
        ]
        for r in results
    ]
    return _table(header, rows)


def new_user_table(result: NewUserResult, method: str) -> str:
    """New users (fold-in) next to trained users: recall@100 on the fold's new papers."""
    header = ["users", "history at ranking time", f"{method} recall@100", "profile cosine", "n"]
    rows = [
        [row.group, row.history, f"{row.shipped:.3f}", f"{row.cosine:.3f}", f"{row.users:,}"]
        for row in result.rows
    ]
    return _table(header, rows)


def markdown(results: BenchResults) -> str:
    """The whole report: tables, notes, command and wall time."""
    folds = ", ".join(str(f) for f in results.folds)
    parts = [
        "# papersift quality benchmark (citeulike-t)",
        "",
        f"Command: `{results.command}`  ",
        f"Wall time: {results.wall_seconds:.0f} s",
        "",
        f"## Item cold start (folds {folds} of 5; mean ± std over folds)",
        "",
        "Candidates: the fold's papers, which lost every interaction; recall@M = held-out papers "
        "in the top M / the user's held-out papers. `fit s` is the training time per fold "
        "(the featurizer excluded); `score s` includes the per-user SVM fits.",
        "",
        cold_table(results.cold),
    ]
    if len(results.folds) > 1:
        parts += ["", "recall@100 per fold:", "", per_fold_table(results.cold, results.folds)]
    if results.in_matrix:
        parts += [
            "",
            "## In-matrix (CVAE split cf-train-10 / cf-test-10, P = 10)",
            "",
            "Candidates: every paper; each user's training papers are masked from their ranking.",
            "",
            in_matrix_table(results.in_matrix),
        ]
    if results.new_users is not None:
        parts += [
            "",
            f"## New users (fold {results.folds[0]}, fold-in at ranking time)",
            "",
            f"{results.new_users.held_out:,} users with ≥ 11 training papers were left out of "
            f"training (fit {results.new_users.fit_seconds:.0f} s); each is ranked from the first "
            "k papers of a seeded shuffle of their library through "
            "`Scorer.score(items, user_id=None, history=...)`.",
            "",
            new_user_table(results.new_users, results.new_users_method),
        ]
    if results.svm_tuning is not None:
        tuning = results.svm_tuning
        grid = ", ".join(f"C={c:g}: {r:.3f}" for c, r in tuning.recall_by_c.items())
        parts += [
            "",
            f"SVM C tuned on an inner cold split of fold {results.folds[0]}'s training papers "
            f"({tuning.users:,} users, recall@100; {tuning.seconds:.0f} s): {grid} → "
            f"C = {tuning.c:g}.",
        ]
    if results.notes:
        parts += ["", "Notes:", "", *(f"- {note}" for note in results.notes)]
    return "\n".join(parts) + "\n"


def to_json(results: BenchResults) -> dict[str, Any]:
    """Every measured number, for later comparison between runs."""
    return {
        "command": results.command,
        "wall_seconds": results.wall_seconds,
        "folds": results.folds,
        "cold_start": {
            name: [dataclasses.asdict(r) for r in runs] for name, runs in results.cold.items()
        },
        "in_matrix": [dataclasses.asdict(r) for r in results.in_matrix],
        "new_users": None if results.new_users is None else dataclasses.asdict(results.new_users),
        "new_users_method": results.new_users_method,
        "svm_tuning": None
        if results.svm_tuning is None
        else {
            "c": results.svm_tuning.c,
            "recall_by_c": {str(c): r for c, r in results.svm_tuning.recall_by_c.items()},
            "users": results.svm_tuning.users,
        },
        "notes": results.notes,
    }


def plot(results: BenchResults, path: Path) -> None:
    """recall@M curves (cold start, in-matrix) and new users' recall@100 by history size."""
    panels = 1 + bool(results.in_matrix) + (results.new_users is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    for name, runs in results.cold.items():
        means = [np.mean([r.metrics[f"recall@{k}"] for r in runs]) for k in COLD_KS]
        stds = [np.std([r.metrics[f"recall@{k}"] for r in runs]) for k in COLD_KS]
        ax.errorbar(COLD_KS, means, yerr=stds, marker="o", capsize=3, label=name)
    _axes(ax, "item cold start", "M (top of the day's new papers)")
    index = 1
    if results.in_matrix:
        ax = axes[0][index]
        index += 1
        for r in results.in_matrix:
            values = [r.metrics[f"recall@{k}"] for k in IN_MATRIX_KS]
            ax.plot(IN_MATRIX_KS, values, marker="o", label=r.method)
        _axes(ax, "in-matrix (P = 10)", "M (top of all papers)")
    if results.new_users is not None:
        ax = axes[0][index]
        new = [row for row in results.new_users.rows if row.group.startswith("new")]
        trained = [row for row in results.new_users.rows if not row.group.startswith("new")]
        labels = [row.history.replace("training papers", "") for row in new]
        x = np.arange(len(new))
        ax.plot(x, [row.shipped for row in new], marker="o", label=results.new_users_method)
        ax.plot(x, [row.cosine for row in new], marker="s", label="profile cosine")
        for row, style in zip(trained, ("--", ":"), strict=False):
            ax.axhline(row.shipped, linestyle=style, color="grey", label=row.group)
        ax.set_xticks(x, labels)
        ax.set_title("new users (fold-in)")
        ax.set_xlabel("papers given at ranking time")
        ax.set_ylabel("recall@100")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _axes(ax: Any, title: str, xlabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("recall@M")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def write(results: BenchResults, out_dir: Path) -> dict[str, Path]:
    """Write ``quality.md``, ``quality.json`` and ``quality.png`` into ``out_dir``."""
    return write_results(
        out_dir,
        "quality",
        markdown=markdown(results),
        data=to_json(results),
        plot=lambda path: plot(results, path),
    )
