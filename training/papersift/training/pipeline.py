"""The training job end to end: read, choose the validation split, featurize, fit with early
stopping, compare with the baselines, refit on everything, write and publish the bundle,
register it in the store.

Whatever the data, a model is published when there is a click or a save on a known paper: when
the time-ordered validation split cannot be used, :mod:`papersift.training.split` falls back to
an earlier one, then to random papers, then to no validation (fixed epochs); the log, the
bundle's manifest (``params["validation"]``) and the report say which.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable, Mapping
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
    DataSummary,
    TrainingError,
    interaction_matrices,
    signals_by_user,
)
from papersift.training.metrics import ranking_metrics
from papersift.training.model import FitResult, ModelConfig, TrainingData, ValidationSet, fit
from papersift.training.split import Candidate, SplitChoice, choose_split

logger = logging.getLogger(__name__)

# What the end-of-training table and the report show.
REPORTED_METRICS = ("precision@10", "recall@50", "recall@100", "ndcg@10", "auc")
METRIC_CUTOFFS = (10, 50, 100)


@dataclass(frozen=True)
class Progress:
    """Where a training run is, for a progress bar.

    Attributes:
        done: Steps done.
        total: Steps planned: featurising, each epoch of validation, the comparison, featurising
            all papers, each epoch of the refit, publishing. The epochs are planned at their
            maximum and the total shrinks as soon as early stopping says how many ran.
        stage: What runs now, e.g. ``"featurising"``, ``"epoch 3/30"``, ``"publishing"``.
        metrics: The latest validation epoch's metrics (empty before the first).
    """

    done: int
    total: int
    stage: str
    metrics: Mapping[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


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
    split: SplitChoice
    summary: DataSummary
    validation_k: int | None = None  # the cut-off validation's recall used, when it ran


class _Steps:
    """Counts the run's steps and tells the progress callback."""

    def __init__(self, callback: ProgressCallback | None, *, validate: bool, epochs: int) -> None:
        self.callback = callback
        self.validate = validate
        self.validation_epochs = epochs if validate else 0
        self.refit_epochs = epochs
        self.done = 0
        self.stage = ""
        self.metrics: dict[str, float] = {}

    @property
    def total(self) -> int:
        validation = 1 + self.validation_epochs + 1 if self.validate else 0
        return validation + 1 + self.refit_epochs + 1

    def begin(self, stage: str) -> None:
        self.stage = stage
        self._tell()

    def advance(self, stage: str | None = None) -> None:
        self.done += 1
        if stage is not None:
            self.stage = stage
        self._tell()

    def epochs(
        self, prefix: str, planned: int, *, validating: bool = False
    ) -> Callable[[int, dict[str, float]], None]:
        """An ``on_epoch`` callback advancing one step per epoch."""

        def on_epoch(epoch: int, entry: dict[str, float]) -> None:
            if validating:
                self.metrics = dict(entry)
            following = f"{prefix} {epoch + 1}/{planned}" if epoch < planned else self.stage
            self.advance(following)

        return on_epoch

    def _tell(self) -> None:
        if self.callback is not None:
            self.callback(Progress(self.done, self.total, self.stage, dict(self.metrics)))


def train(
    corpus: Corpus, options: TrainOptions, progress: ProgressCallback | None = None
) -> TrainOutcome:
    """Run the whole job; nothing is published unless every step succeeds.

    Raises:
        TrainingError: When there is nothing to train on (no papers, or no click or save on
            any of them); never because validation cannot be done.
    """
    summary = corpus.summary
    signals = _check_trainable(corpus)
    split = choose_split(
        corpus.papers, signals, options.validation_fraction, seed=options.model.seed
    )
    if split.fallback:
        logger.warning("validation split: %s", split.summary())
    else:  # the run prints it with the results; a log line would say it twice
        logger.debug("validation split: %s", split.summary())
    steps = _Steps(progress, validate=split.chosen is not None, epochs=options.model.epochs)
    history: list[dict[str, float]] = []
    comparison: dict[str, dict[str, float]] = {}
    validation_k: int | None = None
    final_config = options.model
    if split.chosen is not None:
        result, comparison, validation_k = _validate(split.chosen, signals, options, steps)
        history = result.history
        # Keep what validation chose: the epoch count, the blend weight, the user vectors.
        final_config = result.refit_config(options.model)
    else:
        logger.warning(
            "no validation: training the configured settings for %d epochs, "
            "without early stopping and without a comparison with the baselines",
            final_config.epochs,
        )
    epochs = final_config.epochs
    steps.refit_epochs = epochs
    # The latest days are the most relevant for tomorrow: refit on everything.
    final_model, featurizer, user_ids = _fit_all(corpus.papers, signals, final_config, steps)
    steps.begin("publishing")
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
            "data": summary.to_json(),
            "validation": {
                **split.to_json(),
                **({"best_epoch": epochs, "metric_cutoff": validation_k} if history else {}),
                "epochs_run": len(history),
            },
        },
        metrics={
            name: value
            for name, value in comparison.get("papersift", {}).items()
            if name in REPORTED_METRICS
        },
        version=version,
        publish_now=False,
    )
    outcome = TrainOutcome(bundle, comparison, history, epochs, None, split, summary, validation_k)
    try:
        report = _finish(options, outcome)
    except BaseException:
        shutil.rmtree(bundle.path, ignore_errors=True)  # never published: no server saw it
        raise
    # Last step, so that a failure anywhere above publishes nothing.
    publish(options.model_dir, bundle.version)
    if options.register_in:
        forget_old_erasures(options.register_in, published=bundle.version)
    steps.advance("published")
    return replace(outcome, report=report)


