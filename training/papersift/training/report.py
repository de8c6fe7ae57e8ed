"""The training report: what was read, how validation was split (and any fallback), the
comparison with the baselines as an HTML table, and a plot of validation recall per epoch with
the baselines as horizontal lines and the kept epoch marked; one self-contained HTML page plus
the PNG of the plot. Plain ``html.escape`` and matplotlib: no template engine.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from papersift.training.pipeline import TrainOutcome

METHOD_LABELS = {
    "papersift": "papersift (LightFM + content-profile blend)",
    "profile cosine": "Content profile alone (TF-IDF cosine; baseline)",
    "random": "Random order (baseline)",
}
_CUTOFF = re.compile(r"(precision|recall|ndcg)@(\d+)")


def metric_label(name: str) -> str:
    """A title a reader understands for a metric key such as ``recall@100``."""
    if name == "auc":
        return "Chance a held-out paper ranks above one the reader did not pick (AUC)"
    match = _CUTOFF.fullmatch(name)
    if match is None:
        return name
    kind, k = match.groups()
    return {
        "precision": f"Share of the top {k} that are held-out papers (precision)",
        "recall": f"Recall of held-out papers in the top {k}",
        "ndcg": f"Ranking quality of the top {k} (nDCG)",
    }[kind]


def method_label(name: str) -> str:
    """A readable name for a method of the comparison."""
    return METHOD_LABELS.get(name, name)


def metrics_table(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> str:
    """A Markdown table for the terminal: one row per method, one column per metric."""
    lines = [
        "| method | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for method, values in rows.items():
        cells = " | ".join(f"{values.get(name, float('nan')):.4f}" for name in metrics)
        lines.append(f"| {method} | {cells} |")
    return "\n".join(lines)


def metrics_html_table(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> str:
    """The comparison as an HTML ``<table>`` with readable headers (the key in a tooltip)."""
    head = "".join(
        f'<th scope="col" title="{html.escape(name)}">{html.escape(metric_label(name))}</th>'
        for name in metrics
    )
    body = []
    for method, values in rows.items():
        cells = "".join(
            f'<td class="num">{values.get(name, float("nan")):.3f}</td>' for name in metrics
        )
        body.append(f'<tr><th scope="row">{html.escape(method_label(method))}</th>{cells}</tr>')
    return (
        '<table class="comparison">\n<thead><tr><th scope="col">Method</th>'
        f"{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"
    )


def write_report(directory: Path, outcome: TrainOutcome, *, metrics: Sequence[str]) -> Path:
    """Write ``<version>.html`` (and ``<version>.png`` when validation ran); return the HTML."""
    directory.mkdir(parents=True, exist_ok=True)
    version = outcome.bundle.version
    sections = [
        f"<h1>papersift model {html.escape(version)}</h1>",
        "<h2>What training read</h2>",
        _summary_table(outcome),
        "<h2>Validation</h2>",
        _validation_section(outcome),
    ]
    if outcome.comparison:
        k = outcome.validation_k
        shown = [*metrics, *([f"recall@{k}"] if k and f"recall@{k}" not in metrics else [])]
        sections += [
            "<h2>Comparison with the baselines</h2>",
            "<p>Each reader's held-out papers, ranked among all the validation papers by the "
            "model trained without them; means over the readers validation could score.</p>",
            metrics_html_table(outcome.comparison, shown),
        ]
    if outcome.history and outcome.validation_k is not None:
        png = directory / f"{version}.png"
        _save_plot(png, outcome)
        image = base64.b64encode(png.read_bytes()).decode()
        title = html.escape(_plot_title(outcome.validation_k))
        sections += [
            "<h2>Training, epoch by epoch</h2>",
            f'<img alt="{title}" src="data:image/png;base64,{image}" width="100%">',
        ]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>papersift model {html.escape(version)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;margin:1rem 0}}
th,td{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}}
thead th{{background:#f4f4f4}} td.num{{text-align:right;font-variant-numeric:tabular-nums}}
.fallback{{background:#fff4e0;border-left:4px solid #e0a030;padding:.5rem 1rem}}</style></head>
<body>
{chr(10).join(sections)}
</body></html>
"""
    page_path = directory / f"{version}.html"
    page_path.write_text(page, encoding="utf-8")
    return page_path


