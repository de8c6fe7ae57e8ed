"""Which score components add up? Computes components once per split and evaluates blends.

Components (each z-scored per user before blending):
  cos   - TF-IDF profile cosine (the baseline)
  lsa   - cosine of the profile and the paper in a truncated-SVD space of the TF-IDF (--lsa-d)
  lfm   - LightFM WARP on item features (--k, --epochs, --lr)
  lfmu  - LightFM WARP with user features = identity + the user's TF-IDF profile (--user-feats)
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import scipy.sparse as sp
from common import evaluate, features, fmt, inner_split, outer_split
from lightfm import LightFM
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd

from papersift.core.features import FeatureConfig


def zscore(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(axis=1, keepdims=True)
    return s / (s.std(axis=1, keepdims=True) + 1e-12)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--inner", action="store_true")
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--max-sampled", type=int, default=10)
    p.add_argument("--lsa-d", type=int, default=0)
    p.add_argument("--user-feats", action="store_true")
    p.add_argument("--top-words", type=int, default=100)
    p.add_argument("--extra", nargs="*", default=[], help="name=path.npy score matrices")
    args = p.parse_args()
    split = outer_split(args.fold)
    if args.inner:
        split = inner_split(split)
    x = features(split, FeatureConfig())
    xt = sp.csr_matrix(x[split.train_items], dtype=np.float32)
    xc = sp.csr_matrix(x[split.test_items], dtype=np.float32)
    r = split.train
    comps: dict[str, np.ndarray] = {}
    prof_all = normalize(sp.csr_matrix(r @ xt))
    prof = prof_all[split.eval_users]
    comps["cos"] = zscore(np.asarray((prof @ xc.T).todense()))
    if args.lsa_d:
        t0 = time.perf_counter()
        _, _, vt = randomized_svd(xt, args.lsa_d, n_iter=4, random_state=0)
        pu = normalize(prof @ vt.T)
        pc = normalize(xc @ vt.T)
        comps["lsa"] = zscore(pu @ pc.T)
        print(f"lsa {time.perf_counter() - t0:.0f}s", flush=True)
    inter = sp.coo_matrix(r, dtype=np.float32)
    t0 = time.perf_counter()
    model = LightFM(
        no_components=args.k,
        loss="warp",
        learning_rate=args.lr,
        max_sampled=args.max_sampled,
        random_state=0,
    )
    uf = None
    if args.user_feats:
        # Keep each user's top words only: LightFM's cost grows with user feature nnz.
        pr = sp.csr_matrix(prof_all)
        rows, cols, vals = [], [], []
        for u in range(pr.shape[0]):
            lo, hi = pr.indptr[u], pr.indptr[u + 1]
            d, i = pr.data[lo:hi], pr.indices[lo:hi]
            if d.size > args.top_words:
                keep = np.argpartition(-d, args.top_words)[: args.top_words]
                d, i = d[keep], i[keep]
            rows.extend([u] * d.size)
            cols.extend(i.tolist())
            vals.extend(d.tolist())
        words = sp.csr_matrix((vals, (rows, cols)), shape=pr.shape, dtype=np.float32)
        words = normalize(words)
        uf = sp.hstack([sp.identity(pr.shape[0], format="csr", dtype=np.float32), words]).tocsr()
    for _ in range(args.epochs):
        model.fit_partial(inter, item_features=xt, user_features=uf, epochs=1, num_threads=2)
    e = xc @ model.item_embeddings
    b = xc @ model.item_biases
    if uf is None:
        ue = model.user_embeddings[split.eval_users]
    else:
        ue = np.asarray(uf[split.eval_users] @ model.user_embeddings)
    name = "lfmu" if uf is not None else "lfm"
    comps[name] = zscore(ue @ e.T + b[None, :])
    print(f"{name} trained {time.perf_counter() - t0:.0f}s", flush=True)
    for spec in args.extra:
        extra_name, _, path = spec.partition("=")
        comps[extra_name] = zscore(np.load(path))
    for c, s in comps.items():
        print(f"{c}: {fmt(evaluate(split, s))}", flush=True)
    names = list(comps)
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    results = []
    for ws in itertools.product(grid, repeat=len(names) - 1):
        w_cos = 1.0 - sum(ws)
        if w_cos < 0:
            continue
        s = w_cos * comps["cos"] + sum(w * comps[n] for w, n in zip(ws, names[1:], strict=True))
        m = evaluate(split, s)
        results.append((m["recall@100"], ws, m))
    results.sort(key=lambda t: -t[0])
    for _, ws, m in results[:6]:
        print(f"weights {dict(zip(names[1:], ws, strict=True))}: {fmt(m)}", flush=True)


if __name__ == "__main__":
    main()
