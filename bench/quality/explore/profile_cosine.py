"""Baseline: cosine between a candidate's TF-IDF and the mean TF-IDF of the user's papers.

Variants: feature config (sublinear tf, vocabulary size) and kNN aggregation
(``--agg knn``: sum over the user's papers of similarity**power instead of the mean profile).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
from common import Split, features, parse_args, run_folds
from sklearn.preprocessing import normalize

from papersift.core.features import FeatureConfig


def extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-terms", type=int, default=20000)
    p.add_argument("--min-df", type=int, default=2)
    p.add_argument("--max-df", type=float, default=0.5)
    p.add_argument("--raw-tf", action="store_true")
    p.add_argument("--agg", choices=["mean", "knn"], default="mean")
    p.add_argument("--power", type=float, default=1.0)


def main() -> None:
    args = parse_args(extra)
    cfg = FeatureConfig(
        max_terms=args.max_terms,
        min_df=args.min_df,
        max_df=args.max_df,
        sublinear_tf=not args.raw_tf,
    )

    def fn(split: Split) -> np.ndarray:
        x = features(split, cfg)
        x_train = x[split.train_items]
        x_test = x[split.test_items]
        r = split.train[split.eval_users]
        if args.agg == "mean":
            profile = normalize(sp.csr_matrix(r @ x_train))
            return np.asarray((profile @ x_test.T).todense())
        sim = np.asarray((x_train @ x_test.T).todense())
        if args.power != 1.0:
            sim = np.maximum(sim, 0) ** args.power
        return np.asarray(r @ sim)

    run_folds(f"cosine {args.agg} {cfg}", args.folds, args.users, args.inner, fn)


if __name__ == "__main__":
    main()
