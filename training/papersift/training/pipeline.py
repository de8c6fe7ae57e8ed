"""The training job end to end: read, split, featurize, fit with early stopping, compare with
the baselines, refit on everything, write and publish the bundle, register it in the store.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from papersift.core.bundle import ModelBundle, new_version, publish, write_bundle
from papersift.core.features import Featurizer
from papersift.core.scoring import PreparedItems
from papersift.core.signals import UserSignals
from papersift.core.store import ModelRecord, Store
from papersift.core.types import Paper, UserId
from papersift.training.baselines import profile_cosine_scores, random_scores
from papersift.training.data import (
    Corpus,
    TrainingError,
    interaction_matrices,
    signals_by_user,
    validation_days,
)
from papersift.training.metrics import ranking_metrics
from papersift.training.model import FitResult, ModelConfig, TrainingData, ValidationSet, fit

logger = logging.getLogger(__name__)

# What the end-of-training table and the report show.
REPORTED_METRICS = ("precision@10", "recall@50", "recall@100", "ndcg@10", "auc")
METRIC_CUTOFFS = (10, 50, 100)
EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainOptions:
    """How to train: model and feature settings, the validation share, where to publish."""

    model: ModelConfig = field(default_factory=ModelConfig.shipped)
    validation_fraction: float = 0.2
    model_dir: Path = Path("models")
    report_dir: Path | None = None
    register_in: str | None = None  # database URL of the model registry


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced."""

    bundle: ModelBundle
    comparison: dict[str, dict[str, float]]
    history: list[dict[str, float]]
    best_epoch: int
    report: Path | None


@dataclass(frozen=True)
class _Split:
    train_papers: list[Paper]
    valid_papers: list[Paper]


def train(
    corpus: Corpus, options: TrainOptions, on_epoch: EpochCallback | None = None
) -> TrainOutcome:
    """Run the whole job; nothing is published unless every step succeeds."""
    if not corpus.papers:
        raise TrainingError("the store has no papers; ingest some first (papersift ingest)")
    signals = signals_by_user(corpus.interactions)
    if not any(user.has_preferences for user in signals.values()):
        raise TrainingError(
            "no clicks or saves to learn from; record some first (papersift record)"
        )
    split = _split(corpus.papers, signals, options.validation_fraction)
    history: list[dict[str, float]] = []
    comparison: dict[str, dict[str, float]] = {}
    final_config = options.model
    if split.valid_papers:
        result, comparison = _validate(split, signals, options, on_epoch)
        history = result.history
        # Keep what validation chose: the epoch count, the blend weight, the user vectors.
        final_config = result.refit_config(options.model)
    else:
        logger.warning(
            "interactions cover a single day: no validation split; training %d epochs",
            final_config.epochs,
        )
    epochs = final_config.epochs
    # The latest days are the most relevant for tomorrow: refit on everything.
    final_model, featurizer, user_ids = _fit_all(corpus.papers, signals, final_config)
    start, end = corpus.window
    version = new_version(dt.datetime.now(dt.UTC))
    bundle = write_bundle(
        options.model_dir,
        featurizer=featurizer,
        scorer=final_model.scorer,
        # When the data was read: the model knows nothing later (erasures are compared to it).
        trained_at=corpus.read_at,
        data_start=start,
        data_end=end,
        params={
            "model": final_config.to_json(),
            "epochs": epochs,
            "users": len(user_ids),
            "papers": len(corpus.papers),
            "interactions": len(corpus.interactions),
        },
        metrics={
            name: value
            for name, value in comparison.get("papersift", {}).items()
            if name in REPORTED_METRICS
        },
        version=version,
        publish_now=False,
    )
    try:
        report = _finish(options, bundle, history, epochs, comparison)
    except BaseException:
        shutil.rmtree(bundle.path, ignore_errors=True)  # never published: no server saw it
        raise
    # Last step, so that a failure anywhere above publishes nothing.
    publish(options.model_dir, bundle.version)
    if options.register_in:
        forget_old_erasures(options.register_in, published=bundle.version)
    return TrainOutcome(bundle, comparison, history, epochs, report)


def _finish(
    options: TrainOptions,
    bundle: ModelBundle,
    history: list[dict[str, float]],
    best_epoch: int,
    comparison: dict[str, dict[str, float]],
) -> Path | None:
    """Register the bundle and write the report: the steps between writing and publishing."""
    if options.register_in:
        _register(options.register_in, bundle)
    if options.report_dir is None or not history:
        return None
    from papersift.training.report import write_report

    try:
        return write_report(
            options.report_dir,
            version=bundle.version,
            history=history,
            best_epoch=best_epoch,
            rows=comparison,
            metrics=REPORTED_METRICS,
        )
    except OSError as exc:
        raise TrainingError(f"cannot write the report to {options.report_dir}: {exc}") from exc


