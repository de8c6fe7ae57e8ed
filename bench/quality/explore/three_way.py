"""Cosine + LightFM + ALS-map with FIXED weights (chosen on fold 0), measured on other folds.

Weights: cos 0.2, LightFM 0.4, ALS-map 0.4 (the fold-0 test-tuned optimum of blend_explore.py);
the two-way cos 0.3 + LightFM 0.7 blend is printed alongside for reference.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from als_map import als_step
from common import Split, evaluate, features, fmt, parse_args, run_folds
from lightfm import LightFM
from sklearn.linear_model import Ridge
from sklearn.preprocessing import normalize

from papersift.core.features import FeatureConfig


def zscore(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(axis=1, keepdims=True)
    return s / (s.std(axis=1, keepdims=True) + 1e-12)


def main() -> None:
    args = parse_args()

    def fn(split: Split) -> np.ndarray:
        x = features(split, FeatureConfig())
        xt = sp.csr_matrix(x[split.train_items], dtype=np.float32)
        xc = sp.csr_matrix(x[split.test_items], dtype=np.float32)
        r = sp.csr_matrix(split.train)
        prof = normalize(sp.csr_matrix(r[split.eval_users] @ xt))
        cos = zscore(np.asarray((prof @ xc.T).todense()))
        model = LightFM(no_components=64, loss="warp", learning_rate=0.05, random_state=0)
        for _ in range(30):
            model.fit_partial(sp.coo_matrix(r), item_features=xt, epochs=1, num_threads=2)
        lfm = model.user_embeddings[split.eval_users] @ (xc @ model.item_embeddings).T
        lfm = zscore(lfm + (xc @ model.item_biases)[None, :])
        v = np.random.default_rng(0).normal(scale=0.01, size=(r.shape[1], 64))
        rt = sp.csr_matrix(r.T)
        for _ in range(6):
            u = als_step(r, v, 20.0, 10.0)
            v = als_step(rt, u, 20.0, 10.0)
        w = Ridge(alpha=1.0, fit_intercept=False, solver="sparse_cg").fit(xt, v).coef_.T
        users = als_step(r, np.asarray(xt @ w), 20.0, 10.0)
        als = zscore(users[split.eval_users] @ (xc @ w).T)
        print(f"  two-way 0.3/0.7: {fmt(evaluate(split, 0.3 * cos + 0.7 * lfm))}", flush=True)
        print(f"  als alone: {fmt(evaluate(split, als))}", flush=True)
        return 0.2 * cos + 0.4 * lfm + 0.4 * als

    run_folds("three-way 0.2/0.4/0.4", args.folds, args.users, args.inner, fn)


if __name__ == "__main__":
    main()
