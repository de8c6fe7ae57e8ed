"""Profile cosine with a collaborative expansion of the user's TF-IDF profile.

profile_u = normalize(r_u X) + beta * normalize(e_u X), where e_u is either the items
co-occurring with the user's papers (``--kind item``: r_u R^T R with the user's own papers and
the diagonal removed, users weighted by n**-gamma) or the libraries of the user's nearest
neighbours (``--kind user``: cosine on R rows, top --nn).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
from common import Split, features, parse_args, run_folds
from sklearn.preprocessing import normalize

from papersift.core.features import FeatureConfig


def extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=["item", "user"], default="item")
    p.add_argument("--beta", type=float, nargs="+", default=[0.5])
    p.add_argument("--gamma", type=float, default=1.0)
    p.add_argument("--alpha", type=float, default=0.0, help="popularity damping of neighbours")
    p.add_argument("--nn", type=int, default=50)


def main() -> None:
    args = parse_args(extra)
    cfg = FeatureConfig()
    for beta in args.beta:

        def fn(split: Split, beta: float = beta) -> np.ndarray:
            x = features(split, cfg)
            xt = x[split.train_items]
            xc = x[split.test_items]
            r = split.train
            ru = r[split.eval_users]
            own = normalize(sp.csr_matrix(ru @ xt))
            n_u = np.asarray(r.sum(axis=1)).ravel()
            if args.kind == "item":
                w = sp.diags(np.power(np.maximum(n_u, 1), -args.gamma))
                e = np.asarray((ru @ r.T) @ w @ r)  # eval users x items (dense)
                e[ru.nonzero()] = 0.0
                pop = np.asarray(r.sum(axis=0)).ravel()
                e *= np.power(np.maximum(pop, 1), -args.alpha)[None, :]
            else:
                rn = normalize(r)
                sim = np.asarray((rn[split.eval_users] @ rn.T).todense())
                sim[np.arange(len(split.eval_users)), split.eval_users] = 0.0
                if args.nn < sim.shape[1]:
                    cut = np.partition(sim, -args.nn, axis=1)[:, -args.nn][:, None]
                    sim[sim < cut] = 0.0
                e = sp.csr_matrix(sim) @ r
                e = np.asarray(e.todense()) if sp.issparse(e) else e
            ex = normalize(sp.csr_matrix(e) @ xt)
            prof = normalize(own + beta * ex)
            return np.asarray((prof @ xc.T).todense())

        run_folds(f"expand {vars(args)} beta={beta}", args.folds, args.users, args.inner, fn)


if __name__ == "__main__":
    main()
