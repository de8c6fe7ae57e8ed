"""The benchmark's experiments: item cold start per fold, in-matrix, new users, SVM tuning."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bench.quality.citeulike import Citeulike, FoldSplit, InMatrixSplit, fold_split
from bench.quality.evaluate import judge
from bench.quality.methods import FloatArray, LightFMMethod, ScorerRanker, SvmMethod
from bench.quality.tasks import IntArray, RankingTask, sample_rows
from papersift.core.features import FeatureConfig
from papersift.training.baselines import profile_cosine_scores

#: History sizes given to new users at ranking time; ``None`` is their whole training library.
NEW_USER_HISTORY: tuple[int | None, ...] = (1, 3, 10, None)
#: A new user must have more training papers than the largest history given.
NEW_USER_MIN_PAPERS = 11
NEW_USER_CUTOFF = 100


def cold_start_task(
    data: Citeulike, split: FoldSplit, name: str, *, users: int | None, seed: int
) -> RankingTask:
    """The fold's ranking problem, on a seeded sample of ``users`` eval users (all if None)."""
    rows = sample_rows(split.eval_users.size, users, np.random.default_rng(seed))
    eval_users = split.eval_users[rows]
    return RankingTask(
        name=name,
        train_papers=[data.papers[i] for i in split.train_items.tolist()],
        candidate_papers=[data.papers[i] for i in split.test_items.tolist()],
        train_matrix=split.train_matrix,
        eval_users=eval_users,
        relevance=sp.csr_matrix(split.test_matrix[eval_users]),
    )


def in_matrix_task(
    data: Citeulike, split: InMatrixSplit, *, users: int | None, seed: int
) -> RankingTask:
    """All papers are candidates; each user's training papers are masked from their ranking."""
    rows = sample_rows(split.eval_users.size, users, np.random.default_rng(seed))
    eval_users = split.eval_users[rows]
    return RankingTask(
        name="in-matrix",
        train_papers=data.papers,
        candidate_papers=data.papers,
        train_matrix=split.train_matrix,
        eval_users=eval_users,
        relevance=sp.csr_matrix(split.test_matrix[eval_users]),
        mask=sp.csr_matrix(split.train_matrix[eval_users]),
        candidates_are_train=True,
    )


@dataclass(frozen=True)
class SvmTuning:
    """The ``C`` chosen for the SVM baseline and the inner-validation recall@100 of each ``C``."""

    c: float
    recall_by_c: dict[float, float]
    users: int
    seconds: float


