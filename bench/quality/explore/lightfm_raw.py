"""LightFM hybrid (item features only, user identity features), straight from the library.

Prints recall per few epochs so that learning rate / epochs / regularisation can be read off.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from common import (
    evaluate,
    features,
    fmt,
    inner_split,
    outer_split,
)
from lightfm import LightFM
from sklearn.preprocessing import normalize

from papersift.core.features import FeatureConfig


def zscore(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(axis=1, keepdims=True)
    return s / (s.std(axis=1, keepdims=True) + 1e-12)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--inner", action="store_true")
    p.add_argument("--loss", default="warp")
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--schedule", default="adagrad")
    p.add_argument("--item-alpha", type=float, default=0.0)
    p.add_argument("--user-alpha", type=float, default=0.0)
    p.add_argument("--max-sampled", type=int, default=10)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--norm", choices=["l2", "l1", "none"], default="l2")
    p.add_argument("--max-terms", type=int, default=20000)
    p.add_argument("--identity", action="store_true", help="add item identity features")
    args = p.parse_args()
    split = outer_split(args.fold)
    if args.inner:
        split = inner_split(split)
    x = features(split, FeatureConfig(max_terms=args.max_terms))
    if args.norm == "l1":
        x = normalize(x, norm="l1")
    x_train = sp.csr_matrix(x[split.train_items], dtype=np.float32)
    x_test = sp.csr_matrix(x[split.test_items], dtype=np.float32)
    model = LightFM(
        no_components=args.k,
        loss=args.loss,
        learning_rate=args.lr,
        learning_schedule=args.schedule,
        item_alpha=args.item_alpha,
        user_alpha=args.user_alpha,
        max_sampled=args.max_sampled,
        random_state=0,
    )
    inter = sp.coo_matrix(split.train, dtype=np.float32)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.fit_partial(inter, item_features=x_train, epochs=1, num_threads=2)
        if epoch % args.every == 0:
            e = x_test @ model.item_embeddings
            b = x_test @ model.item_biases
            s = model.user_embeddings[split.eval_users] @ e.T + b[None, :]
            m = evaluate(split, s)
            tag = " ".join(
                f"{k}={v}" for k, v in vars(args).items() if k not in ("every", "fold", "inner")
            )
            print(f"{tag} epoch={epoch} {fmt(m)} t={time.perf_counter() - t0:.0f}s", flush=True)
    prof = normalize(sp.csr_matrix(split.train[split.eval_users] @ x_train))
    cos = np.asarray((prof @ x_test.T).todense())
    for w in (0.1, 0.2, 0.3, 0.4):
        m = evaluate(split, (1 - w) * zscore(s) + w * zscore(cos))
        print(f"blend w={w} {fmt(m)}", flush=True)


if __name__ == "__main__":
    main()
