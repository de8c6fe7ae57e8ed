"""Training the hybrid ranker: LightFM on paper features, blended with the content profile.

LightFM is used here only. :func:`fit` trains a LightFM model whose items are described by their
feature rows alone (no item identity features: every paper the server ranks is new), exports it
into the arrays of :class:`papersift.core.scoring.Scorer` and sets the blend weight between the
factor score and the content-profile cosine (see :mod:`papersift.core.scoring` for the math).

The users' exported vectors are, by default, folded in from their training papers with the very
formula the scorer uses for unknown users (``ModelConfig.user_vectors``): on citeulike-t item
cold start that ranks new papers better than LightFM's own user embeddings (see
``bench/quality/EXPERIMENTS.md``), and it makes PERSONAL and FOLD_IN agree.

With a :class:`ValidationSet` (candidates that must not be in the training data, e.g. papers
carved out of the training window), every epoch is scored exactly as the server would score
(PERSONAL users, stored profiles), the blend weight (and, with ``user_vectors="auto"``, the kind
of user vectors) is chosen on a grid, and training stops after ``patience`` epochs without
improvement; the best epoch's parameters are kept.

Determinism: the same data, config and ``seed`` give the same model when ``num_threads == 1``.
With more threads LightFM's Hogwild updates race, so results vary slightly from run to run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from papersift.core.features import FeatureConfig
from papersift.core.scoring import FORMAT, Scorer
from papersift.training.metrics import RankingMetrics

Loss = Literal["warp", "bpr", "warp-kos"]
Schedule = Literal["adagrad", "adadelta"]
UserVectors = Literal["trained", "fold_in", "auto"]

DEFAULT_BLEND_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of :func:`fit` (defaults: the configuration shipped, see EXPERIMENTS.md).

    Attributes:
        loss: LightFM loss: ``warp`` (default), ``bpr`` or ``warp-kos``.
        components: Embedding size ``k``.
        learning_schedule: ``adagrad`` or ``adadelta``.
        learning_rate: Initial learning rate (adagrad).
        item_alpha: L2 penalty on feature embeddings (per update).
        user_alpha: L2 penalty on user embeddings (per update).
        max_sampled: WARP's maximum negatives sampled per positive.
        epochs: Epochs to train (the maximum when validating).
        patience: Epochs without validation improvement before stopping.
        seed: Random seed of LightFM's initialisation and sampling.
        num_threads: LightFM threads; 1 for exactly reproducible models.
        blend_weight: Weight of the content cosine in the blend (used without validation, or
            when ``tune_blend`` is off).
        tune_blend: Choose the blend weight on the validation set from ``blend_grid``.
        blend_grid: Candidate blend weights.
        negative_weight: How strongly dismissed papers push a profile away (0 = ignore).
        fold_in_ridge: Ridge of the fold-in regression, relative to the mean eigenvalue of the
            paper vectors' second-moment matrix.
        user_vectors: The vectors exported for the users in the model: ``trained`` (LightFM's
            user embeddings), ``fold_in`` (folded in from their training papers exactly as the
            scorer folds in an unknown user; measured better for ranking new papers), or
            ``auto`` (the better of the two on the validation set; ``fold_in`` without one).
        validation_k: Cut-off of the validation metric ``recall@k``.
        validation_max_users: Validation users scored per epoch (a seeded sample when there
            are more), bounding the time spent validating.
        features: The feature configuration the model was tuned with (informational: the
            caller builds the features).
    """

    loss: Loss = "warp"
    components: int = 64
    learning_schedule: Schedule = "adagrad"
    learning_rate: float = 0.05
    item_alpha: float = 0.0
    user_alpha: float = 0.0
    max_sampled: int = 10
    epochs: int = 30
    patience: int = 5
    seed: int = 0
    num_threads: int = 2
    blend_weight: float = 0.3
    tune_blend: bool = True
    blend_grid: tuple[float, ...] = DEFAULT_BLEND_GRID
    negative_weight: float = 0.5
    fold_in_ridge: float = 0.1
    user_vectors: UserVectors = "auto"
    validation_k: int = 100
    validation_max_users: int = 1500
    features: FeatureConfig = field(default_factory=FeatureConfig)

    @classmethod
    def shipped(cls) -> ModelConfig:
        """The configuration papersift ships (chosen in ``bench/quality/EXPERIMENTS.md``)."""
        return cls()

    def __post_init__(self) -> None:
        """Validate the values.

        Raises:
            ValueError: Naming the first invalid field.
        """
        if self.loss not in ("warp", "bpr", "warp-kos"):
            raise ValueError(f"loss must be warp, bpr or warp-kos, got {self.loss!r}")
        if self.learning_schedule not in ("adagrad", "adadelta"):
            raise ValueError(f"learning_schedule must be adagrad or adadelta, got {self.loss!r}")
        for name in (
            "components",
            "max_sampled",
            "epochs",
            "num_threads",
            "validation_k",
            "validation_max_users",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        for name in ("learning_rate", "item_alpha", "user_alpha", "negative_weight"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {getattr(self, name)}")
        if self.user_vectors not in ("trained", "fold_in", "auto"):
            raise ValueError(
                f"user_vectors must be trained, fold_in or auto, got {self.user_vectors!r}"
            )
        if not self.fold_in_ridge > 0:
            raise ValueError(f"fold_in_ridge must be > 0, got {self.fold_in_ridge}")
        weights = (self.blend_weight, *self.blend_grid)
        if not self.blend_grid or any(not 0.0 <= w <= 1.0 for w in weights):
            raise ValueError("blend_weight and blend_grid values must be in [0, 1]")

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON-ready data."""
        data = dataclasses.asdict(self)
        data["blend_grid"] = list(self.blend_grid)
        data["features"] = self.features.to_json()
        return data


@dataclass(frozen=True)
class TrainingData:
    """What a model is trained on.

    Attributes:
        interactions: ``(users, items)`` CSR of non-negative weights (0 = no interaction).
        user_ids: One id per interaction row.
        item_features: ``(items, F)`` CSR feature rows of the training papers.
        negatives: Optional ``(users, items)`` CSR of dismissals (> 0 = dismissed); they only
            shape the stored content profiles (LightFM's ranking losses take positives only).
    """

    interactions: sp.csr_matrix
    user_ids: list[str]
    item_features: sp.csr_matrix
    negatives: sp.csr_matrix | None = None

    def check(self) -> None:
        """Raise ``ValueError`` naming what is inconsistent."""
        n_users, n_items = self.interactions.shape
        if len(self.user_ids) != n_users:
            raise ValueError(f"{len(self.user_ids)} user_ids for {n_users} interaction rows")
        if len(set(self.user_ids)) != n_users:
            raise ValueError("user_ids contains duplicates")
        if self.item_features.shape[0] != n_items:
            raise ValueError(
                f"item_features has {self.item_features.shape[0]} rows for {n_items} items"
            )
        data = self.interactions.data
        if not np.isfinite(data).all() or np.any(data < 0):
            raise ValueError("interactions must be finite and non-negative")
        if self.interactions.count_nonzero() == 0:
            raise ValueError("interactions has no positive entry")
        if self.negatives is not None and self.negatives.shape != self.interactions.shape:
            raise ValueError(
                f"negatives shape {self.negatives.shape} != interactions {self.interactions.shape}"
            )


@dataclass(frozen=True)
class ValidationSet:
    """Held-out candidates for early stopping and blend tuning.

    Attributes:
        candidate_features: ``(candidates, F)`` CSR feature rows (papers not in training).
        relevance: ``(users, candidates)`` CSR, users indexed like ``TrainingData``; > 0 means
            the user interacted with the candidate.
    """

    candidate_features: sp.csr_matrix
    relevance: sp.csr_matrix


@dataclass(frozen=True)
class FitResult:
    """A trained model and how training went.

    Attributes:
        scorer: The exported model, ready to validate, save or score.
        history: Per epoch: ``epoch``, ``seconds`` and, with validation, ``recall@k`` of the
            factor score alone, ``blend_recall@k`` and the ``blend_weight`` achieving it.
        best_epoch: The epoch whose parameters were kept (the last one without validation).
        blend_weight: The blend weight stored in the scorer.
        fold_in_users: Whether the users' exported vectors are folded in (else LightFM's).
    """

    scorer: Scorer
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    blend_weight: float = 0.0
    fold_in_users: bool = False

    def refit_config(self, config: ModelConfig) -> ModelConfig:
        """``config`` with what this (validated) fit chose, for refitting on all the data.

        The best epoch count, the blend weight (no longer tuned) and the kind of user vectors.
        """
        return dataclasses.replace(
            config,
            epochs=max(self.best_epoch, 1),
            blend_weight=self.blend_weight,
            tune_blend=False,
            user_vectors="fold_in" if self.fold_in_users else "trained",
        )


def _row_normalize(m: sp.csr_matrix) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1), dtype=np.float64).ravel())
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    m.data *= np.repeat(scale, np.diff(m.indptr))
    return m


def _weighted_mean_rows(weights: sp.csr_matrix, rows: sp.csr_matrix) -> sp.csr_matrix:
    # Row u: sum_i w_ui * rows_i / sum_i w_ui, i.e. the scorer's weighted mean of a history.
    totals = np.asarray(weights.sum(axis=1), dtype=np.float64).ravel()
    inv = np.where(totals > 0, 1.0 / np.maximum(totals, 1e-12), 0.0)
    return sp.csr_matrix(sp.diags(inv) @ (weights @ rows), dtype=np.float32)


def content_profiles(
    interactions: sp.csr_matrix,
    item_features: sp.csr_matrix,
    negatives: sp.csr_matrix | None = None,
    negative_weight: float = 0.5,
) -> sp.csr_matrix:
    """Content profiles as the scorer builds them from a history, for every user at once.

    Args:
        interactions: ``(users, items)`` positive weights.
        item_features: ``(items, F)`` feature rows.
        negatives: Optional ``(users, items)`` dismissals (> 0).
        negative_weight: Weight of the mean dismissed row subtracted from the profile.

    Returns:
        ``(users, F)`` float32 CSR.
    """
    normalized = _row_normalize(item_features)
    profiles = _weighted_mean_rows(sp.csr_matrix(interactions, dtype=np.float32), normalized)
    if negatives is not None and negatives.nnz and negative_weight > 0:
        binary = sp.csr_matrix(negatives > 0, dtype=np.float32)
        profiles = profiles - negative_weight * _weighted_mean_rows(binary, normalized)
    profiles = sp.csr_matrix(profiles, dtype=np.float32)
    profiles.eliminate_zeros()
    profiles.sort_indices()
    return profiles


def _zscore_rows(s: np.ndarray) -> np.ndarray:
    # Same as the scorer's per-user z-score: population std, constant rows become zeros.
    mean = s.mean(axis=1, keepdims=True)
    std = s.std(axis=1, keepdims=True)
    safe = np.where(std < 1e-9, 1.0, std)
    return np.where(std < 1e-9, 0.0, (s - mean) / safe).astype(np.float32)


def fold_in_matrix(item_vectors: np.ndarray, ridge: float) -> np.ndarray:
    """``(QᵀQ / n + ridge * mean eigenvalue * I)⁻¹`` of the training papers' vectors ``Q``."""
    q = np.asarray(item_vectors, dtype=np.float64)
    second = q.T @ q / max(q.shape[0], 1)
    k = second.shape[0]
    scale = float(np.trace(second)) / k if k else 1.0
    reg = ridge * (scale if scale > 0 else 1.0)
    return np.linalg.inv(second + reg * np.eye(k)).astype(np.float32)


def folded_in_users(
    profiles: sp.csr_matrix,
    item_features: sp.csr_matrix,
    embeddings: np.ndarray,
    trained_users: np.ndarray,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fold every user in from their content profile, as the scorer does for unknown users.

    Returns:
        (user vectors, fold-in matrix ``G``, the norm every vector is scaled to: the median norm
        of the trained user embeddings).
    """
    g = fold_in_matrix(np.asarray(item_features @ embeddings), ridge)
    norms = np.linalg.norm(trained_users, axis=1)
    target = float(np.median(norms)) if norms.size else 1.0
    mean_vectors = np.asarray(profiles @ embeddings, dtype=np.float32)
    vectors = mean_vectors @ g.T
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    scale = np.where(lengths > 0, target / np.maximum(lengths, 1e-30), 0.0)
    return (vectors * scale).astype(np.float32), g, target


def _export(
    model: Any,
    data: TrainingData,
    config: ModelConfig,
    profiles: sp.csr_matrix,
    blend_weight: float,
    use_fold_in: bool,
    snapshot: dict[str, np.ndarray],
) -> Scorer:
    embeddings = snapshot["item_embeddings"]
    trained = snapshot["user_embeddings"].astype(np.float32)
    folded, g, norm = folded_in_users(
        profiles, data.item_features, embeddings, trained, config.fold_in_ridge
    )
    arrays = {
        "feature_embeddings": embeddings.astype(np.float32),
        "feature_biases": snapshot["item_biases"].astype(np.float32),
        "user_embeddings": folded if use_fold_in else trained,
        "user_biases": snapshot["user_biases"].astype(np.float32),
        "fold_in_matrix": g,
        "profile_data": profiles.data.astype(np.float32),
        "profile_indices": profiles.indices.astype(np.int32),
        "profile_indptr": profiles.indptr.astype(np.int64),
    }
    params = {
        "format": FORMAT,
        "n_features": int(embeddings.shape[0]),
        "n_components": int(embeddings.shape[1]),
        "blend_weight": float(blend_weight),
        "negative_weight": float(config.negative_weight),
        "fold_in_norm": norm,
        "user_vectors": "fold_in" if use_fold_in else "trained",
        "config": config.to_json(),
    }
    return Scorer(arrays, params, list(data.user_ids))


class _Validator:
    """Scores validation users exactly like ``Scorer.score`` with PERSONAL users, in bulk."""

    def __init__(
        self,
        validation: ValidationSet,
        profiles: sp.csr_matrix,
        item_features: sp.csr_matrix,
        config: ModelConfig,
    ) -> None:
        rel = sp.csr_matrix(validation.relevance)
        users = np.flatnonzero(np.diff(rel.indptr) > 0)
        if users.size > config.validation_max_users:
            rng = np.random.default_rng(config.seed)
            users = np.sort(rng.choice(users, config.validation_max_users, replace=False))
        self.users = users
        self.relevance = sp.csr_matrix(rel[self.users])
        self.features = sp.csr_matrix(validation.candidate_features, dtype=np.float32)
        content = profiles[self.users] @ _row_normalize(self.features).T
        self.content_z = _zscore_rows(np.asarray(content.todense(), dtype=np.float32))
        self.grid = config.blend_grid if config.tune_blend else (config.blend_weight,)
        self.k = config.validation_k
        self.profiles = sp.csr_matrix(profiles[self.users])
        self.item_features = item_features
        self.ridge = config.fold_in_ridge
        self.variants = {"auto": (False, True), "trained": (False,), "fold_in": (True,)}[
            config.user_vectors
        ]

    def _recall(self, scores: np.ndarray) -> float:
        acc = RankingMetrics((self.k,), with_auc=False)
        acc.add(scores, self.relevance)
        return acc.result()[f"recall@{self.k}"]

    def __call__(self, model: Any) -> dict[str, float]:
        """Validation metrics of the current model with the best blend weight and user vectors.

        Keys: ``recall@k`` (factor score alone, trained user vectors), ``fold_in_recall@k``
        (factor score alone, folded-in user vectors), ``blend_recall@k`` (the best blend),
        ``blend_weight`` and ``fold_in`` (1.0 when the best blend uses folded-in vectors).
        """
        vectors = np.asarray(self.features @ model.item_embeddings, dtype=np.float32)
        biases = np.asarray(self.features @ model.item_biases, dtype=np.float32).ravel()
        trained = model.user_embeddings[self.users]
        folded, _, _ = folded_in_users(
            self.profiles, self.item_features, model.item_embeddings, trained, self.ridge
        )
        out: dict[str, float] = {}
        best = (-1.0, 0.0, 0.0)
        for use_fold_in, users in ((False, trained), (True, folded)):
            cf_z = _zscore_rows((users @ vectors.T + biases[None, :]).astype(np.float32))
            key = "fold_in_recall" if use_fold_in else "recall"
            out[f"{key}@{self.k}"] = self._recall(cf_z)
            if use_fold_in not in self.variants:
                continue
            for w in self.grid:
                recall = self._recall((1.0 - w) * cf_z + w * self.content_z)
                if recall > best[0]:
                    best = (recall, float(w), float(use_fold_in))
        out[f"blend_recall@{self.k}"], out["blend_weight"], out["fold_in"] = best
        return out


def _snapshot(model: Any) -> dict[str, np.ndarray]:
    return {
        name: np.array(getattr(model, name), copy=True)
        for name in ("item_embeddings", "item_biases", "user_embeddings", "user_biases")
    }


def fit(
    data: TrainingData,
    config: ModelConfig = ModelConfig(),
    *,
    validation: ValidationSet | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Train the hybrid model and export it as a :class:`Scorer`.

    Args:
        data: Interactions, user ids and the training papers' feature rows.
        config: Hyper-parameters.
        validation: Held-out candidates for early stopping and blend tuning; without it,
            ``config.epochs`` epochs are trained and ``config.blend_weight`` is used.
        on_epoch: Called after every epoch with its number (from 1) and its history entry.

    Returns:
        The scorer of the best epoch, the per-epoch history, the best epoch and blend weight.

    Raises:
        ValueError: If the data or the validation set is inconsistent.
    """
    data.check()
    n_users = data.interactions.shape[0]
    n_features = data.item_features.shape[1]
    if validation is not None:
        if validation.candidate_features.shape[1] != n_features:
            raise ValueError("validation candidate_features have a different number of columns")
        if validation.relevance.shape != (n_users, validation.candidate_features.shape[0]):
            raise ValueError(
                f"validation relevance shape {validation.relevance.shape} != "
                f"({n_users}, {validation.candidate_features.shape[0]})"
            )

    weights = sp.coo_matrix(data.interactions, dtype=np.float32)
    weights.eliminate_zeros()
    binary = sp.coo_matrix(
        (np.ones_like(weights.data), (weights.row, weights.col)), shape=weights.shape
    )
    item_features = sp.csr_matrix(data.item_features, dtype=np.float32)
    profiles = content_profiles(
        data.interactions, item_features, data.negatives, config.negative_weight
    )
    model = LightFM(
        no_components=config.components,
        loss=config.loss,
        learning_schedule=config.learning_schedule,
        learning_rate=config.learning_rate,
        item_alpha=config.item_alpha,
        user_alpha=config.user_alpha,
        max_sampled=config.max_sampled,
        random_state=np.random.RandomState(config.seed),
    )
    validator = (
        _Validator(validation, profiles, item_features, config) if validation is not None else None
    )

    history: list[dict[str, float]] = []
    best: tuple[float, int, float, bool, dict[str, np.ndarray]] | None = None
    stale = 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.fit_partial(
            binary,
            item_features=item_features,
            sample_weight=weights,
            epochs=1,
            num_threads=config.num_threads,
        )
        entry: dict[str, float] = {"epoch": float(epoch)}
        entry["seconds"] = time.perf_counter() - started
        if validator is not None:
            entry.update(validator(model))
            blend_recall = entry[f"blend_recall@{config.validation_k}"]
            if best is None or blend_recall > best[0]:
                use_fold_in = entry["fold_in"] > 0.5
                best = (blend_recall, epoch, entry["blend_weight"], use_fold_in, _snapshot(model))
                stale = 0
            else:
                stale += 1
        history.append(entry)
        if on_epoch is not None:
            on_epoch(epoch, entry)
        if validator is not None and stale > config.patience:
            break

    if best is None:
        use_fold_in = config.user_vectors != "trained"
        best = (float("nan"), len(history), config.blend_weight, use_fold_in, _snapshot(model))
    _, best_epoch, blend_weight, use_fold_in, snapshot = best
    scorer = _export(model, data, config, profiles, blend_weight, use_fold_in, snapshot)
    scorer.validate()
    return FitResult(scorer, history, best_epoch, blend_weight, use_fold_in)


def train_validation_split(
    interactions: sp.csr_matrix, fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Carve validation papers out of the training papers (item cold start, like the test).

    Args:
        interactions: ``(users, items)`` training interactions.
        fraction: Share of the items held out.
        seed: Seed of the permutation.

    Returns:
        (train item indices, validation item indices), both ascending.
    """
    n_items = interactions.shape[1]
    perm = np.random.default_rng(seed).permutation(n_items)
    n_val = round(fraction * n_items)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
