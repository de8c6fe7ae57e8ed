"""Training trains on what it has: validation falls back instead of failing, a model is always
published when there is something to learn, the data summary is printed, and the progress
covers every step.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from papersift.core.bundle import current_version, load_current
from papersift.core.store import Store
from papersift.core.types import EventId, Interaction, InteractionKind, PaperId, UserId
from papersift.training.cli import main as train_main
from papersift.training.data import Corpus, TrainingError
from papersift.training.model import ModelConfig
from papersift.training.pipeline import Progress, TrainOptions, train
from tests.synthetic import World, make_world
from tests.training.worlds import (
    export,
    new_readers_on_the_latest_day,
    one_day_readers,
    one_paper_readers,
    write_jsonl,
)

QUICK = dataclasses.replace(ModelConfig.shipped(), epochs=6, patience=2, num_threads=1)


def test_cli_publishes_when_the_latest_days_readers_are_all_new(
    sqlite_url: str, tmp_path: Path
) -> None:
    world = new_readers_on_the_latest_day()
    store = Store(sqlite_url)
    store.migrate()
    store.upsert_papers(world.papers)
    store.record_interactions(world.interactions)
    store.close()
    model_dir = tmp_path / "models"

    done = subprocess.run(
        [sys.executable, "-m", "papersift.training.cli", "--database-url", sqlite_url,
         "--model-dir", str(model_dir), "--report-dir", str(tmp_path / "reports"),
         "--epochs", "4", "--no-progress"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "data: 30 readers, 108 papers, 162 interactions",
        "  interactions by kind: CLICK 108, SAVE 54, UNSAVE 0, DISMISS 0, IMPRESSION 0",
        "  days: 2025-04-01..2025-04-03 (3 listing days of papers; interactions on 3 days)",
    ]
    assert "WARNING papersift.training.pipeline: validation split: earlier days" in done.stderr
    assert "no reader of the training papers interacted" in done.stderr
    bundle = load_current(model_dir)
    assert bundle is not None
    assert f"published model {bundle.version}" in done.stdout
    validation = bundle.manifest.params["validation"]
    assert validation["split"] == "earlier days"
    assert validation["fallback"] is True
    assert validation["early_stopping"] is True
    assert "latest days" in validation["reason"]
    assert [tried["split"] for tried in validation["tried"]] == ["latest days"]
    assert bundle.manifest.params["data"]["by_kind"]["SAVE"] == 54
    assert set(bundle.manifest.metrics) == {
        "precision@10", "recall@50", "recall@100", "ndcg@10", "auc"
    }  # fmt: skip
    assert len(bundle.scorer.user_ids) == 30  # the new readers are in the refitted model
    store = Store(sqlite_url)
    assert [record.version for record in store.model_records()] == [bundle.version]
    store.close()


@pytest.mark.parametrize(
    ("build", "split"),
    [
        (make_world, "latest days"),
        (new_readers_on_the_latest_day, "earlier days"),
        (one_day_readers, "random papers"),
        (one_paper_readers, "none"),
    ],
)
def test_every_world_with_clicks_publishes_and_the_manifest_says_which_split(
    build: Callable[[], World], split: str, tmp_path: Path
) -> None:
    world = build()
    outcome = train(
        Corpus(world.papers, world.interactions), TrainOptions(model=QUICK, model_dir=tmp_path)
    )

    assert current_version(tmp_path) == outcome.bundle.version
    published = load_current(tmp_path)
    assert published is not None
    params = published.manifest.params
    assert params["validation"]["split"] == split
    assert params["validation"]["fallback"] is (split != "latest days")
    assert params["data"]["interactions"] == len(world.interactions)
    if split == "none":
        # Default settings, the configured epochs, no early stopping, nothing to compare.
        assert params["validation"]["early_stopping"] is False
        assert params["validation"]["epochs_run"] == 0
        assert params["epochs"] == QUICK.epochs
        assert outcome.comparison == {} and outcome.history == []
        assert published.manifest.metrics == {}
    else:
        assert params["validation"]["early_stopping"] is True
        assert params["validation"]["best_epoch"] == outcome.best_epoch == params["epochs"]
        assert set(outcome.comparison) == {"papersift", "profile cosine", "random"}


def test_progress_covers_every_step_and_its_total_is_honest(tmp_path: Path) -> None:
    world = new_readers_on_the_latest_day()
    seen: list[Progress] = []

    outcome = train(
        Corpus(world.papers, world.interactions),
        TrainOptions(model=QUICK, model_dir=tmp_path),
        progress=seen.append,
    )

    # Planned at first: featurising, 6 epochs, comparing, featurising, 6 refit epochs, publishing.
    assert seen[0].total == 2 * QUICK.epochs + 4
    assert seen[0] == Progress(0, 2 * QUICK.epochs + 4, "featurising", {})
    done = [p.done for p in seen]
    assert done == sorted(done) and all(p.done <= p.total for p in seen)
    last = seen[-1]
    expected = 1 + len(outcome.history) + 1 + 1 + outcome.best_epoch + 1
    assert last.done == last.total == expected
    assert last.stage == "published"
    # Once early stopping has spoken, the total is the final one.
    comparing = next(p for p in seen if p.stage == "comparing with the baselines")
    assert all(p.total == expected for p in seen[seen.index(comparing) :])
    stages = [p.stage for p in seen]
    for stage in (
        "epoch 1/6",
        "refitting on all data: featurising",
        f"refitting on all data: epoch 1/{outcome.best_epoch}",
        "publishing",
    ):
        assert stage in stages
    assert any(key.startswith("blend_recall@") for key in last.metrics)


def test_progress_without_validation_counts_the_fixed_epochs(tmp_path: Path) -> None:
    world = one_paper_readers()
    seen: list[Progress] = []

    train(
        Corpus(world.papers, world.interactions),
        TrainOptions(model=QUICK, model_dir=tmp_path),
        progress=seen.append,
    )

    assert {p.total for p in seen} == {QUICK.epochs + 2}
    assert seen[-1].done == QUICK.epochs + 2
    assert not any(p.stage.startswith("epoch") for p in seen)


def test_cli_prints_the_summary_the_split_and_a_bar_over_every_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    papers, events = export(one_day_readers(), tmp_path)

    code = train_main(
        ["--papers", str(papers), "--interactions", str(events),
         "--model-dir", str(tmp_path / "models"), "--epochs", "3"]
    )  # fmt: skip

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(
        "data: 36 readers, 108 papers, 144 interactions\n"
        "  interactions by kind: CLICK 144, SAVE 0, UNSAVE 0, DISMISS 0, IMPRESSION 0\n"
        "  days: 2025-04-01..2025-04-03 (3 listing days of papers; interactions on 3 days)\n"
    )
    assert "validation split: random papers, held out" in captured.out
    assert "(a fallback: latest days" in captured.out
    assert "| papersift |" in captured.out
    # The bar went through featurising, epochs, refit and publishing, and ended full.
    bar = captured.err.replace("\r", "\n")
    for stage in ("featurising", "epoch 1/3", "refitting on all data: epoch 1/", "publishing"):
        assert stage in bar
    final = [line for line in bar.splitlines() if line.startswith("published:")][-1]
    steps = final.split("| ")[1].split(" steps")[0]
    numerator, denominator = steps.split("/")
    assert numerator == denominator
    assert "100%" in final


def test_cli_without_a_usable_split_says_so_and_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    papers, events = export(one_paper_readers(), tmp_path)
    model_dir = tmp_path / "models"

    code = train_main(
        ["--papers", str(papers), "--interactions", str(events), "--model-dir", str(model_dir),
         "--epochs", "3", "--no-progress"]
    )  # fmt: skip

    captured = capsys.readouterr()
    assert code == 0
    assert "IMPRESSION 27" in captured.out and "DISMISS 27" in captured.out
    assert "validation split: no usable validation split (latest days" in captured.out
    assert "no validation: trained 3 epochs without early stopping" in captured.out
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings[0].startswith("validation split: no usable validation split (latest days")
    assert warnings[1].startswith("no validation: training the configured settings for 3 epochs")
    assert f"published model {current_version(model_dir)}" in captured.out


def _event(user: str, paper: str, kind: InteractionKind) -> dict[str, object]:
    return {"event_id": f"{user}-{paper}-{kind.value}", "user_id": user, "paper_id": paper,
            "kind": kind.value, "occurred_at": "2025-04-01T12:00:00+00:00"}  # fmt: skip


NOTHING = [
    ("no interactions", [], "no clicks or saves to learn from: there are no interactions at all"),
    (
        "impressions and dismissals only",
        [
            _event("a", "x:1", InteractionKind.IMPRESSION),
            _event("a", "x:1", InteractionKind.DISMISS),
        ],
        "the 2 interactions (DISMISS 1, IMPRESSION 1) say nothing a reader likes",
    ),
    (
        "clicks on papers not read",
        [_event("a", "x:404", InteractionKind.CLICK)],
        "every clicked or saved paper is missing from the 1 papers",
    ),
]


@pytest.mark.parametrize(("case", "events", "message"), NOTHING, ids=[c[0] for c in NOTHING])
def test_nothing_to_train_on_is_a_clear_error_and_exits_1(
    case: str,
    events: list[dict[str, object]],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    papers = write_jsonl(
        tmp_path / "papers.jsonl", [{"paper_id": "x:1", "title": "T", "date": "2025-04-01"}]
    )
    interactions = write_jsonl(tmp_path / "events.jsonl", events)

    code = train_main(
        ["--papers", str(papers), "--interactions", str(interactions),
         "--model-dir", str(tmp_path / "m"), "--no-progress"]
    )  # fmt: skip

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.startswith(f"data: {len({e['user_id'] for e in events})} readers, 1 papers")
    assert message in captured.err
    assert captured.err.rstrip().endswith("nothing was published")
    assert "Traceback" not in captured.err
    assert not (tmp_path / "m" / "CURRENT").exists()


def test_no_papers_is_a_clear_error(tmp_path: Path) -> None:
    clicks = [
        Interaction(
            EventId("e"), UserId("a"), PaperId("x:1"), InteractionKind.CLICK,
            make_world().interactions[0].occurred_at,
        )
    ]  # fmt: skip
    with pytest.raises(TrainingError, match="there are no papers to train on"):
        train(Corpus([], clicks), TrainOptions(model=QUICK, model_dir=tmp_path))
    assert current_version(tmp_path) is None
