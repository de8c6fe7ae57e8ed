"""The methods compared: content baselines and LightFM models scored the way the server does.

A :class:`Method` learns from a :class:`~bench.quality.tasks.RankingTask` (``fit``) and returns
a :class:`Ranker`, which scores the candidates for any subset of the task's eval users. The
LightFM methods go through ``papersift.training.model.fit`` and then the server's path,
``Scorer.prepare_items`` once and ``Scorer.score`` per user with the user's history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from tqdm import tqdm

from bench.quality.tasks import IntArray, RankingTask, sample_rows, user_id
from papersift.core.features import FeatureConfig
from papersift.core.scoring import PreparedItems, Scorer, UserHistory
from papersift.training.baselines import (
    per_user_svm_scores,
    profile_cosine_scores,
    random_scores,
)
from papersift.training.model import (
    FitResult,
    ModelConfig,
    TrainingData,
    ValidationSet,
    fit,
    train_validation_split,
)

FloatArray = npt.NDArray[np.float32]


class Ranker(Protocol):
    """Scores a task's candidates for some of its eval users."""

    def score(self, rows: IntArray) -> FloatArray:
        """``(len(rows), candidates)`` scores for the eval users at positions ``rows``."""
        ...


class Method(Protocol):
    """A way of ranking: its table name, its evaluation-user cap and its training step."""

    @property
    def name(self) -> str:
        """Name shown in the tables."""
        ...

    @property
    def features(self) -> FeatureConfig:
        """The featurizer configuration whose features it uses."""
        ...

    @property
    def max_users(self) -> int | None:
        """Most eval users it is judged on (a sample when the task has more); None for all."""
        ...

    def fit(self, task: RankingTask) -> Ranker:
        """Learn from the task's training data."""
        ...


def _training_rows(matrix: sp.csr_matrix) -> tuple[sp.csr_matrix, list[str]]:
    # Users without a training paper have nothing to learn from: they stay out of the model.
    users = np.flatnonzero(np.diff(matrix.indptr) > 0)
    ids: list[str] = [user_id(int(row)) for row in users]
    return sp.csr_matrix(matrix[users], dtype=np.float32), ids


def _tick(bar: tqdm[Any]) -> None:
    bar.update(1)


def _history_weights(count: int) -> npt.NDArray[np.float32]:
    # citeulike-t libraries are saved papers with no strength; every one counts the same.
    return np.ones(count, dtype=np.float32)


@dataclass(frozen=True)
class _BaselineRanker:
    task: RankingTask
    features: FeatureConfig
    scorer: Callable[[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, int], FloatArray]

    def score(self, rows: IntArray) -> FloatArray:
        feats = self.task.features(self.features)
        users = self.task.train_matrix[self.task.eval_users[rows]]
        first = int(rows[0]) if rows.size else 0
        return self.scorer(feats.train, feats.candidates, users, first)


@dataclass(frozen=True)
class RandomMethod:
    """Uniform random scores, seeded."""

    seed: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    name: str = "random"
    max_users: int | None = None

    def fit(self, task: RankingTask) -> Ranker:
        """Nothing to learn."""

        def scores(
            train: sp.csr_matrix, candidates: sp.csr_matrix, users: sp.csr_matrix, first: int
        ) -> FloatArray:
            rng = np.random.default_rng([self.seed, first])
            return random_scores(train, candidates, users, seed=rng)

        return _BaselineRanker(task, self.features, scores)


@dataclass(frozen=True)
class ProfileCosineMethod:
    """Cosine between a candidate's TF-IDF and the mean TF-IDF of the user's papers."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    name: str = "TF-IDF profile cosine"
    max_users: int | None = None

    def fit(self, task: RankingTask) -> Ranker:
        """Nothing to learn ahead: the profile is built when scoring."""

        def scores(
            train: sp.csr_matrix, candidates: sp.csr_matrix, users: sp.csr_matrix, first: int
        ) -> FloatArray:
            return profile_cosine_scores(train, candidates, users)

        return _BaselineRanker(task, self.features, scores)


@dataclass(frozen=True)
class SvmMethod:
    """arxiv-sanity's per-user linear SVM on TF-IDF (fitted while scoring, user by user)."""

    c: float = 0.01
    max_negatives: int | None = 5000
    seed: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    name: str = "per-user linear SVM"
    max_users: int | None = None
    progress: bool = True

    def fit(self, task: RankingTask) -> Ranker:
        """Nothing shared to learn: each user's SVM is fitted when their scores are asked for."""

        def scores(
            train: sp.csr_matrix, candidates: sp.csr_matrix, users: sp.csr_matrix, first: int
        ) -> FloatArray:
            with tqdm(
                total=users.shape[0], desc="  SVM users", leave=False, disable=not self.progress
            ) as bar:
                return per_user_svm_scores(
                    train,
                    candidates,
                    users,
                    c=self.c,
                    max_negatives=self.max_negatives,
                    seed=self.seed * 1_000_003 + first,
                    on_user=lambda: _tick(bar),
                )

        return _BaselineRanker(task, self.features, scores)


