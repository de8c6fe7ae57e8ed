"""WMF (implicit ALS) item factors + a ridge map from TF-IDF features to them, blended with cos.

Cold paper vector = x W where W = argmin ||X W - V||^2 + mu ||W||^2 (sparse CG), user vectors
from ALS. Same arrays as the LightFM export (feature_embeddings = W), so the scorer could serve it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from common import evaluate, features, fmt, inner_split, outer_split
from sklearn.linear_model import Ridge
from sklearn.preprocessing import normalize

from papersift.core.features import FeatureConfig


def zscore(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(axis=1, keepdims=True)
    return s / (s.std(axis=1, keepdims=True) + 1e-12)


def als_step(r: sp.csr_matrix, y: np.ndarray, alpha: float, lam: float) -> np.ndarray:
    """Solve every row's factors given the other side's factors y (Hu, Koren, Volinsky)."""
    k = y.shape[1]
    yty = y.T @ y
    out = np.zeros((r.shape[0], k))
    for start in range(0, r.shape[0], 2048):
        block = r[start : start + 2048]
        a = np.repeat((yty + lam * np.eye(k))[None], block.shape[0], axis=0)
        b = np.zeros((block.shape[0], k))
        for i in range(block.shape[0]):
            idx = block.indices[block.indptr[i] : block.indptr[i + 1]]
            if idx.size:
                yu = y[idx]
                a[i] += alpha * (yu.T @ yu)
                b[i] = (1 + alpha) * yu.sum(axis=0)
        out[start : start + block.shape[0]] = np.linalg.solve(a, b[..., None])[..., 0]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--inner", action="store_true")
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--alpha", type=float, default=20.0)
    p.add_argument("--lam", type=float, default=10.0)
    p.add_argument("--mu", type=float, nargs="+", default=[1.0])
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--refit-users", action="store_true", help="users fitted to the mapped XW")
    p.add_argument("--save", default="", help="save the cf scores of the last mu to this .npy")
    args = p.parse_args()
    split = outer_split(args.fold)
    if args.inner:
        split = inner_split(split)
    x = features(split, FeatureConfig())
    xt = sp.csr_matrix(x[split.train_items], dtype=np.float32)
    xc = sp.csr_matrix(x[split.test_items], dtype=np.float32)
    r = sp.csr_matrix(split.train)
    rt = sp.csr_matrix(r.T)
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    v = rng.normal(scale=0.01, size=(r.shape[1], args.k))
    for _ in range(args.iters):
        u = als_step(r, v, args.alpha, args.lam)
        v = als_step(rt, u, args.alpha, args.lam)
    print(f"als {time.perf_counter() - t0:.0f}s", flush=True)
    prof = normalize(sp.csr_matrix(r[split.eval_users] @ xt))
    cos = zscore(np.asarray((prof @ xc.T).todense()))
    for mu in args.mu:
        t1 = time.perf_counter()
        w = Ridge(alpha=mu, fit_intercept=False, solver="sparse_cg").fit(xt, v).coef_.T
        users = u
        if args.refit_users:
            users = als_step(r, np.asarray(xt @ w), args.alpha, args.lam)
        cf = users[split.eval_users] @ (xc @ w).T
        if args.save:
            np.save(args.save, cf.astype(np.float32))
        print(f"mu={mu} map {time.perf_counter() - t1:.0f}s cf: {fmt(evaluate(split, cf))}")
        for wc in (0.2, 0.3, 0.4, 0.5, 0.6):
            m = evaluate(split, (1 - wc) * zscore(cf) + wc * cos)
            print(f"  w_cos={wc}: {fmt(m)}", flush=True)


if __name__ == "__main__":
    main()
