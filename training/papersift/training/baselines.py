"""Content baselines the shipped ranker must beat, scored like a day of new papers.

Every baseline takes the same three inputs and returns a dense ``(users, candidates)`` float32
score matrix (higher is better), computed a chunk of users at a time so the temporaries stay
bounded whatever the number of users:

- ``train_features``: ``(train items, features)`` sparse item features of the papers users have
  interacted with (papersift's ``Featurizer`` output);
- ``candidate_features``: ``(candidates, features)`` item features of the papers to rank, in the
  same feature space;
- ``user_items``: ``(users, train items)`` sparse matrix, entries > 0 where the user interacted
  with the training paper.

A user without any training paper gets all-zero scores from the content baselines.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.svm import LinearSVC

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "per_user_svm_scores",
    "profile_cosine_scores",
    "random_scores",
]

FloatArray = npt.NDArray[np.float32]

DEFAULT_CHUNK_SIZE = 512
"""Users scored at once; bounds the temporaries to about ``chunk_size * n_features`` floats."""


def _check_inputs(
    train_features: sp.spmatrix, candidate_features: sp.spmatrix, user_items: sp.spmatrix
) -> None:
    if train_features.shape[1] != candidate_features.shape[1]:
        raise ValueError(
            f"train_features has {train_features.shape[1]} features but candidate_features "
            f"{candidate_features.shape[1]}; both must come from the same featurizer"
        )
    if user_items.shape[1] != train_features.shape[0]:
        raise ValueError(
            f"user_items has {user_items.shape[1]} item columns but train_features "
            f"{train_features.shape[0]} rows; column j must be training item j"
        )


def _check_chunk_size(chunk_size: int) -> None:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")


def random_scores(
    train_features: sp.spmatrix,
    candidate_features: sp.spmatrix,
    user_items: sp.spmatrix,
    *,
    seed: int | np.random.Generator = 0,
) -> FloatArray:
    """Uniform random scores: the floor every method must clear.

    Args:
        train_features: Item features of the training papers (only checked for shape).
        candidate_features: Item features of the candidates (only their count is used).
        user_items: Users x training papers (only the user count is used).
        seed: Seed or generator; the same seed gives the same scores.

    Returns:
        ``(users, candidates)`` float32 scores in [0, 1).
    """
    _check_inputs(train_features, candidate_features, user_items)
    rng = np.random.default_rng(seed)
    shape = (user_items.shape[0], candidate_features.shape[0])
    return rng.random(shape, dtype=np.float32)


def _row_normalized(matrix: sp.spmatrix) -> sp.csr_matrix:
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    norms = np.sqrt(np.asarray(csr.multiply(csr).sum(axis=1), dtype=np.float64).ravel())
    # Rows without any feature (papers with no text) stay zero instead of dividing by zero.
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ csr)


def profile_cosine_scores(
    train_features: sp.spmatrix,
    candidate_features: sp.spmatrix,
    user_items: sp.spmatrix,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> FloatArray:
    """Cosine between each candidate and the mean feature vector of the user's training papers.

    Args:
        train_features: Item features of the training papers.
        candidate_features: Item features of the candidates.
        user_items: Users x training papers; entries > 0 mark the user's papers (the mean is
            unweighted).
        chunk_size: Users scored at once.

    Returns:
        ``(users, candidates)`` float32 cosines in [-1, 1]; zero for users without papers and
        for candidates without features.
    """
    _check_inputs(train_features, candidate_features, user_items)
    _check_chunk_size(chunk_size)
    items = sp.csr_matrix(train_features, dtype=np.float32)
    candidates = _row_normalized(candidate_features)
    binary = sp.csr_matrix(user_items, dtype=np.float32)
    binary.data = (binary.data > 0).astype(np.float32)
    n_users = binary.shape[0]
    out = np.zeros((n_users, candidates.shape[0]), dtype=np.float32)
    for start in range(0, n_users, chunk_size):
        stop = min(start + chunk_size, n_users)
        # The mean's 1/n factor vanishes in the normalisation, so the sum is enough.
        profiles = _row_normalized(binary[start:stop] @ items)
        out[start:stop] = (candidates @ profiles.T).T.toarray()
    return out


def per_user_svm_scores(
    train_features: sp.spmatrix,
    candidate_features: sp.spmatrix,
    user_items: sp.spmatrix,
    *,
    c: float = 0.01,
    max_negatives: int | None = 5000,
    seed: int = 0,
    max_iter: int = 10_000,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_user: Callable[[], None] | None = None,
) -> FloatArray:
    """arxiv-sanity's ranker: one linear SVM per user, their papers against the rest.

    For each user, a ``LinearSVC`` (balanced class weights) separates the user's training papers
    (positives) from the other training papers (negatives; a uniform sample of
    ``max_negatives`` of them when there are more), and its decision function scores the
    candidates.

    Args:
        train_features: Item features of the training papers.
        candidate_features: Item features of the candidates.
        user_items: Users x training papers; entries > 0 are the user's positives.
        c: The SVM's ``C`` (smaller is more regularised).
        max_negatives: Negatives sampled per user; ``None`` uses all of them.
        seed: Seeds the negative sample of user row ``u`` as ``(seed, u)``, so a user's scores do
            not depend on the other users passed along.
        max_iter: Iteration cap of the solver.
        chunk_size: Users whose weight vectors are held at once.
        on_user: Called after each user (progress reporting).

    Returns:
        ``(users, candidates)`` float32 decision values; zero for users without papers or
        without any negative.
    """
    _check_inputs(train_features, candidate_features, user_items)
    _check_chunk_size(chunk_size)
    if max_negatives is not None and max_negatives < 1:
        raise ValueError(f"max_negatives must be at least 1 or None, got {max_negatives}")
    items = sp.csr_matrix(train_features, dtype=np.float64)
    candidates = sp.csr_matrix(candidate_features, dtype=np.float64)
    positives_of = sp.csr_matrix(user_items)
    n_users, n_items = positives_of.shape
    out = np.zeros((n_users, candidates.shape[0]), dtype=np.float32)
    for start in range(0, n_users, chunk_size):
        stop = min(start + chunk_size, n_users)
        weights = np.zeros((stop - start, items.shape[1]), dtype=np.float64)
        biases = np.zeros(stop - start, dtype=np.float64)
        fitted = np.zeros(stop - start, dtype=bool)
        for user in range(start, stop):
            row = positives_of[user]
            positives = row.indices[row.data > 0]
            if positives.size and positives.size < n_items:
                negatives = _negative_sample(n_items, positives, max_negatives, (seed, user))
                rows = np.concatenate([positives, negatives])
                labels = np.concatenate(
                    [np.ones(positives.size, dtype=np.int64), np.zeros(negatives.size, np.int64)]
                )
                model = LinearSVC(C=c, class_weight="balanced", max_iter=max_iter, random_state=0)
                model.fit(items[rows], labels)
                weights[user - start] = model.coef_[0]
                biases[user - start] = model.intercept_[0]
                fitted[user - start] = True
            if on_user is not None:
                on_user()
        chunk = np.asarray(candidates @ weights.T).T + biases[:, None]
        chunk[~fitted] = 0.0
        out[start:stop] = chunk
    return out


def _negative_sample(
    n_items: int,
    positives: npt.NDArray[np.int32],
    max_negatives: int | None,
    seed: tuple[int, int],
) -> npt.NDArray[np.int64]:
    is_negative = np.ones(n_items, dtype=bool)
    is_negative[positives] = False
    negatives = np.flatnonzero(is_negative)
    if max_negatives is None or negatives.size <= max_negatives:
        return negatives
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(negatives, size=max_negatives, replace=False))
