"""``Scorer.score_users``: many readers as matrix products, each row what ``score_user`` gives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from papersift.core.scoring import FORMAT, Scorer, UserHistory, UserModel

N_FEATURES = 60
N_COMPONENTS = 8
KNOWN = [f"user-{n}" for n in range(12)]


def random_rows(rng: np.random.Generator, n: int, density: float = 0.15) -> sp.csr_matrix:
    rows = sp.random(n, N_FEATURES, density=density, random_state=rng, dtype=np.float32)
    return sp.csr_matrix(rows, dtype=np.float32)


def random_scorer(rng: np.random.Generator) -> Scorer:
    profiles = random_rows(rng, len(KNOWN), density=0.3)
    scorer = Scorer(
        {
            "feature_embeddings": rng.normal(size=(N_FEATURES, N_COMPONENTS)).astype(np.float32),
            "feature_biases": rng.normal(size=N_FEATURES).astype(np.float32),
            "user_embeddings": rng.normal(size=(len(KNOWN), N_COMPONENTS)).astype(np.float32),
            "user_biases": np.zeros(len(KNOWN), dtype=np.float32),
            "fold_in_matrix": rng.normal(size=(N_COMPONENTS, N_COMPONENTS)).astype(np.float32),
            "profile_data": profiles.data,
            "profile_indices": profiles.indices.astype(np.int32),
            "profile_indptr": profiles.indptr.astype(np.int64),
        },
        {
            "format": FORMAT,
            "n_features": N_FEATURES,
            "n_components": N_COMPONENTS,
            "blend_weight": 0.4,
            "negative_weight": 0.5,
            "fold_in_norm": 1.5,
        },
        KNOWN,
    )
    scorer.validate()
    return scorer


def random_history(rng: np.random.Generator, likes: int, dismissals: int) -> UserHistory:
    return UserHistory(
        positive=random_rows(rng, likes),
        positive_weights=rng.choice([1.0, 3.0, 4.0], size=likes).astype(np.float32),
        negative=random_rows(rng, dismissals),
    )


def readers(scorer: Scorer, rng: np.random.Generator) -> list[UserModel]:
    """Known readers with and without a history, folded-in readers, with and without dismissals."""
    models: list[UserModel | None] = []
    for n in range(40):
        user_id = KNOWN[n % len(KNOWN)] if n % 3 else None
        history = random_history(rng, 1 + n % 5, n % 4) if n % 5 else None
        if user_id is None and history is None:
            history = random_history(rng, 2, 1)
        models.append(scorer.user_model(user_id=user_id, history=history))
    assert all(model is not None for model in models)
    return [model for model in models if model is not None]


@pytest.mark.parametrize("block", [1, 7, 256])
def test_each_row_is_bit_for_bit_what_score_user_gives(block: int) -> None:
    rng = np.random.default_rng(7)
    scorer = random_scorer(rng)
    items = scorer.prepare_items(random_rows(rng, 500))
    users = readers(scorer, rng)
    assert any(user.dismissed.shape[0] for user in users)
    assert any(not user.dismissed.shape[0] for user in users)

    scores = scorer.score_users(items, users, block=block)

    assert scores.shape == (len(users), 500)
    assert scores.dtype == np.float32
    for row, user in enumerate(users):
        single = scorer.score_user(items, user)
        assert np.array_equal(scores[row], single), f"reader {row} differs"
        assert np.array_equal(np.argsort(-scores[row]), np.argsort(-single))


def test_a_reader_without_profile_features_scores_by_the_factor_model_alone() -> None:
    rng = np.random.default_rng(3)
    scorer = random_scorer(rng)
    items = scorer.prepare_items(random_rows(rng, 50))
    user = scorer.user_model(user_id=KNOWN[0], history=None)
    assert user is not None
    blank = UserModel(user.vector, np.zeros_like(user.profile), user.dismissed)

    scores = scorer.score_users(items, [blank, user])

    assert np.array_equal(scores[0], scorer.score_user(items, blank))
    assert np.array_equal(scores[1], scorer.score_user(items, user))


def test_no_readers_or_no_papers_give_empty_scores() -> None:
    rng = np.random.default_rng(1)
    scorer = random_scorer(rng)
    user = scorer.user_model(user_id=KNOWN[1], history=None)
    assert user is not None
    items = scorer.prepare_items(random_rows(rng, 10))

    assert scorer.score_users(items, []).shape == (0, 10)
    none = scorer.prepare_items(sp.csr_matrix((0, N_FEATURES), dtype=np.float32))
    assert scorer.score_users(none, [user]).shape == (1, 0)


def test_a_block_below_one_is_refused() -> None:
    rng = np.random.default_rng(1)
    scorer = random_scorer(rng)
    items = scorer.prepare_items(random_rows(rng, 10))
    with pytest.raises(ValueError, match="block must be at least 1"):
        scorer.score_users(items, [], block=0)


def reader_inputs(rng: np.random.Generator) -> list[tuple[str | None, UserHistory | None]]:
    """Known readers with and without a history, folded-in readers (some without a signal:
    zero weights or dismissals only), readers with nothing."""
    inputs: list[tuple[str | None, UserHistory | None]] = []
    for n in range(30):
        user_id = KNOWN[n % len(KNOWN)] if n % 3 == 0 else None
        history = random_history(rng, n % 4, (n // 3) % 3) if n % 5 else None
        inputs.append((user_id, history))
    zero = UserHistory(random_rows(rng, 2), np.zeros(2, dtype=np.float32), random_rows(rng, 1))
    inputs += [(None, zero), (KNOWN[2], zero), ("stranger", None)]
    return inputs


def test_user_models_of_many_are_each_readers_user_model() -> None:
    rng = np.random.default_rng(11)
    scorer = random_scorer(rng)
    inputs = reader_inputs(rng)

    together = scorer.user_models(inputs)

    assert any(model is None for model in together)
    for (user_id, history), model in zip(inputs, together, strict=True):
        alone = scorer.user_model(user_id=user_id, history=history)
        if alone is None or model is None:
            assert alone is model
            continue
        assert np.array_equal(model.vector, alone.vector)
        assert np.array_equal(model.profile, alone.profile)
        assert model.dismissed.shape == alone.dismissed.shape
        assert np.array_equal(model.dismissed.toarray(), alone.dismissed.toarray())


def test_a_profile_is_the_weighted_mean_of_normalised_likes_minus_the_dismissed() -> None:
    rng = np.random.default_rng(5)
    scorer = random_scorer(rng)
    history = random_history(rng, 3, 2)

    model = scorer.user_model(user_id=None, history=history)

    def unit(rows: sp.csr_matrix) -> np.ndarray:
        dense = rows.toarray().astype(np.float64)
        return np.asarray(dense / np.linalg.norm(dense, axis=1, keepdims=True), dtype=np.float64)

    weights = history.positive_weights / history.positive_weights.sum()
    expected = weights @ unit(history.positive) - 0.5 * unit(history.negative).mean(axis=0)
    assert model is not None
    np.testing.assert_allclose(model.profile, expected, rtol=1e-5, atol=1e-6)
    vector = scorer.arrays["fold_in_matrix"] @ (expected @ scorer.arrays["feature_embeddings"])
    vector *= 1.5 / np.linalg.norm(vector)
    np.testing.assert_allclose(model.vector, vector, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.dismissed.toarray(), unit(history.negative), rtol=1e-6)
