"""Training on a small synthetic two-topic world: cold items, early stopping, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from papersift.core.scoring import UserHistory
from papersift.training.metrics import ranking_metrics
from papersift.training.model import (
    ModelConfig,
    TrainingData,
    UserVectors,
    ValidationSet,
    content_profiles,
    fit,
    train_validation_split,
)

N_WORDS = 20  # words 0-9: topic A, 10-19: topic B


def papers(rng: np.random.Generator, topics: np.ndarray) -> sp.csr_matrix:
    """One row per paper: 4 words of its topic and 1 random word, L2-normalised."""
    rows = np.zeros((topics.size, N_WORDS), dtype=np.float32)
    for i, topic in enumerate(topics):
        own = rng.choice(10, size=4, replace=False) + 10 * topic
        rows[i, own] = 1.0
        rows[i, rng.integers(N_WORDS)] += 1.0
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return sp.csr_matrix(rows)


def world(seed: int = 0) -> tuple[TrainingData, ValidationSet, sp.csr_matrix]:
    """60 users (30 per topic), 120 training papers, 60 cold papers.

    Returns the training data, a validation set (each user likes 4 cold papers of their topic)
    and the topic relevance: every cold paper of the user's topic.
    """
    rng = np.random.default_rng(seed)
    user_topic = np.repeat([0, 1], 30)
    train_topic = rng.integers(0, 2, size=120)
    cold_topic = rng.integers(0, 2, size=60)

    def likes(item_topic: np.ndarray, per_user: int) -> sp.csr_matrix:
        m = np.zeros((user_topic.size, item_topic.size), dtype=np.float32)
        for u, t in enumerate(user_topic):
            pool = np.flatnonzero(item_topic == t)
            m[u, rng.choice(pool, size=min(per_user, pool.size), replace=False)] = 1.0
        return sp.csr_matrix(m)

    data = TrainingData(
        interactions=likes(train_topic, 8),
        user_ids=[f"u{u}" for u in range(user_topic.size)],
        item_features=papers(rng, train_topic),
    )
    validation = ValidationSet(papers(rng, cold_topic), likes(cold_topic, 4))
    topical = sp.csr_matrix((user_topic[:, None] == cold_topic[None, :]).astype(np.float32))
    return data, validation, topical


SMALL = ModelConfig(components=8, epochs=8, patience=2, num_threads=1, learning_rate=0.05)


def personal_scores(result_scorer: object, data: TrainingData, val: ValidationSet) -> np.ndarray:
    from papersift.core.scoring import Scorer

    assert isinstance(result_scorer, Scorer)
    items = result_scorer.prepare_items(val.candidate_features)
    rows = []
    for uid in data.user_ids:
        s = result_scorer.score(items, user_id=uid, history=None)
        assert s is not None
        rows.append(s)
    return np.vstack(rows)


def test_learns_to_rank_the_right_topic_for_cold_items() -> None:
    data, val, topical = world()
    for w in (0.0, 0.3):
        config = dataclasses.replace(SMALL, blend_weight=w, tune_blend=False)
        result = fit(data, config)
        scores = personal_scores(result.scorer, data, val)
        learned = ranking_metrics(scores, topical, (10,))
        chance = ranking_metrics(np.random.default_rng(1).random(scores.shape), topical, (10,))
        assert learned["auc"] > 0.9, w
        assert chance["auc"] < 0.6
        assert learned["precision@10"] > 0.9, w


def test_fold_in_user_gets_their_topic_first() -> None:
    data, val, topical = world()
    result = fit(data, dataclasses.replace(SMALL, blend_weight=0.0, tune_blend=False))
    scorer = result.scorer
    items = scorer.prepare_items(val.candidate_features)
    a_papers = np.flatnonzero(np.asarray(val.relevance[0].todense()).ravel())
    history = UserHistory(
        positive=val.candidate_features[a_papers[:2]],
        positive_weights=np.ones(2, dtype=np.float32),
        negative=sp.csr_matrix((0, N_WORDS), dtype=np.float32),
    )
    got = scorer.score(items, user_id="new reader", history=history)
    assert got is not None
    assert ranking_metrics(got[None, :], topical[0])["auc"] > 0.95


def test_early_stopping_keeps_the_best_epoch() -> None:
    data, val, _ = world()
    config = dataclasses.replace(SMALL, epochs=12, patience=1)
    seen: list[int] = []
    result = fit(data, config, validation=val, on_epoch=lambda epoch, entry: seen.append(epoch))
    assert seen == [int(e["epoch"]) for e in result.history]
    blended = [e["blend_recall@100"] for e in result.history]
    assert result.best_epoch == 1 + int(np.argmax(blended))
    assert len(result.history) <= result.best_epoch + config.patience + 1
    assert result.scorer.params["blend_weight"] == result.blend_weight
    # The kept parameters are the best epoch's: a plain run of best_epoch epochs gives them.
    refit = result.refit_config(config)
    assert refit.epochs == result.best_epoch and not refit.tune_blend
    assert refit.blend_weight == result.blend_weight
    again = fit(data, refit)
    for name in ("feature_embeddings", "user_embeddings", "feature_biases"):
        assert np.array_equal(result.scorer.arrays[name], again.scorer.arrays[name]), name


@pytest.mark.parametrize("user_vectors", ["trained", "fold_in"])
def test_known_users_vectors(user_vectors: UserVectors) -> None:
    data, val, topical = world()
    config = dataclasses.replace(
        SMALL, blend_weight=0.0, tune_blend=False, user_vectors=user_vectors
    )
    result = fit(data, config)
    assert result.scorer.params["user_vectors"] == user_vectors
    assert result.fold_in_users == (user_vectors == "fold_in")
    scores = personal_scores(result.scorer, data, val)
    assert ranking_metrics(scores, topical, (10,))["auc"] > 0.9
    if user_vectors == "fold_in":
        # A known user's exported vector is what the scorer folds in from the same papers.
        scorer = result.scorer
        items = scorer.prepare_items(val.candidate_features)
        row = data.interactions[5]
        history = UserHistory(
            positive=data.item_features[row.indices],
            positive_weights=row.data.astype(np.float32),
            negative=sp.csr_matrix((0, N_WORDS), dtype=np.float32),
        )
        folded = scorer.score(items, user_id=None, history=history)
        assert folded is not None
        np.testing.assert_allclose(scores[5], folded, rtol=1e-3, atol=1e-3)


def test_same_seed_same_model_other_seed_other_model() -> None:
    data, _, _ = world()
    first = fit(data, SMALL)
    second = fit(data, SMALL)
    other = fit(data, dataclasses.replace(SMALL, seed=1))
    for name, array in first.scorer.arrays.items():
        assert np.array_equal(array, second.scorer.arrays[name]), name
    assert first.scorer.params == second.scorer.params
    assert not np.array_equal(
        first.scorer.arrays["feature_embeddings"], other.scorer.arrays["feature_embeddings"]
    )


def test_exported_profiles_match_the_scorers_history_profile() -> None:
    data, val, _ = world()
    result = fit(data, dataclasses.replace(SMALL, epochs=1, blend_weight=1.0))
    scorer = result.scorer
    items = scorer.prepare_items(val.candidate_features)
    row = data.interactions[3]
    history = UserHistory(
        positive=data.item_features[row.indices],
        positive_weights=row.data.astype(np.float32),
        negative=sp.csr_matrix((0, N_WORDS), dtype=np.float32),
    )
    stored = scorer.score(items, user_id="u3", history=None)
    rebuilt = scorer.score(items, user_id="u3", history=history)
    assert stored is not None and rebuilt is not None
    np.testing.assert_allclose(stored, rebuilt, rtol=1e-4, atol=1e-5)


def test_dismissals_shape_profiles() -> None:
    data, _, _ = world()
    negatives = sp.csr_matrix(([1.0], ([0], [0])), shape=data.interactions.shape, dtype=np.float32)
    with_neg = content_profiles(data.interactions, data.item_features, negatives, 0.5)
    without = content_profiles(data.interactions, data.item_features)
    assert (with_neg[0] - without[0]).nnz > 0
    assert (with_neg[1] - without[1]).nnz == 0


def test_config_and_data_are_checked() -> None:
    with pytest.raises(ValueError, match="loss"):
        ModelConfig(loss="hinge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="components"):
        ModelConfig(components=0)
    with pytest.raises(ValueError, match="blend"):
        ModelConfig(blend_weight=2.0)
    with pytest.raises(ValueError, match="user_vectors"):
        ModelConfig(user_vectors="random")  # type: ignore[arg-type]
    data, val, _ = world()
    with pytest.raises(ValueError, match="user_ids"):
        fit(dataclasses.replace(data, user_ids=data.user_ids[:-1]), SMALL)
    with pytest.raises(ValueError, match="item_features"):
        fit(dataclasses.replace(data, item_features=data.item_features[:-1]), SMALL)
    with pytest.raises(ValueError, match="relevance"):
        fit(data, SMALL, validation=ValidationSet(val.candidate_features, val.relevance[:-1]))
    assert ModelConfig.shipped() == ModelConfig()


def test_train_validation_split_partitions_items() -> None:
    m = sp.csr_matrix(np.ones((3, 10), dtype=np.float32))
    train, valid = train_validation_split(m, 0.3, seed=0)
    assert valid.size == 3 and train.size == 7
    assert sorted([*train, *valid]) == list(range(10))