def tune_svm_c(
    data: Citeulike,
    split: FoldSplit,
    grid: Sequence[float],
    *,
    users: int,
    seed: int,
    features: FeatureConfig,
) -> SvmTuning:
    """Pick the SVM's ``C`` by recall@100 on an inner cold-start split of the fold's training data.

    A seeded fifth of the fold's training papers become inner candidates, so the fold's own
    candidates are never looked at.
    """
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 31])
    inner = rng.permutation(split.train_items)[: max(1, split.train_items.size // 5)]
    train_only = Citeulike(
        papers=data.papers,
        user_items=_zero_columns(data.user_items, split.test_items),
        vocabulary=data.vocabulary,
    )
    inner_split = fold_split(train_only, inner)
    task = cold_start_task(train_only, inner_split, "SVM tuning", users=users, seed=seed)
    rows = np.arange(task.eval_users.size, dtype=np.int64)
    recall: dict[float, float] = {}
    for c in grid:
        ranker = SvmMethod(c=c, seed=seed, features=features, progress=False).fit(task)
        recall[c] = judge(ranker, task, rows, (100,)).metrics["recall@100"]
    # Ties (and tasks too small to judge, NaN) go to the most regularised C.
    best = max(grid, key=lambda c: (np.nan_to_num(recall[c], nan=-1.0), -c))
    return SvmTuning(best, recall, int(rows.size), time.perf_counter() - start)


def _zero_columns(matrix: sp.csr_matrix, columns: IntArray) -> sp.csr_matrix:
    keep = np.ones(matrix.shape[1], dtype=np.float32)
    keep[columns] = 0.0
    result = sp.csr_matrix(matrix @ sp.diags(keep))
    result.eliminate_zeros()
    return result


@dataclass(frozen=True)
class NewUserRow:
    """recall@100 of one group of users given one history at ranking time."""

    group: str
    history: str
    shipped: float
    cosine: float
    users: int


@dataclass(frozen=True)
class NewUserResult:
    """The new-user experiment on one fold."""

    rows: list[NewUserRow]
    held_out: int
    fit_seconds: float


class _CosineRanker:
    """Profile cosine from an explicit per-user list of training papers."""

    def __init__(self, task: RankingTask, features: FeatureConfig, history: sp.csr_matrix) -> None:
        self._features = task.features(features)
        self._history = history

    def score(self, rows: IntArray) -> FloatArray:
        feats = self._features
        return profile_cosine_scores(feats.train, feats.candidates, self._history[rows])


def new_user_experiment(
    data: Citeulike,
    split: FoldSplit,
    method: LightFMMethod,
    *,
    share: float,
    trained_users: int | None,
    seed: int,
) -> NewUserResult:
    """Hold users out of training entirely, then rank for them from a few of their papers.

    A seeded ``share`` of the users with at least :data:`NEW_USER_MIN_PAPERS` training papers
    is left out of the model. At ranking time each gets the first 1, 3, 10 (and all) papers of a
    seeded shuffle of their training library, through the server's fold-in path
    (``Scorer.score(items, user_id=None, history=...)``), with the profile cosine from the same
    papers alongside. The users kept in the model (a sample of ``trained_users``) are ranked by
    ``user_id`` for reference, all of them and those with as many papers as the held-out ones.
    """
    counts = np.diff(split.train_matrix.indptr)
    has_test = np.diff(split.test_matrix.indptr) > 0
    eligible = np.flatnonzero(counts >= NEW_USER_MIN_PAPERS)
    rng = np.random.default_rng([seed, 7])
    n_held = min(eligible.size, max(1, round(share * eligible.size)))
    held = np.sort(rng.choice(eligible, size=n_held, replace=False)).astype(np.int64)
    is_held = np.zeros(split.train_matrix.shape[0], dtype=bool)
    is_held[held] = True
    held_eval = held[has_test[held]]
    trained_eval = np.flatnonzero(~is_held & has_test & (counts > 0)).astype(np.int64)
    trained_eval = trained_eval[sample_rows(trained_eval.size, trained_users, rng)]

    task = cold_start_task(data, split, "new users", users=None, seed=seed)
    # Rows of the users in the model only: the held-out users' rows are emptied.
    in_model = sp.csr_matrix(sp.diags((~is_held).astype(np.float32)) @ split.train_matrix)
    in_model.eliminate_zeros()
    start = time.perf_counter()
    scorer = method.train(task, in_model).scorer
    fit_seconds = time.perf_counter() - start

    new_task = task.for_users(held_eval, sp.csr_matrix(split.test_matrix[held_eval]))
    shuffled = {
        int(user): np.random.default_rng([seed, 11, int(user)]).permutation(
            split.train_matrix[user].indices
        )
        for user in held_eval
    }
    all_rows = np.arange(held_eval.size, dtype=np.int64)
    rows: list[NewUserRow] = []
    for size in NEW_USER_HISTORY:

        def history_of(user: int, size: int | None = size) -> IntArray:
            return shuffled[user][:size].astype(np.int64)

        ranker = ScorerRanker(
            new_task, scorer, method.features, personal=False, history_of=history_of
        )
        shipped = judge(ranker, new_task, all_rows, (NEW_USER_CUTOFF,))
        lists = [history_of(int(user)) for user in held_eval]
        cosine_ranker = _CosineRanker(new_task, method.features, _rows_matrix(lists, task))
        cosine = judge(cosine_ranker, new_task, all_rows, (NEW_USER_CUTOFF,))
        label = "all training papers" if size is None else f"first {size}"
        rows.append(
            NewUserRow(
                group="new (held out of training)",
                history=label,
                shipped=shipped.metrics[f"recall@{NEW_USER_CUTOFF}"],
                cosine=cosine.metrics[f"recall@{NEW_USER_CUTOFF}"],
                users=shipped.users,
            )
        )

    # Heavy users (as many papers as the held-out ones) are the like-for-like reference.
    heavy = trained_eval[counts[trained_eval] >= NEW_USER_MIN_PAPERS]
    for group, users in (
        ("trained (in the model)", trained_eval),
        (f"trained, >= {NEW_USER_MIN_PAPERS} training papers", heavy),
    ):
        trained_task = task.for_users(users, sp.csr_matrix(split.test_matrix[users]))
        trained_rows = np.arange(users.size, dtype=np.int64)
        personal = ScorerRanker(trained_task, scorer, method.features, personal=True)
        shipped = judge(personal, trained_task, trained_rows, (NEW_USER_CUTOFF,))
        lists = [split.train_matrix[user].indices.astype(np.int64) for user in users]
        cosine_ranker = _CosineRanker(trained_task, method.features, _rows_matrix(lists, task))
        cosine = judge(cosine_ranker, trained_task, trained_rows, (NEW_USER_CUTOFF,))
        rows.append(
            NewUserRow(
                group=group,
                history="all training papers",
                shipped=shipped.metrics[f"recall@{NEW_USER_CUTOFF}"],
                cosine=cosine.metrics[f"recall@{NEW_USER_CUTOFF}"],
                users=shipped.users,
            )
        )
    return NewUserResult(rows=rows, held_out=int(held.size), fit_seconds=fit_seconds)


def _rows_matrix(lists: Sequence[IntArray], task: RankingTask) -> sp.csr_matrix:
    lengths = [len(items) for items in lists]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    data = np.ones(indices.size, dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(lists), task.train_matrix.shape[1]))
