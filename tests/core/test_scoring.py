"""The scorer on hand-made arrays: checks, strategies, fold-in, negatives, determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from papersift.core.scoring import FORMAT, Scorer, UserHistory

# Four features: 0 and 1 are topic A words, 2 and 3 topic B words. Two components: A and B.
EMBEDDINGS = np.array([[1.0, 0.0], [0.8, 0.1], [0.0, 1.0], [0.1, 0.9]], dtype=np.float32)
A_PAPERS = [[1.0, 0.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
B_PAPERS = [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.6, 0.8], [0.0, 0.0, 0.0, 1.0]]
DAY = sp.csr_matrix(np.array(A_PAPERS + B_PAPERS, dtype=np.float32))
IS_A = np.array([True, True, True, False, False, False])


def arrays() -> dict[str, np.ndarray]:
    profiles = sp.csr_matrix(np.array([[0.7, 0.7, 0.0, 0.0]], dtype=np.float32))
    return {
        "feature_embeddings": EMBEDDINGS.copy(),
        "feature_biases": np.zeros(4, dtype=np.float32),
        "user_embeddings": np.array([[1.0, -0.2]], dtype=np.float32),
        "user_biases": np.zeros(1, dtype=np.float32),
        "fold_in_matrix": np.eye(2, dtype=np.float32),
        "profile_data": profiles.data,
        "profile_indices": profiles.indices.astype(np.int32),
        "profile_indptr": profiles.indptr.astype(np.int64),
    }


def params(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": FORMAT,
        "n_features": 4,
        "n_components": 2,
        "blend_weight": 0.3,
        "negative_weight": 0.5,
        "fold_in_norm": 1.0,
    }
    base.update(overrides)
    return base


def scorer(**overrides: Any) -> Scorer:
    s = Scorer(arrays(), params(**overrides), ["alice"])
    s.validate()
    return s


def history(pos: list[list[float]], neg: list[list[float]] | None = None) -> UserHistory:
    negative = (
        sp.csr_matrix(np.array(neg, dtype=np.float32))
        if neg
        else sp.csr_matrix((0, 4), dtype=np.float32)
    )
    return UserHistory(
        positive=sp.csr_matrix(np.array(pos, dtype=np.float32).reshape(-1, 4)),
        positive_weights=np.ones(len(pos), dtype=np.float32),
        negative=negative,
    )


def test_valid_arrays_pass() -> None:
    s = scorer()
    assert s.n_features == 4
    assert s.has_user("alice")
    assert not s.has_user("bob")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("feature_embeddings", np.zeros((3, 2), dtype=np.float32), "feature_embeddings"),
        ("user_embeddings", np.zeros((1, 3), dtype=np.float32), "user_embeddings"),
        ("fold_in_matrix", np.full((2, 2), np.nan, dtype=np.float32), "NaN"),
        ("feature_biases", np.array([0, 0, np.inf, 0], dtype=np.float32), "feature_biases"),
        ("profile_indices", np.array([0, 7], dtype=np.int32), "out of range"),
        ("profile_indices", np.array([0.0, 1.0], dtype=np.float32), "dtype"),
    ],
)
def test_validate_refuses_bad_arrays(name: str, value: np.ndarray, message: str) -> None:
    bad = arrays()
    bad[name] = value
    with pytest.raises(ValueError, match=message):
        Scorer(bad, params(), ["alice"]).validate()


def test_validate_refuses_missing_arrays_and_bad_params() -> None:
    partial = arrays()
    del partial["fold_in_matrix"]
    with pytest.raises(ValueError, match="missing arrays: fold_in_matrix"):
        Scorer(partial, params(), ["alice"]).validate()
    with pytest.raises(ValueError, match="format"):
        Scorer(arrays(), params(format="other"), ["alice"]).validate()
    with pytest.raises(ValueError, match="blend_weight"):
        Scorer(arrays(), params(blend_weight=1.5), ["alice"]).validate()
    with pytest.raises(ValueError, match="negative_weight"):
        Scorer(arrays(), params(negative_weight=float("nan")), ["alice"]).validate()
    with pytest.raises(ValueError, match="user_embeddings"):
        Scorer(arrays(), params(), ["alice", "bob"]).validate()
    with pytest.raises(ValueError, match="duplicates"):
        Scorer(arrays(), params(), ["alice", "alice"]).validate()


def test_prepare_items_checks_columns() -> None:
    with pytest.raises(ValueError, match="expected"):
        scorer().prepare_items(sp.csr_matrix((2, 5), dtype=np.float32))


def test_personal_fold_in_and_no_signal() -> None:
    s = scorer()
    items = s.prepare_items(DAY)
    personal = s.score(items, user_id="alice", history=None)
    assert personal is not None and personal.shape == (6,) and personal.dtype == np.float32
    assert personal[IS_A].min() > personal[~IS_A].max()
    folded = s.score(items, user_id="bob", history=history([[0.0, 0.0, 1.0, 0.0]]))
    assert folded is not None
    assert folded[~IS_A].min() > folded[IS_A].max()
    assert s.score(items, user_id="bob", history=None) is None
    assert s.score(items, user_id=None, history=UserHistory.empty(4)) is None
    only_dismissed = history([], [[1.0, 0.0, 0.0, 0.0]])
    assert s.score(items, user_id=None, history=only_dismissed) is None


def test_fold_in_topic_a_reader_ranks_topic_a_first_for_any_blend() -> None:
    for w in (0.0, 0.5, 1.0):
        s = scorer(blend_weight=w)
        items = s.prepare_items(DAY)
        got = s.score(items, user_id=None, history=history([[0.9, 0.1, 0.0, 0.0]]))
        assert got is not None
        assert got[IS_A].min() > got[~IS_A].max(), w


def test_history_overrides_the_stored_profile_of_a_known_user() -> None:
    s = scorer(blend_weight=1.0)
    items = s.prepare_items(DAY)
    moved = s.score(items, user_id="alice", history=history([[0.0, 0.0, 0.0, 1.0]]))
    assert moved is not None
    assert int(np.argmax(moved)) == 5


def test_negatives_push_down_similar_papers() -> None:
    s = scorer(blend_weight=1.0)
    items = s.prepare_items(DAY)
    liked = [[0.7, 0.7, 0.0, 0.0], [0.0, 0.0, 0.7, 0.7]]
    plain = s.score(items, user_id=None, history=history(liked))
    pushed = s.score(items, user_id=None, history=history(liked, [[0.0, 0.0, 0.0, 1.0]]))
    assert plain is not None and pushed is not None
    # Paper 5 (feature 3 only) is most like the dismissed paper: it falls from the top half.
    assert int(np.argsort(-pushed)[-1]) == 5
    assert pushed[5] - pushed[3] < plain[5] - plain[3]
    cf_only = scorer(blend_weight=0.0)
    cf_items = cf_only.prepare_items(DAY)
    cf_pushed = cf_only.score(cf_items, user_id=None, history=history(liked, [[0, 0, 0, 1.0]]))
    assert cf_pushed is not None
    assert cf_pushed[IS_A].min() > cf_pushed[~IS_A].max()


def test_history_is_checked() -> None:
    s = scorer()
    items = s.prepare_items(DAY)
    bad = UserHistory(
        positive=sp.csr_matrix(np.ones((2, 4), dtype=np.float32)),
        positive_weights=np.ones(3, dtype=np.float32),
        negative=sp.csr_matrix((0, 4), dtype=np.float32),
    )
    with pytest.raises(ValueError, match="positive_weights"):
        s.score(items, user_id=None, history=bad)
    wrong_width = history([[1.0, 0.0, 0.0, 0.0]])
    wrong_width = UserHistory(
        sp.csr_matrix((1, 3), dtype=np.float32), wrong_width.positive_weights, wrong_width.negative
    )
    with pytest.raises(ValueError, match=r"history\.positive"):
        s.score(items, user_id=None, history=wrong_width)


def test_scoring_is_deterministic_and_empty_days_work() -> None:
    s = scorer()
    items = s.prepare_items(DAY)
    h = history([[0.5, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0]])
    first = s.score(items, user_id=None, history=h)
    second = scorer().score(scorer().prepare_items(DAY), user_id=None, history=h)
    assert first is not None and second is not None
    assert np.array_equal(first, second)
    empty = s.prepare_items(sp.csr_matrix((0, 4), dtype=np.float32))
    got = s.score(empty, user_id="alice", history=None)
    assert got is not None and got.shape == (0,)
