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
import scipy.sparse as sp  # type: ignore[import-untyped]

from bench.quality.methods import FloatArray, Method, Ranker
from bench.quality.tasks import IntArray, RankingTask, sample_rows
from papersift.training.metrics import RankingMetrics

DEFAULT_CHUNK_SIZE = 512
"""Eval users scored and judged at once."""

# Finite (the metrics refuse infinities) and below any real score.
_MASKED = np.float32(np.finfo(np.float32).min)


@dataclass(frozen=True)
class MethodResult:
    """A method's metrics on one task (means over its evaluated users) and its timings."""

    method: str
    metrics: dict[str, float]
    users: int
    fit_seconds: float
    score_seconds: float
    #: What training chose, when the method reports it (e.g. epochs, blend weight).
    details: dict[str, float] = field(default_factory=dict)


def apply_mask(scores: FloatArray, mask_rows: sp.spmatrix) -> FloatArray:
    """Push the masked (row, candidate) pairs of a chunk below every other candidate.

    ``mask_rows`` is the chunk's rows of a task's ``mask`` (sparse, entries > 0 are masked).
    """
    coo = sp.coo_matrix(mask_rows)
    hit = coo.data > 0
    scores[coo.row[hit], coo.col[hit]] = _MASKED
    return scores


def judge(
    ranker: Ranker,
    task: RankingTask,
    rows: IntArray,
    ks: Sequence[int],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[dict[str, float], int, float]:
    """Metrics of ``ranker`` over the eval users at positions ``rows`` of ``task``.

    Returns:
        The mean metrics, the number of users counted and the seconds spent scoring.
    """
    accumulator = RankingMetrics(ks, with_auc=False)
    seconds = 0.0
    for first in range(0, rows.size, chunk_size):
        chunk = rows[first : first + chunk_size]
        start = time.perf_counter()
        scores = np.array(ranker.score(chunk), dtype=np.float32)
        seconds += time.perf_counter() - start
        if task.mask is not None:
            apply_mask(scores, task.mask[chunk])
        accumulator.add(scores, task.relevance[chunk])
    return accumulator.result(), accumulator.n_users, seconds


def evaluate(
    method: Method,
    task: RankingTask,
    ks: Sequence[int],
    *,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> MethodResult:
    """Fit ``method`` on ``task`` and judge it on (a sample of) the task's eval users.

    Args:
        method: What to judge; when it has ``max_users``, that many eval users are sampled
            (seeded by ``seed``).
        task: The ranking problem.
        ks: Cut-offs of recall@k and nDCG@k.
        seed: Seed of the user sample.
        chunk_size: Users scored and judged at once.

    Returns:
        Metrics from :class:`papersift.training.metrics.RankingMetrics` and the wall time of
        ``fit`` and of scoring.
    """
    rows = sample_rows(task.eval_users.size, method.max_users, np.random.default_rng(seed))
    start = time.perf_counter()
    ranker = method.fit(task)
    fit_seconds = time.perf_counter() - start
    metrics, users, score_seconds = judge(ranker, task, rows, ks, chunk_size=chunk_size)
    return MethodResult(
        method=method.name,
        metrics=metrics,
        users=users,
        fit_seconds=fit_seconds,
        score_seconds=score_seconds,
        details=dict(getattr(ranker, "details", {})),
    )