def _check_trainable(corpus: Corpus) -> dict[UserId, UserSignals]:
    """The readers' signals; ``TrainingError`` when there is nothing to train on."""
    summary = corpus.summary
    if not corpus.papers:
        raise TrainingError(
            f"there are no papers to train on ({summary.interactions} interactions but 0 "
            "papers read); ingest some first (papersift ingest)"
        )
    if not corpus.interactions:
        raise TrainingError(
            f"no clicks or saves to learn from: there are no interactions at all "
            f"({summary.papers} papers); record some first (papersift record)"
        )
    signals = signals_by_user(corpus.interactions)
    if not any(user.has_preferences for user in signals.values()):
        kinds = ", ".join(f"{name} {n}" for name, n in summary.by_kind.items() if n)
        raise TrainingError(
            f"no clicks or saves to learn from: the {summary.interactions} interactions "
            f"({kinds}) say nothing a reader likes; record some first (papersift record)"
        )
    known = {paper.paper_id for paper in corpus.papers}
    if not any(pid in known for user in signals.values() for pid in user.positive):
        raise TrainingError(
            "no clicks or saves to learn from on the papers read: every clicked or saved paper "
            f"is missing from the {summary.papers} papers; ingest them first (papersift ingest)"
        )
    return signals


def _finish(options: TrainOptions, outcome: TrainOutcome) -> Path | None:
    """Register the bundle and write the report: the steps between writing and publishing."""
    if options.register_in:
        _register(options.register_in, outcome.bundle)
    if options.report_dir is None:
        return None
    from papersift.training.report import write_report

    try:
        return write_report(options.report_dir, outcome, metrics=REPORTED_METRICS)
    except OSError as exc:
        raise TrainingError(f"cannot write the report to {options.report_dir}: {exc}") from exc


def _trained_users(signals: dict[UserId, UserSignals], papers: list[Paper]) -> list[UserId]:
    ids = {paper.paper_id for paper in papers}
    return [user for user, s in signals.items() if any(pid in ids for pid in s.positive)]


def _validate(
    split: Candidate,
    signals: dict[UserId, UserSignals],
    options: TrainOptions,
    steps: _Steps,
) -> tuple[FitResult, dict[str, dict[str, float]], int]:
    config = options.model
    # recall@k says nothing when k covers most candidates (a small store): cut k to a quarter.
    cutoff = max(1, min(config.validation_k, len(split.valid_papers) // 4))
    config = replace(config, validation_k=cutoff)
    steps.begin("featurising")
    featurizer = Featurizer.fit(split.train_papers, config.features)
    train_x = featurizer.transform(split.train_papers)
    valid_x = featurizer.transform(split.valid_papers)
    users = _trained_users(signals, split.train_papers)
    train = interaction_matrices(users, signals, split.train_papers)
    valid = interaction_matrices(users, signals, split.valid_papers)
    steps.advance(f"epoch 1/{config.epochs}")
    result = fit(
        TrainingData(
            interactions=train.positives,
            user_ids=list(users),
            item_features=train_x,
            negatives=train.negatives,
        ),
        config,
        validation=ValidationSet(candidate_features=valid_x, relevance=valid.positives),
        on_epoch=steps.epochs("epoch", config.epochs, validating=True),
    )
    # Early stopping said how many epochs ran and how many the refit will run.
    steps.validation_epochs = len(result.history)
    steps.refit_epochs = max(result.best_epoch, 1)
    steps.begin("comparing with the baselines")
    relevance = sp.csr_matrix(valid.positives)
    evaluated = np.flatnonzero(np.diff(relevance.indptr) > 0)
    if evaluated.size == 0:  # choose_split only returns splits with scorable readers
        raise RuntimeError(f"the {split.name} split has no reader to validate on")
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
    steps.advance()
    return result, comparison, cutoff


def _known_user_scores(result: FitResult, items: PreparedItems, user_id: UserId) -> np.ndarray:
    scores = result.scorer.score(items, user_id=user_id, history=None)
    if scores is None:  # cannot happen for a trained user; a bug if it does
        raise RuntimeError(f"the trained model has no vector for {user_id!r}")
    return scores


def _fit_all(
    papers: list[Paper], signals: dict[UserId, UserSignals], config: ModelConfig, steps: _Steps
) -> tuple[FitResult, Featurizer, list[UserId]]:
    steps.begin("refitting on all data: featurising")
    featurizer = Featurizer.fit(papers, config.features)
    users = _trained_users(signals, papers)
    matrices = interaction_matrices(users, signals, papers)
    item_features = featurizer.transform(papers)
    prefix = "refitting on all data: epoch"
    steps.advance(f"{prefix} 1/{config.epochs}")
    result = fit(
        TrainingData(
            interactions=matrices.positives,
            user_ids=list(users),
            item_features=item_features,
            negatives=matrices.negatives,
        ),
        config,
        on_epoch=steps.epochs(prefix, config.epochs),
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