class ScorerRanker:
    """Scores through the server's path: ``prepare_items`` once, ``score`` per user.

    Users are scored as the server scores a reader, always with their history (the feature
    rows of their training papers, or of ``history_of(user row)`` when given): by ``user_id``
    when ``personal`` (the user is in the model), otherwise folded in (``user_id=None``).
    """

    def __init__(
        self,
        task: RankingTask,
        scorer: Scorer,
        features: FeatureConfig,
        *,
        personal: bool = True,
        history_of: Callable[[int], IntArray] | None = None,
    ) -> None:
        """Prepare the task's candidates for ``scorer``."""
        self.task = task
        self.scorer = scorer
        self.personal = personal
        self.history_of = history_of
        #: What training chose (epochs, blend weight), reported next to the metrics.
        self.details: dict[str, float] = {}
        self._features = task.features(features)
        self._items = scorer.prepare_items(self._features.candidates)

    @property
    def items(self) -> PreparedItems:
        """The task's candidates as ``Scorer.prepare_items`` prepared them (as for a day)."""
        return self._items

    def score(self, rows: IntArray) -> FloatArray:
        """Scores of the eval users at positions ``rows``; zeros where the scorer has none."""
        feats = self._features
        empty = sp.csr_matrix((0, feats.train.shape[1]), dtype=np.float32)
        out = np.zeros((rows.size, feats.candidates.shape[0]), dtype=np.float32)
        for position, row in enumerate(rows.tolist()):
            user = int(self.task.eval_users[row])
            papers = (
                self.history_of(user)
                if self.history_of is not None
                else self.task.train_matrix[user].indices
            )
            history = UserHistory(
                positive=feats.train[papers],
                positive_weights=_history_weights(len(papers)),
                negative=empty,
            )
            scores = self.scorer.score(
                self._items, user_id=user_id(user) if self.personal else None, history=history
            )
            if scores is not None:
                out[position] = scores
        return out


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model's scorer and the configuration it was fitted with."""

    scorer: Scorer
    config: ModelConfig


@dataclass(frozen=True)
class Selection:
    """What the training job's validation chose: the configuration to refit with."""

    config: ModelConfig
    validation_users: int
    seconds: float


@dataclass(frozen=True)
class LightFMMethod:
    """A model trained by ``papersift.training.model.fit`` with ``config``.

    With ``validate`` it is trained the way the training job trains (``pipeline.train``): see
    :meth:`select`, then a refit on all training papers with what the validation chose.
    Without it, ``config.epochs`` epochs are trained and ``config.blend_weight`` is used.
    """

    name: str
    config: ModelConfig
    features: FeatureConfig = field(default_factory=FeatureConfig)
    validate: bool = False
    validation_fraction: float = 0.2
    #: Users the validation ranks each epoch (a seeded sample); None for all of them.
    validation_users: int | None = None
    max_users: int | None = None
    progress: bool = True

    def fit(self, task: RankingTask) -> ScorerRanker:
        """Train on the task's users with at least one training paper."""
        model = self.train(task, task.train_matrix)
        ranker = ScorerRanker(task, model.scorer, self.features)
        ranker.details = {
            "epochs": float(model.config.epochs),
            "blend_weight": float(model.config.blend_weight),
        }
        return ranker

    def train(self, task: RankingTask, matrix: sp.csr_matrix) -> TrainedModel:
        """Fit on ``matrix`` (users x the task's training papers); empty rows are left out."""
        config = self.select(task, matrix).config if self.validate else self.config
        interactions, ids = _training_rows(matrix)
        feats = task.features(self.features).train
        result = self._fit(TrainingData(interactions, ids, feats), config, None, "fit")
        return TrainedModel(result.scorer, config)

    def select(self, task: RankingTask, matrix: sp.csr_matrix) -> Selection:
        """Early stopping and the blend weight, chosen as the training job chooses them.

        A seeded ``validation_fraction`` of the training papers is carved out as item
        cold-start validation (``train_validation_split``); the model is fitted on the rest
        with that validation set, which stops training and picks the blend weight (and the kind
        of user vectors); ``FitResult.refit_config`` carries the choice into the refit.
        """
        start = time.perf_counter()
        interactions, ids = _training_rows(matrix)
        feats = task.features(self.features).train
        config = self.config
        train, valid = train_validation_split(
            interactions, self.validation_fraction, seed=config.seed
        )
        relevance = sp.csr_matrix(interactions[:, valid])
        judged = np.flatnonzero(np.diff(relevance.indptr) > 0)
        rng = np.random.default_rng([config.seed, 17])
        judged = judged[sample_rows(judged.size, self.validation_users, rng)]
        keep = np.zeros(relevance.shape[0], dtype=np.float32)
        keep[judged] = 1.0
        # Users outside the sample keep training but have nothing to be judged on.
        relevance = sp.csr_matrix(sp.diags(keep) @ relevance)
        relevance.eliminate_zeros()
        inner = self._fit(
            TrainingData(
                interactions=sp.csr_matrix(interactions[:, train]),
                user_ids=list(ids),
                item_features=sp.csr_matrix(feats[train]),
            ),
            config,
            ValidationSet(candidate_features=sp.csr_matrix(feats[valid]), relevance=relevance),
            "validation",
        )
        return Selection(inner.refit_config(config), int(judged.size), time.perf_counter() - start)

    def _fit(
        self,
        data: TrainingData,
        config: ModelConfig,
        validation: ValidationSet | None,
        stage: str,
    ) -> FitResult:
        with tqdm(
            total=config.epochs,
            desc=f"  {self.name}: {stage}",
            unit="epoch",
            leave=False,
            disable=not self.progress,
        ) as bar:
            return fit(
                data, config, validation=validation, on_epoch=lambda epoch, entry: _tick(bar)
            )
