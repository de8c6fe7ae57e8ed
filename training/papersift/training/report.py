"""The training report: a metrics table and a plot of validation metrics per epoch, with the
baselines drawn as horizontal lines, written as one self-contained HTML page plus a PNG.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt

# Prefixes of the per-epoch validation metrics of training.model.fit that are plotted.
PLOTTED_PREFIXES = ("recall@", "blend_recall@")


def metrics_table(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> str:
    """A markdown table: one row per method, one column per metric."""
    lines = [
        "| method | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for method, values in rows.items():
        cells = " | ".join(f"{values.get(name, float('nan')):.4f}" for name in metrics)
        lines.append(f"| {method} | {cells} |")
    return "\n".join(lines)


def write_report(
    directory: Path,
    *,
    version: str,
    history: Sequence[Mapping[str, float]],
    best_epoch: int,
    rows: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
) -> Path:
    """Write ``<version>.png`` and ``<version>.html`` into ``directory``; return the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{version}.png"
    _plot(png, history, best_epoch, rows)
    table = metrics_table(rows, metrics)
    image = base64.b64encode(png.read_bytes()).decode()
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>papersift model {html.escape(version)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f4f4f4;padding:1rem;overflow-x:auto}}</style></head>
<body><h1>Model {html.escape(version)}</h1>
<p>Validation on the latest days' papers, unseen in training. Best epoch: {best_epoch}.</p>
<pre>{html.escape(table)}</pre>
<img alt="validation metrics per epoch" src="data:image/png;base64,{image}" width="100%">
</body></html>
"""
    page_path = directory / f"{version}.html"
    page_path.write_text(page, encoding="utf-8")
    return page_path


def _plot(
    path: Path,
    history: Sequence[Mapping[str, float]],
    best_epoch: int,
    rows: Mapping[str, Mapping[str, float]],
) -> None:
    keys = [
        next((key for key in (history[0] if history else {}) if key.startswith(prefix)), prefix)
        for prefix in PLOTTED_PREFIXES
    ]
    figure, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4))
    epochs = list(range(1, len(history) + 1))
    for axis, key in zip(axes, keys, strict=True):
        metric = key.removeprefix("blend_")
        axis.plot(epochs, [row.get(key, float("nan")) for row in history], label=key)
        baselines = [(m, v) for m, v in rows.items() if m != "papersift" and metric in v]
        for colour, (method, values) in enumerate(baselines, start=1):
            axis.axhline(
                values[metric], color=f"C{colour}", linestyle="--", linewidth=1, label=method
            )
        if history:
            axis.axvline(best_epoch, color="grey", linewidth=0.8)
        axis.set_title(f"validation {key} per epoch")
        axis.set_xlabel("epoch")
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
