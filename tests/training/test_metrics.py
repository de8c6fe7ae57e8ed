"""Ranking metrics against examples computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from papersift.training.metrics import RankingMetrics, ranking_metrics, recall_at_k


def rel(rows: list[list[int]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


def test_single_user_by_hand() -> None:
    # Ranking by score: items 3, 1, 0, 2, 4. Relevant: items 1 and 2 (ranks 2 and 4).
    scores = np.array([[0.3, 0.8, 0.2, 0.9, 0.1]], dtype=np.float32)
    relevance = rel([[0, 1, 1, 0, 0]])
    m = ranking_metrics(scores, relevance, ks=(1, 2, 4))
    assert m["precision@1"] == 0.0
    assert m["precision@2"] == pytest.approx(0.5)
    assert m["precision@4"] == pytest.approx(0.5)
    assert m["recall@1"] == 0.0
    assert m["recall@2"] == pytest.approx(0.5)
    assert m["recall@4"] == pytest.approx(1.0)
    ideal = 1.0 + 1.0 / math.log2(3)
    assert m["ndcg@2"] == pytest.approx((1.0 / math.log2(3)) / ideal)
    assert m["ndcg@4"] == pytest.approx((1.0 / math.log2(3) + 1.0 / math.log2(5)) / ideal)
    # Pairs (relevant, irrelevant): item 1 beats 0 and 4 but not 3; item 2 beats only 4.
    assert m["auc"] == pytest.approx(3 / 6)
    assert m["users"] == 1.0


def test_recall_divides_by_held_out_count_not_k() -> None:
    scores = np.array([[4.0, 3.0, 2.0, 1.0]], dtype=np.float32)
    relevance = rel([[1, 0, 1, 1]])
    # Top 1 holds one of three relevant items: recall 1/3 (not 1/min(1, 3) = 1).
    assert recall_at_k(scores, relevance, 1) == pytest.approx(1 / 3)


def test_users_without_relevant_items_are_left_out() -> None:
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.2]], dtype=np.float32)
    relevance = rel([[1, 0], [1, 0], [0, 0]])
    m = ranking_metrics(scores, relevance, ks=(1,))
    assert m["users"] == 2.0
    assert m["recall@1"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(0.5)


def test_all_relevant_user_has_no_auc_but_counts_elsewhere() -> None:
    scores = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    relevance = rel([[1, 1], [0, 1]])
    m = ranking_metrics(scores, relevance, ks=(1,))
    assert m["auc"] == pytest.approx(1.0)
    assert m["recall@1"] == pytest.approx((0.5 + 1.0) / 2)


def test_ties_count_half_in_auc_and_break_by_index_in_top_k() -> None:
    scores = np.zeros((1, 4), dtype=np.float32)
    relevance = rel([[0, 0, 0, 1]])
    m = ranking_metrics(scores, relevance, ks=(1, 4))
    assert m["auc"] == pytest.approx(0.5)
    assert m["recall@1"] == 0.0
    assert m["recall@4"] == 1.0


def test_k_larger_than_candidates() -> None:
    scores = np.array([[0.1, 0.9]], dtype=np.float32)
    relevance = rel([[1, 0]])
    m = ranking_metrics(scores, relevance, ks=(5,))
    assert m["recall@5"] == 1.0
    assert m["precision@5"] == pytest.approx(1 / 5)
    assert m["ndcg@5"] == pytest.approx(1.0 / math.log2(3))


def test_chunking_does_not_change_results() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(37, 50)).astype(np.float32)
    relevance = sp.csr_matrix((rng.random((37, 50)) < 0.1).astype(np.float32))
    whole = ranking_metrics(scores, relevance, ks=(5, 10), chunk_size=1000)
    chunked = ranking_metrics(scores, relevance, ks=(5, 10), chunk_size=4)
    assert whole == pytest.approx(chunked)
    acc = RankingMetrics(ks=(5, 10))
    for start in range(0, 37, 10):
        acc.add(scores[start : start + 10], relevance[start : start + 10])
    assert acc.result() == pytest.approx(whole)


def test_random_scores_have_auc_near_half() -> None:
    rng = np.random.default_rng(1)
    scores = rng.random((400, 200)).astype(np.float32)
    relevance = sp.csr_matrix((rng.random((400, 200)) < 0.05).astype(np.float32))
    assert ranking_metrics(scores, relevance)["auc"] == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    ("scores", "relevance", "message"),
    [
        (np.zeros((2, 3)), rel([[1, 0]]), "shape"),
        (np.array([[np.nan, 1.0]]), rel([[1, 0]]), "NaN"),
    ],
)
def test_refuses_bad_input(scores: np.ndarray, relevance: sp.csr_matrix, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ranking_metrics(scores, relevance)


def test_refuses_bad_cutoffs() -> None:
    with pytest.raises(ValueError, match="ks"):
        RankingMetrics(ks=(0,))