def _split(papers: list[Paper], signals: dict[UserId, UserSignals], fraction: float) -> _Split:
    held = validation_days(papers, signals, fraction)
    return _Split(
        train_papers=[paper for paper in papers if paper.date not in held],
        valid_papers=[paper for paper in papers if paper.date in held],
    )


def _trained_users(signals: dict[UserId, UserSignals], papers: list[Paper]) -> list[UserId]:
    ids = {paper.paper_id for paper in papers}
    return [user for user, s in signals.items() if any(pid in ids for pid in s.positive)]


def _validate(
    split: _Split,
    signals: dict[UserId, UserSignals],
    options: TrainOptions,
    on_epoch: EpochCallback | None,
) -> tuple[FitResult, dict[str, dict[str, float]]]:
    config = options.model
    # recall@k says nothing when k covers most candidates (a small store): cut k to a quarter.
    cutoff = max(1, min(config.validation_k, len(split.valid_papers) // 4))
    config = replace(config, validation_k=cutoff)
    featurizer = Featurizer.fit(split.train_papers, config.features)
    train_x = featurizer.transform(split.train_papers)
    valid_x = featurizer.transform(split.valid_papers)
    users = _trained_users(signals, split.train_papers)
    train = interaction_matrices(users, signals, split.train_papers)
    valid = interaction_matrices(users, signals, split.valid_papers)
    result = fit(
        TrainingData(
            interactions=train.positives,
            user_ids=list(users),
            item_features=train_x,
            negatives=train.negatives,
        ),
        config,
        validation=ValidationSet(candidate_features=valid_x, relevance=valid.positives),
        on_epoch=on_epoch,
    )
    relevance = sp.csr_matrix(valid.positives)
    evaluated = np.flatnonzero(np.diff(relevance.indptr) > 0)
    if evaluated.size == 0:
        raise TrainingError("no reader of the training days interacted with the validation days")
    relevance = relevance[evaluated]
    items = result.scorer.prepare_items(valid_x)
    model_scores = np.vstack([_known_user_scores(result, items, users[row]) for row in evaluated])
    train_items = train.positives[evaluated]
    rows = {
        "papersift": model_scores,
        "profile cosine": profile_cosine_scores(train_x, valid_x, train_items),
        "random": random_scores(train_x, valid_x, train_items, seed=options.model.seed),
    }
    cutoffs = sorted({*METRIC_CUTOFFS, cutoff})
    comparison = {
        name: ranking_metrics(scores, relevance, cutoffs) for name, scores in rows.items()
    }
    return result, comparison


def _known_user_scores(result: FitResult, items: PreparedItems, user_id: UserId) -> np.ndarray:
    scores = result.scorer.score(items, user_id=user_id, history=None)
    if scores is None:  # cannot happen for a trained user; a bug if it does
        raise RuntimeError(f"the trained model has no vector for {user_id!r}")
    return scores


def _fit_all(
    papers: list[Paper], signals: dict[UserId, UserSignals], config: ModelConfig
) -> tuple[FitResult, Featurizer, list[UserId]]:
    featurizer = Featurizer.fit(papers, config.features)
    users = _trained_users(signals, papers)
    matrices = interaction_matrices(users, signals, papers)
    result = fit(
        TrainingData(
            interactions=matrices.positives,
            user_ids=list(users),
            item_features=featurizer.transform(papers),
            negatives=matrices.negatives,
        ),
        config,
    )
    return result, featurizer, users


def forget_old_erasures(database_url: str, *, published: str) -> int:
    """Drop the erasure records no served model needs any more.

    A record stops a model trained before the erasure from serving the reader. Once the
    bundle ``published`` is out, the oldest model a server may still hold is the one
    registered before it; records older than that model's training are of no use. Returns how
    many were dropped.
    """
    store = Store(database_url)
    try:
        before = [
            record.trained_at
            for record in store.model_records()
            if record.version != published and record.trained_at is not None
        ]
        if not before:
            return 0
        oldest_served = max(before)
        dropped = store.purge_erasures(before=oldest_served)
        if dropped:
            logger.info("forgot %d erasure records older than %s", dropped, oldest_served)
        return dropped
    finally:
        store.close()


def _register(database_url: str, bundle: ModelBundle) -> None:
    store = Store(database_url)
    try:
        manifest = bundle.manifest
        store.register_model(
            ModelRecord(
                version=manifest.version,
                created_at=manifest.created_at,
                trained_at=manifest.trained_at,
                data_start=manifest.data_start,
                data_end=manifest.data_end,
                metrics=dict(manifest.metrics),
                path=str(bundle.path.resolve()),
            )
        )
    finally:
        store.close()
