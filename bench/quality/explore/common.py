"""Shared plumbing of the model experiments: data, folds, inner validation split, evaluation.

Run experiments as scripts from the repository root, e.g.
``.venv/bin/python bench/quality/explore/profile_cosine.py --folds 0``. They are standalone
(their own small loader, same protocol as ``shared/data/README.md``) so that they do not depend
on the benchmark package's import chain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import numpy as np
import scipy.sparse as sp

from papersift.core.features import FeatureConfig, Featurizer
from papersift.core.types import Paper, PaperId
from papersift.training.metrics import ranking_metrics

DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "citeulike-t"
KS = (20, 50, 100, 200)
PAPER_DATE = dt.date(2013, 1, 1)


@dataclass(frozen=True)
class Data:
    """Papers (text = the bag of words, repeated by count, as the abstract) and users x papers."""

    papers: list[Paper]
    user_items: sp.csr_matrix

    @property
    def n_papers(self) -> int:
        return len(self.papers)


@cache
def data() -> Data:
    """citeulike-t, loaded once per process."""
    vocab = (DATA_DIR / "vocabulary.dat").read_text(encoding="utf-8").splitlines()
    papers = []
    for i, line in enumerate((DATA_DIR / "mult.dat").read_text(encoding="utf-8").splitlines()):
        words = []
        for field in line.split()[1:]:
            w, _, c = field.partition(":")
            words.extend([vocab[int(w)]] * int(c))
        papers.append(Paper(PaperId(f"citeulike-t:{i}"), "", PAPER_DATE, " ".join(words)))
    rows, cols = [], []
    for u, line in enumerate((DATA_DIR / "users.dat").read_text(encoding="utf-8").splitlines()):
        items = [int(t) for t in line.split()[1:]]
        rows.extend([u] * len(items))
        cols.extend(items)
    m = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(u + 1, len(papers))
    )
    m.data[:] = 1.0
    return Data(papers, m)


def fold_items(fold: int, seed: int = 0) -> np.ndarray:
    """The protocol's fold: array_split of default_rng(seed).permutation(n_papers), sorted."""
    perm = np.random.default_rng(seed).permutation(data().n_papers)
    return np.sort(np.array_split(perm, 5)[fold])


@dataclass(frozen=True)
class Split:
    """Training items/interactions, candidate items and relevance for evaluated users."""

    train_items: np.ndarray
    test_items: np.ndarray
    train: sp.csr_matrix  # all users x train_items
    relevance: sp.csr_matrix  # eval_users x test_items
    eval_users: np.ndarray


def outer_split(fold: int, n_users: int | None = 1500, seed: int = 0) -> Split:
    """Fold ``fold`` of the protocol; ``n_users`` evaluated users sampled (None = all)."""
    d = data()
    test_items = fold_items(fold, seed)
    mask = np.ones(d.n_papers, dtype=bool)
    mask[test_items] = False
    train_items = np.flatnonzero(mask)
    train = sp.csr_matrix(d.user_items[:, train_items])
    test = sp.csr_matrix(d.user_items[:, test_items])
    users = np.flatnonzero((np.diff(train.indptr) > 0) & (np.diff(test.indptr) > 0))
    if n_users is not None and n_users < users.size:
        users = np.sort(np.random.default_rng(seed).choice(users, n_users, replace=False))
    return Split(train_items, test_items, train, test[users], users)


def inner_split(outer: Split, seed: int = 1, fraction: float = 0.2) -> Split:
    """A validation split carved from the outer split's TRAINING items only (same protocol)."""
    n = outer.train_items.size
    perm = np.random.default_rng(seed).permutation(n)
    n_val = round(fraction * n)
    val_cols = np.sort(perm[:n_val])
    tr_cols = np.sort(perm[n_val:])
    train = sp.csr_matrix(outer.train[:, tr_cols])
    val = sp.csr_matrix(outer.train[:, val_cols])
    users = np.flatnonzero((np.diff(train.indptr) > 0) & (np.diff(val.indptr) > 0))
    if users.size > 1500:
        users = np.sort(np.random.default_rng(seed).choice(users, 1500, replace=False))
    return Split(outer.train_items[tr_cols], outer.train_items[val_cols], train, val[users], users)


@cache
def _features(items_key: bytes, config: FeatureConfig) -> tuple[Featurizer, sp.csr_matrix]:
    d = data()
    items = np.frombuffer(items_key, dtype=np.int64)
    featurizer = Featurizer.fit([d.papers[i] for i in items], config)
    return featurizer, featurizer.transform(d.papers)


def features(split: Split, config: FeatureConfig) -> sp.csr_matrix:
    """Feature rows of ALL papers, the featurizer fitted on the split's training items only."""
    return _features(np.ascontiguousarray(split.train_items).tobytes(), config)[1]


Scorer = Callable[[Split, sp.csr_matrix], np.ndarray]
"""(split, all-paper features) -> scores eval_users x test_items."""


def evaluate(split: Split, scores: np.ndarray) -> dict[str, float]:
    """Recall/precision/nDCG at :data:`KS` on the split."""
    return ranking_metrics(scores.astype(np.float32), split.relevance, KS, with_auc=False)


def fmt(m: dict[str, float]) -> str:
    """One line of recall@KS."""
    return " ".join(f"r@{k}={m[f'recall@{k}']:.4f}" for k in KS)


def parse_args(
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Common flags: --folds 0 1 ..., --users N (0 = all)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, nargs="+", default=[0])
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--inner", action="store_true", help="evaluate on the inner split")
    if extra:
        extra(parser)
    return parser.parse_args()


def run_folds(
    name: str, folds: Sequence[int], users: int, inner: bool, fn: Callable[[Split], np.ndarray]
) -> dict[str, float]:
    """Run ``fn`` on each fold, print per-fold and mean recalls and times."""
    results = []
    for fold in folds:
        split = outer_split(fold, users or None)
        if inner:
            split = inner_split(split)
        t0 = time.perf_counter()
        scores = fn(split)
        dt = time.perf_counter() - t0
        m = evaluate(split, scores)
        m["time"] = dt
        results.append(m)
        print(f"{name} fold={fold}{' inner' if inner else ''}: {fmt(m)} ({dt:.1f}s)", flush=True)
    mean = {k: float(np.mean([r[k] for r in results])) for k in results[0]}
    print(f"{name} MEAN folds={list(folds)}: {fmt(mean)} ({mean['time']:.1f}s/fold)", flush=True)
    return mean
