"""Ranking tasks: what a method is given (papers, training interactions) and judged on.

A task is one ranking problem: the papers with training interactions, the candidate papers, the
users x training-papers matrix the methods learn from, the users evaluated and their relevant
candidates. Features are computed lazily with papersift's own ``Featurizer`` and cached per
``FeatureConfig``, so every method that shares a configuration shares the matrices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from papersift.core.features import FeatureConfig, Featurizer
from papersift.core.types import Paper, UserId

IntArray = npt.NDArray[np.int64]


@dataclass
class Features:
    """Feature rows of a task's training papers and candidates, from one fitted featurizer."""

    featurizer: Featurizer
    train: sp.csr_matrix
    candidates: sp.csr_matrix


@dataclass
class RankingTask:
    """One ranking problem: learn from ``train_matrix``, rank ``candidate_papers``.

    Column ``j`` of ``train_matrix`` is ``train_papers[j]``; column ``j`` of ``relevance`` and
    ``mask`` is ``candidate_papers[j]``; row ``i`` of ``relevance`` and ``mask`` is user
    ``eval_users[i]`` (a row of ``train_matrix``).
    """

    name: str
    train_papers: Sequence[Paper]
    candidate_papers: Sequence[Paper]
    #: users x train papers, entries > 0 are interactions; every user of the dataset.
    train_matrix: sp.csr_matrix
    #: Rows of ``train_matrix`` to rank for, ascending.
    eval_users: IntArray
    #: eval users x candidates: the held-out interactions.
    relevance: sp.csr_matrix
    #: eval users x candidates: pairs pushed to the bottom of the ranking (already seen), or None.
    mask: sp.csr_matrix | None = None
    #: Whether the candidates are the training papers themselves (in-matrix).
    candidates_are_train: bool = False
    _features: dict[FeatureConfig, Features] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Check that the matrices agree with the papers and the users.

        Raises:
            ValueError: Naming the first mismatch.
        """
        n_eval = self.eval_users.size
        expected = (n_eval, len(self.candidate_papers))
        if self.train_matrix.shape[1] != len(self.train_papers):
            raise ValueError(
                f"train_matrix has {self.train_matrix.shape[1]} columns "
                f"for {len(self.train_papers)} training papers"
            )
        if self.relevance.shape != expected:
            raise ValueError(f"relevance is {self.relevance.shape}, expected {expected}")
        if self.mask is not None and self.mask.shape != expected:
            raise ValueError(f"mask is {self.mask.shape}, expected {expected}")

    @property
    def user_ids(self) -> list[UserId]:
        """The ids the models know the users by (row ``u`` is ``u<u>``)."""
        return [user_id(row) for row in range(self.train_matrix.shape[0])]

    def features(self, config: FeatureConfig) -> Features:
        """Featurizer fitted on the training papers, and the feature rows of both paper sets."""
        cached = self._features.get(config)
        if cached is None:
            featurizer = Featurizer.fit(self.train_papers, config)
            train = featurizer.transform(self.train_papers)
            candidates = train if self.candidates_are_train else None
            if candidates is None:
                candidates = featurizer.transform(self.candidate_papers)
            cached = Features(featurizer, train, candidates)
            self._features[config] = cached
        return cached

    def for_users(
        self, eval_users: IntArray, relevance: sp.csr_matrix, mask: sp.csr_matrix | None = None
    ) -> RankingTask:
        """The same training data and candidates judged on other users (features are shared)."""
        return RankingTask(
            name=self.name,
            train_papers=self.train_papers,
            candidate_papers=self.candidate_papers,
            train_matrix=self.train_matrix,
            eval_users=eval_users,
            relevance=relevance,
            mask=mask,
            candidates_are_train=self.candidates_are_train,
            _features=self._features,
        )


def user_id(row: int) -> UserId:
    """The id of the user in row ``row`` of the dataset."""
    return UserId(f"u{row}")


def sample_rows(n: int, size: int | None, rng: np.random.Generator) -> IntArray:
    """Ascending positions of a uniform sample of ``size`` of ``n`` rows (all when ``None``)."""
    if size is None or size >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)