def _summary_table(outcome: TrainOutcome) -> str:
    summary = outcome.summary
    rows = [
        ("Readers (with any interaction)", f"{summary.readers:,}"),
        ("Papers", f"{summary.papers:,}"),
        ("Interactions", f"{summary.interactions:,}"),
        *((f"Interactions: {name}", f"{count:,}") for name, count in summary.by_kind.items()),
        ("Listing days of the papers", f"{summary.day_range} ({summary.days:,} days)"),
        ("Days with interactions", f"{summary.interaction_days:,}"),
    ]
    if summary.unknown_papers:
        rows.append(("Interactions on papers not in the data", f"{summary.unknown_papers:,}"))
    body = "\n".join(
        f'<tr><th scope="row">{html.escape(name)}</th><td class="num">{html.escape(value)}</td>'
        "</tr>"
        for name, value in rows
    )
    return f'<table class="summary">\n<tbody>\n{body}\n</tbody>\n</table>'


def _validation_section(outcome: TrainOutcome) -> str:
    split = outcome.split
    parts: list[str] = []
    if split.chosen is not None:
        chosen = split.chosen
        parts.append(
            f"<p>Split used: <strong>{html.escape(chosen.name)}</strong>: "
            f"{html.escape(chosen.description)}. Validation scored {chosen.readers:,} readers "
            f"on {chosen.positives:,} held-out positives among {len(chosen.valid_papers):,} "
            "papers unseen in training.</p>"
        )
        params = outcome.bundle.scorer.params
        parts.append(
            f"<p>Early stopping kept epoch {outcome.best_epoch} of the "
            f"{len(outcome.history)} run, with a content-profile share of "
            f"{float(params.get('blend_weight', 0.0)):.1f} in the blend and "
            f"{html.escape(str(params.get('user_vectors', '')).replace('_', '-'))} user vectors; "
            f"the model was then refitted on all the data for {outcome.best_epoch} epochs.</p>"
        )
    else:
        parts.append(
            "<p>Split used: <strong>none</strong>. The configured settings were trained for "
            f"{outcome.best_epoch} epochs on all the data, without early stopping and without a "
            "comparison with the baselines.</p>"
        )
    if split.fallback:
        parts.append(
            '<p class="fallback">Fallback: the time-ordered split of the latest days could not '
            f"be used ({html.escape(split.reason or '')}).</p>"
        )
    return "\n".join(parts)


def _plot_title(k: int) -> str:
    return f"Recall of held-out papers in the top {k}, per epoch"


def plot(outcome: TrainOutcome) -> Figure:
    """Validation recall per epoch, the baselines as horizontal lines, the kept epoch marked."""
    k = outcome.validation_k
    history = outcome.history
    epochs = [int(row.get("epoch", n)) for n, row in enumerate(history, start=1)]
    figure, axis = plt.subplots(figsize=(8, 4.5))
    lines = (
        (f"blend_recall@{k}", method_label("papersift"), "-"),
        (f"recall@{k}", "LightFM alone (no content-profile blend)", ":"),
    )
    for key, label, style in lines:
        axis.plot(
            epochs, [row.get(key, float("nan")) for row in history], style, marker=".", label=label
        )
    for colour, method in enumerate(("profile cosine", "random"), start=2):
        value = outcome.comparison.get(method, {}).get(f"recall@{k}")
        if value is not None:
            axis.axhline(
                value, color=f"C{colour}", linestyle="--", linewidth=1, label=method_label(method)
            )
    best = outcome.best_epoch
    axis.axvline(best, color="grey", linewidth=1, label=f"best epoch: {best} (kept)")
    axis.annotate(
        f"best epoch {best}",
        xy=(best, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(4, -14),
        textcoords="offset points",
        color="dimgrey",
        fontsize="small",
    )
    axis.set_title(_plot_title(k or 0))
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"share of held-out papers in the top {k}")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    return figure


def _save_plot(path: Path, outcome: TrainOutcome) -> None:
    figure = plot(outcome)
    try:
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
