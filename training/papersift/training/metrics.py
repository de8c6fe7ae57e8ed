"""Ranking metrics over candidate sets, vectorised over users.

Every metric ranks the candidates of each user by score (descending) and compares the ranking
with a binary relevance matrix (``relevance[u, j] > 0`` means candidate ``j`` is relevant to user
``u``). Users without any relevant candidate are left out of every mean, as in the item
cold-start protocol of ``shared/data/README.md``.

Definitions (binary relevance, ``n_u`` = number of relevant candidates of user ``u``):

- ``precision@k`` = hits in the top k / k
- ``recall@k`` = hits in the top k / ``n_u`` (the protocol's definition; not ``min(k, n_u)``)
- ``ndcg@k`` = DCG@k / ideal DCG@k, gains 1 and discount ``1 / log2(rank + 1)``
- ``auc`` = fraction of (relevant, irrelevant) pairs ordered correctly, ties counting one half;
  users whose candidates are all relevant have no AUC and are left out of its mean.

Ties inside the top k are broken by candidate index (lower first), so results are
deterministic; real models almost never produce exact ties.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

DEFAULT_KS: tuple[int, ...] = (10, 20, 50, 100, 200)
"""The cut-offs reported when none are given."""

DEFAULT_CHUNK_SIZE = 1024
"""Users ranked at once; bounds the temporary memory to ``chunk_size * n_candidates`` ints."""


class RankingMetrics:
    """Accumulates per-user metrics chunk by chunk, for score matrices too large to hold at once.

    Example:
        >>> acc = RankingMetrics(ks=(10, 100))
        >>> for start in range(0, n_users, 512):
        ...     acc.add(score_chunk(start), relevance[start : start + 512])
        >>> acc.result()["recall@100"]
    """

    def __init__(self, ks: Sequence[int] = DEFAULT_KS, *, with_auc: bool = True) -> None:
        """Start an empty accumulator.

        Args:
            ks: Cut-offs, each at least 1.
            with_auc: Also compute AUC (needs a full ranking of every user's candidates).

        Raises:
            ValueError: If a cut-off is smaller than 1.
        """
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be non-empty positive cut-offs, got {list(ks)}")
        self.ks: tuple[int, ...] = tuple(sorted(set(int(k) for k in ks)))
        self.with_auc = with_auc
        self._sums: dict[str, float] = {}
        self._users = 0
        self._auc_sum = 0.0
        self._auc_users = 0

    @property
    def n_users(self) -> int:
        """Users counted so far (those with at least one relevant candidate)."""
        return self._users

    def add(self, scores: np.ndarray, relevance: sp.csr_matrix) -> None:
        """Add the users of one chunk.

        Args:
            scores: Dense ``(users, candidates)`` scores, higher is better; finite.
            relevance: ``(users, candidates)`` sparse matrix, entries > 0 are relevant.

        Raises:
            ValueError: On mismatched shapes or non-finite scores.
        """
        scores = np.asarray(scores)
        if scores.ndim != 2:
            raise ValueError(f"scores must be 2-D (users, candidates), got shape {scores.shape}")
        if relevance.shape != scores.shape:
            raise ValueError(
                f"relevance shape {relevance.shape} differs from scores shape {scores.shape}"
            )
        if not np.isfinite(scores).all():
            raise ValueError("scores contain NaN or infinite values")
        positive = np.asarray(sp.csr_matrix(relevance).todense()) > 0
        n_pos_all = positive.sum(axis=1)
        keep = n_pos_all > 0
        if not keep.any():
            return
        scores = scores[keep]
        positive = positive[keep]
        n_pos = n_pos_all[keep].astype(np.float64)
        n_users, n_items = scores.shape
        k_max = min(self.ks[-1], n_items)

        # A stable argsort of the negated scores ranks ties by candidate index.
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k_max]
        hits = np.take_along_axis(positive, order, axis=1).astype(np.float64)
        cum_hits = np.cumsum(hits, axis=1)
        discounts = 1.0 / np.log2(np.arange(2, k_max + 2, dtype=np.float64))
        cum_dcg = np.cumsum(hits * discounts, axis=1)
        cum_ideal = np.cumsum(discounts)
        for k in self.ks:
            kk = min(k, n_items)
            h = cum_hits[:, kk - 1]
            ideal = cum_ideal[np.minimum(n_pos, kk).astype(np.int64) - 1]
            self._add_sum(f"precision@{k}", float((h / k).sum()))
            self._add_sum(f"recall@{k}", float((h / n_pos).sum()))
            self._add_sum(f"ndcg@{k}", float((cum_dcg[:, kk - 1] / ideal).sum()))
        self._users += n_users

        if self.with_auc:
            n_neg = n_items - n_pos
            has_auc = n_neg > 0
            if has_auc.any():
                # Mann-Whitney: AUC = (sum of positive ranks - n_pos (n_pos + 1) / 2) / (pos neg).
                ranks = rankdata(scores, axis=1, method="average")
                pos_rank_sum = np.where(positive, ranks, 0.0).sum(axis=1)
                auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2) / np.maximum(n_pos * n_neg, 1)
                self._auc_sum += float(auc[has_auc].sum())
                self._auc_users += int(has_auc.sum())

    def _add_sum(self, name: str, value: float) -> None:
        self._sums[name] = self._sums.get(name, 0.0) + value

    def result(self) -> dict[str, float]:
        """Means over the users added so far.

        Returns:
            ``{"precision@10": ..., "recall@10": ..., "ndcg@10": ..., ..., "auc": ...,
            "users": n}``; every metric is NaN when no user had a relevant candidate.
        """
        out: dict[str, float] = {}
        for k in self.ks:
            for name in ("precision", "recall", "ndcg"):
                key = f"{name}@{k}"
                out[key] = self._sums.get(key, 0.0) / self._users if self._users else float("nan")
        if self.with_auc:
            out["auc"] = self._auc_sum / self._auc_users if self._auc_users else float("nan")
        out["users"] = float(self._users)
        return out


def ranking_metrics(
    scores: np.ndarray,
    relevance: sp.csr_matrix,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    with_auc: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, float]:
    """Mean precision@k, recall@k, nDCG@k and AUC over users with a relevant candidate.

    Args:
        scores: Dense ``(users, candidates)`` float scores (float32 is fine), higher is better.
        relevance: Sparse ``(users, candidates)`` matrix; entries > 0 are relevant.
        ks: Cut-offs.
        with_auc: Also compute AUC.
        chunk_size: Users processed at once (bounds temporary memory).

    Returns:
        A dict such as ``{"precision@10": 0.1, "recall@100": 0.6, "ndcg@10": 0.2, "auc": 0.9,
        "users": 1500.0}``.

    Raises:
        ValueError: On mismatched shapes, non-finite scores or bad cut-offs.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if scores.ndim != 2 or relevance.shape != scores.shape:
        raise ValueError(
            f"scores {scores.shape} and relevance {relevance.shape} must be the same 2-D shape"
        )
    acc = RankingMetrics(ks, with_auc=with_auc)
    rel = sp.csr_matrix(relevance)
    for start in range(0, scores.shape[0], chunk_size):
        stop = start + chunk_size
        acc.add(scores[start:stop], rel[start:stop])
    return acc.result()


def recall_at_k(scores: np.ndarray, relevance: sp.csr_matrix, k: int) -> float:
    """Mean recall@k (hits in the top k / relevant count) over users with a relevant candidate."""
    return ranking_metrics(scores, relevance, (k,), with_auc=False)[f"recall@{k}"]
