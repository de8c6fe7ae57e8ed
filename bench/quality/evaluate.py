"""Judge one method on one task: fit, score the eval users a chunk at a time, accumulate metrics.

Scores are produced and judged a chunk of users at a time, so memory stays bounded by
``chunk_size * candidates`` whatever the number of users (the in-matrix task ranks all 25,975
papers for every user).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from bench.quality.methods import FloatArray, Method, Ranker
from bench.quality.tasks import IntArray, RankingTask, sample_rows
from papersift.training.metrics import RankingMetrics

DEFAULT_CHUNK_SIZE = 512
"""Eval users scored and judged at once."""

MASKED_SCORE = np.float32(np.finfo(np.float32).min)
"""The score of a pair pushed to the bottom: finite (the metrics refuse infinities) and below
any real score."""


@dataclass(frozen=True)
class MethodResult:
    """A method's metrics on one task (means over its evaluated users) and its timings."""

    method: str
    metrics: dict[str, float]
    users: int
    fit_seconds: float
    score_seconds: float
    #: The same metrics on the users of the subsampled method (see ``evaluate``), if any.
    paired_metrics: dict[str, float] = field(default_factory=dict)
    #: What training chose, when the method reports it (e.g. epochs, blend weight).
    details: dict[str, float] = field(default_factory=dict)


def apply_mask(scores: FloatArray, mask_rows: sp.spmatrix) -> FloatArray:
    """Push the masked (row, candidate) pairs of a chunk below every other candidate.

    ``mask_rows`` is the chunk's rows of a task's ``mask`` (sparse, entries > 0 are masked).
    """
    coo = sp.coo_matrix(mask_rows)
    hit = coo.data > 0
    scores[coo.row[hit], coo.col[hit]] = MASKED_SCORE
    return scores


@dataclass(frozen=True)
class Judgement:
    """Mean metrics over the users judged, and over a subset of them when one was asked for."""

    metrics: dict[str, float]
    users: int
    seconds: float
    subset_metrics: dict[str, float] = field(default_factory=dict)


def judge(
    ranker: Ranker,
    task: RankingTask,
    rows: IntArray,
    ks: Sequence[int],
    *,
    subset: IntArray | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Judgement:
    """Metrics of ``ranker`` over the eval users at positions ``rows`` of ``task``.

    ``subset`` (positions too) gets metrics of its own from the same scores, so that two
    methods judged on different numbers of users can still be compared on the same ones.
    """
    accumulator = RankingMetrics(ks, with_auc=False)
    paired = RankingMetrics(ks, with_auc=False) if subset is not None else None
    seconds = 0.0
    for first in range(0, rows.size, chunk_size):
        chunk = rows[first : first + chunk_size]
        start = time.perf_counter()
        scores = np.array(ranker.score(chunk), dtype=np.float32)
        seconds += time.perf_counter() - start
        if task.mask is not None:
            apply_mask(scores, task.mask[chunk])
        relevance = task.relevance[chunk]
        accumulator.add(scores, relevance)
        if paired is not None and subset is not None:
            inside = np.isin(chunk, subset)
            if inside.any():
                paired.add(scores[inside], relevance[inside])
    return Judgement(
        metrics=accumulator.result(),
        users=accumulator.n_users,
        seconds=seconds,
        subset_metrics={} if paired is None else paired.result(),
    )


def evaluate(
    method: Method,
    task: RankingTask,
    ks: Sequence[int],
    *,
    seed: int = 0,
    paired_users: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> MethodResult:
    """Fit ``method`` on ``task`` and judge it on (a sample of) the task's eval users.

    Args:
        method: What to judge; when it has ``max_users``, that many eval users are sampled
            (seeded by ``seed``).
        task: The ranking problem.
        ks: Cut-offs of recall@k and nDCG@k.
        seed: Seed of the user samples.
        paired_users: Also report the metrics on the sample of this many users that a method
            with ``max_users == paired_users`` is judged on (same seed, so the same users).
        chunk_size: Users scored and judged at once.

    Returns:
        Metrics from :class:`papersift.training.metrics.RankingMetrics` and the wall time of
        ``fit`` and of scoring.
    """
    n = task.eval_users.size
    rows = sample_rows(n, method.max_users, np.random.default_rng(seed))
    subset = (
        sample_rows(n, paired_users, np.random.default_rng(seed))
        if paired_users is not None
        else None
    )
    start = time.perf_counter()
    ranker = method.fit(task)
    fit_seconds = time.perf_counter() - start
    judged = judge(ranker, task, rows, ks, subset=subset, chunk_size=chunk_size)
    return MethodResult(
        method=method.name,
        metrics=judged.metrics,
        users=judged.users,
        fit_seconds=fit_seconds,
        score_seconds=judged.seconds,
        paired_metrics=judged.subset_metrics,
        details=dict(getattr(ranker, "details", {})),
    )
