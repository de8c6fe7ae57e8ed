"""Co-occurrence projection: learn a feature-space similarity from item co-occurrence.

X (train items x F, L2 rows) ~ U S V^T (rank d). A = R^T W R (item co-occurrence, users weighted
by n_u**-beta, diagonal removed, degree-normalised by pop**-alpha on both sides). The learned
similarity is M = V f(S) U^T A U f(S) V^T with f(s) = s / (s^2 + lam) (ridge-regularised
pseudo-inverse), so score(u, j) = (sum_{iinu} x_i) M x_j: the user vector is a sum over their
papers (fold-in is the same formula), the item side is X_day V.

Optionally blended with the plain profile cosine (per-user z-scores, weight --blend).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
from common import Split, features, parse_args, run_folds
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd

from papersift.core.features import FeatureConfig


def extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--d", type=int, default=400)
    p.add_argument("--lam", type=float, default=0.1, help="relative to the top s^2")
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--blend", type=float, nargs="+", default=[0.0])
    p.add_argument("--max-terms", type=int, default=20000)
    p.add_argument("--keep-diag", action="store_true")


def zscore(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(axis=1, keepdims=True)
    return s / (s.std(axis=1, keepdims=True) + 1e-12)


def main() -> None:
    args = parse_args(extra)
    cfg = FeatureConfig(max_terms=args.max_terms)
    for w in args.blend:

        def fn(split: Split, w: float = w) -> np.ndarray:
            x = features(split, cfg)
            xt = x[split.train_items]
            xc = x[split.test_items]
            r = split.train
            u, s, vt = randomized_svd(xt, args.d, n_iter=4, random_state=0)
            n_u = np.asarray(r.sum(axis=1)).ravel()
            pop = np.asarray(r.sum(axis=0)).ravel()
            uw = np.power(np.maximum(n_u, 1), -args.beta)
            iw = np.power(np.maximum(pop, 1), -args.alpha)
            ru = r @ (iw[:, None] * u)  # users x d
            au = r.T @ (uw[:, None] * ru)  # items x d  = R^T W R D u
            if not args.keep_diag:
                diag = np.asarray(r.T @ sp.csr_matrix(uw[:, None]).toarray()).ravel()
                au -= (diag * iw)[:, None] * u
            au *= iw[:, None]
            c = u.T @ au
            lam = args.lam * s[0] ** 2
            f = s / (s**2 + lam)
            t = f[:, None] * c * f[None, :]
            prof = r[split.eval_users] @ xt  # users x F
            user_vec = (prof @ vt.T) @ t
            item_vec = xc @ vt.T
            score = user_vec @ item_vec.T
            if w > 0:
                cos = np.asarray((normalize(sp.csr_matrix(prof)) @ xc.T).todense())
                score = (1 - w) * zscore(score) + w * zscore(cos)
            return np.asarray(score)

        run_folds(f"coembed {vars(args)} w={w}", args.folds, args.users, args.inner, fn)


if __name__ == "__main__":
    main()
