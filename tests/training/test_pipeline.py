"""The training job end to end: through the store, from JSONL, its errors, determinism."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from papersift.core.bundle import current_version, load_current
from papersift.core.errors import StoreUnavailable
from papersift.core.store import ModelRecord, Store
from papersift.core.types import UserId
from papersift.training.cli import main as train_main
from papersift.training.data import Corpus, TrainingError, load_store
from papersift.training.model import ModelConfig
from papersift.training.pipeline import TrainOptions, forget_old_erasures, train
from tests.synthetic import make_world
from tests.training.worlds import export, write_jsonl

QUICK = dataclasses.replace(ModelConfig.shipped(), epochs=6, patience=2, num_threads=1)


def store_with_world(database_url: str) -> None:
    world = make_world()
    store = Store(database_url)
    store.migrate()
    store.upsert_papers(world.papers)
    store.record_interactions(world.interactions)
    store.close()


def test_trains_through_the_store_publishes_and_registers(
    database_url: str, tmp_path: Path
) -> None:
    store_with_world(database_url)
    model_dir = tmp_path / "models"

    outcome = train(
        load_store(database_url),
        TrainOptions(
            model=QUICK,
            model_dir=model_dir,
            report_dir=tmp_path / "reports",
            register_in=database_url,
        ),
    )

    assert current_version(model_dir) == outcome.bundle.version
    loaded = load_current(model_dir)
    assert loaded is not None
    assert len(loaded.scorer.user_ids) == 24
    assert set(outcome.comparison) == {"papersift", "profile cosine", "random"}
    ours, chance = outcome.comparison["papersift"], outcome.comparison["random"]
    assert ours["ndcg@10"] > chance["ndcg@10"] + 0.2  # 36 candidates: recall@50 is always 1
    assert loaded.manifest.metrics == {
        name: ours[name] for name in ("precision@10", "recall@50", "recall@100", "ndcg@10", "auc")
    }
    assert 1 <= outcome.best_epoch <= QUICK.epochs
    assert outcome.report is not None and outcome.report.exists()
    assert outcome.report.with_suffix(".png").stat().st_size > 0
    store = Store(database_url)
    records = store.model_records()
    store.close()
    assert [r.version for r in records] == [outcome.bundle.version]
    assert records[0].metrics == loaded.manifest.metrics


def test_same_seed_gives_the_same_model(tmp_path: Path) -> None:
    world = make_world()
    corpus = Corpus(world.papers, world.interactions)
    first = train(corpus, TrainOptions(model=QUICK, model_dir=tmp_path / "a"))
    second = train(corpus, TrainOptions(model=QUICK, model_dir=tmp_path / "b"))
    for name, array in first.bundle.scorer.arrays.items():
        np.testing.assert_array_equal(second.bundle.scorer.arrays[name], array)


def test_nothing_to_learn_from_is_an_error_and_publishes_nothing(tmp_path: Path) -> None:
    world = make_world()
    with pytest.raises(TrainingError, match="no clicks or saves"):
        train(Corpus(world.papers, []), TrainOptions(model=QUICK, model_dir=tmp_path))
    with pytest.raises(TrainingError, match="no papers"):
        train(Corpus([], world.interactions), TrainOptions(model=QUICK, model_dir=tmp_path))
    assert current_version(tmp_path) is None


def test_cli_trains_from_jsonl_and_prints_the_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    papers, events = export(make_world(), tmp_path)
    model_dir = tmp_path / "models"

    code = train_main(
        ["--papers", str(papers), "--interactions", str(events), "--model-dir", str(model_dir),
         "--epochs", "4", "--no-progress"]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0
    assert "| papersift |" in out
    assert "| profile cosine |" in out
    assert f"published model {current_version(model_dir)}" in out


def test_cli_reports_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = write_jsonl(tmp_path / "events.jsonl", [])
    papers = write_jsonl(
        tmp_path / "papers.jsonl", [{"paper_id": "x:1", "title": "T", "date": "2025-04-01"}]
    )
    code = train_main(
        ["--papers", str(papers), "--interactions", str(empty),
         "--model-dir", str(tmp_path / "m"), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "no clicks or saves" in err
    assert "nothing was published" in err
    assert not (tmp_path / "m" / "CURRENT").exists()

    with pytest.raises(SystemExit) as exited:
        train_main(["--papers", str(papers)])
    assert exited.value.code == 2
    assert "--papers and --interactions go together" in capsys.readouterr().err


def test_a_failure_after_writing_publishes_nothing(tmp_path: Path) -> None:
    world = make_world()
    model_dir = tmp_path / "models"
    closed_store = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    with pytest.raises(StoreUnavailable):
        train(
            Corpus(world.papers, world.interactions),
            TrainOptions(model=QUICK, model_dir=model_dir, register_in=closed_store),
        )
    assert current_version(model_dir) is None
    assert [path.name for path in model_dir.iterdir()] == []  # the unpublished bundle is gone


def test_erasures_are_forgotten_once_no_served_model_predates_them(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    store.delete_user(UserId("erased-early"))
    previous_trained_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    for version, trained_at in (("v1", previous_trained_at), ("v2", None)):
        store.register_model(
            ModelRecord(
                version=version,
                created_at=dt.datetime.now(dt.UTC),
                trained_at=trained_at,
                data_start=None,
                data_end=None,
                metrics={},
                path=f"/models/{version}",
            )
        )
    day = dt.date(2025, 4, 1)
    try:
        # v2 was just published; v1 may still be served: erasures older than v1 are dropped.
        assert forget_old_erasures(database_url, published="v2") == 1
        assert store.revisions(UserId("erased-early"), day).erased_at is None
        # With nothing registered before it, a first model keeps every record.
        store.delete_user(UserId("erased-late"))
        assert forget_old_erasures(database_url, published="v1") == 0
        assert store.revisions(UserId("erased-late"), day).erased_at is not None
    finally:
        store.close()
