"""The HTML report: real tables with readable titles, the data summary, the split and its
fallback, and a plot whose titles a reader understands with the kept epoch marked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt

from papersift.training.data import Corpus
from papersift.training.model import ModelConfig
from papersift.training.pipeline import TrainOptions, TrainOutcome, train
from papersift.training.report import metric_label, plot
from tests.synthetic import World
from tests.training.worlds import new_readers_on_the_latest_day, one_paper_readers

QUICK = dataclasses.replace(ModelConfig.shipped(), epochs=6, patience=2, num_threads=1)


class _Tables(HTMLParser):
    """Collects each table's rows of cell texts, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _train(build: Callable[[], World], tmp_path: Path) -> tuple[TrainOutcome, Path, str, _Tables]:
    world = build()
    outcome = train(
        Corpus(world.papers, world.interactions),
        TrainOptions(model=QUICK, model_dir=tmp_path / "models", report_dir=tmp_path / "reports"),
    )
    assert outcome.report is not None
    page = outcome.report.read_text(encoding="utf-8")
    parsed = _Tables()
    parsed.feed(page)
    return outcome, outcome.report, page, parsed


def test_report_has_html_tables_with_readable_titles_and_the_fallback(tmp_path: Path) -> None:
    outcome, report, page, parsed = _train(new_readers_on_the_latest_day, tmp_path)

    assert "pre" not in parsed.tags
    assert "|---|" not in page and "| papersift |" not in page
    assert "blend_recall" not in page
    summary, comparison = parsed.tables
    assert ["Readers (with any interaction)", "30"] in summary
    assert ["Interactions: SAVE", "54"] in summary
    assert ["Interactions: UNSAVE", "0"] in summary
    assert ["Listing days of the papers", "2025-04-01..2025-04-03 (3 days)"] in summary
    header = comparison[0]
    assert header[0] == "Method"
    assert "Recall of held-out papers in the top 100" in header
    assert "Ranking quality of the top 10 (nDCG)" in header
    k = outcome.validation_k
    assert f"Recall of held-out papers in the top {k}" in header  # the cut-off validation used
    methods = [row[0] for row in comparison[1:]]
    assert methods == [
        "papersift (LightFM + content-profile blend)",
        "Content profile alone (TF-IDF cosine; baseline)",
        "Random order (baseline)",
    ]
    ours = comparison[1]
    column = header.index("Recall of held-out papers in the top 100")
    assert ours[column] == f"{outcome.comparison['papersift']['recall@100']:.3f}"
    assert "Split used: <strong>earlier days</strong>" in page
    assert '<p class="fallback">Fallback:' in page
    assert "no reader of the training papers interacted" in page
    assert f"Early stopping kept epoch {outcome.best_epoch} of the" in page
    assert 'src="data:image/png;base64,' in page
    assert report.with_suffix(".png").stat().st_size > 0


def test_plot_titles_read_as_words_and_mark_the_best_epoch(tmp_path: Path) -> None:
    outcome, _, _, _ = _train(new_readers_on_the_latest_day, tmp_path)
    k = outcome.validation_k

    figure = plot(outcome)
    try:
        (axis,) = figure.axes
        assert axis.get_title() == f"Recall of held-out papers in the top {k}, per epoch"
        labels = {line.get_label(): line for line in axis.get_lines()}
        best = labels[f"best epoch: {outcome.best_epoch} (kept)"]
        assert set(best.get_xdata()) == {outcome.best_epoch}  # type: ignore[arg-type]
        ours = labels["papersift (LightFM + content-profile blend)"]
        assert list(ours.get_ydata()) == [  # type: ignore[arg-type]
            entry[f"blend_recall@{k}"] for entry in outcome.history
        ]
        assert "Content profile alone (TF-IDF cosine; baseline)" in labels
        assert not any("blend_recall" in str(label) for label in labels)
        assert any(text.get_text() == f"best epoch {outcome.best_epoch}" for text in axis.texts)
    finally:
        plt.close(figure)


def test_report_without_validation_says_so_and_still_summarises(tmp_path: Path) -> None:
    outcome, report, page, parsed = _train(one_paper_readers, tmp_path)

    assert outcome.split.name == "none"
    assert len(parsed.tables) == 1  # the data summary; no comparison without validation
    assert ["Interactions: IMPRESSION", "27"] in parsed.tables[0]
    assert "Split used: <strong>none</strong>" in page
    assert f"trained for {QUICK.epochs} epochs" in page
    assert "<img" not in page
    assert not report.with_suffix(".png").exists()


def test_metric_labels() -> None:
    assert metric_label("recall@100") == "Recall of held-out papers in the top 100"
    assert (
        metric_label("precision@10") == "Share of the top 10 that are held-out papers (precision)"
    )
    assert metric_label("auc").endswith("(AUC)")
    assert metric_label("users") == "users"
