"""The shipped pipeline on the protocol: papersift.training.model.fit + papersift.core.scoring.

Per fold: the featurizer is fitted on the fold's training papers; 20% of the training papers
are carved out as validation (early stopping, blend weight); then the model is refitted on all
training papers with the chosen epoch count and blend weight, and the test candidates are
scored through ``Scorer.score`` (PERSONAL users with their training papers as history).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import scipy.sparse as sp
from common import Split, evaluate, features, fmt, parse_args, run_folds

from papersift.core.scoring import UserHistory
from papersift.training.model import (
    ModelConfig,
    TrainingData,
    ValidationSet,
    fit,
    train_validation_split,
)


def extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", nargs="*", default=[], help="ModelConfig overrides k=v (JSON values)")
    p.add_argument("--no-refit", action="store_true")
    p.add_argument(
        "--fold-in", action="store_true", help="also score every user as unknown (FOLD_IN)"
    )


def main() -> None:
    args = parse_args(extra)
    overrides = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        overrides[k] = json.loads(v)
    config = dataclasses.replace(ModelConfig.shipped(), **overrides)

    def fn(split: Split) -> np.ndarray:
        x = features(split, config.features)
        xt = sp.csr_matrix(x[split.train_items])
        xc = sp.csr_matrix(x[split.test_items])
        r = split.train
        users = np.flatnonzero(np.diff(r.indptr) > 0)
        ids = [str(u) for u in users]
        ru = sp.csr_matrix(r[users])
        tr, va = train_validation_split(ru, 0.2, seed=config.seed)
        t0 = time.perf_counter()
        inner = fit(
            TrainingData(sp.csr_matrix(ru[:, tr]), ids, sp.csr_matrix(xt[tr])),
            config,
            validation=ValidationSet(sp.csr_matrix(xt[va]), sp.csr_matrix(ru[:, va])),
            on_epoch=lambda e, h: print(f"    {h}", flush=True),
        )
        print(
            f"  inner: best_epoch={inner.best_epoch} w={inner.blend_weight} "
            f"fold_in_users={inner.fold_in_users} "
            f"last={inner.history[-1]} ({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
        if args.no_refit:
            result = inner
        else:
            final = inner.refit_config(config)
            result = fit(TrainingData(ru, ids, xt), final)
        scorer = result.scorer
        items = scorer.prepare_items(xc)
        row_of = {u: i for i, u in enumerate(users)}
        out = np.zeros((split.eval_users.size, xc.shape[0]), dtype=np.float32)
        empty = sp.csr_matrix((0, xt.shape[1]), dtype=np.float32)
        t1 = time.perf_counter()
        for pos, u in enumerate(split.eval_users):
            papers = ru[row_of[int(u)]].indices
            hist = UserHistory(xt[papers], np.ones(papers.size, dtype=np.float32), empty)
            s = scorer.score(items, user_id=str(u), history=hist)
            assert s is not None
            out[pos] = s
        per_user = (time.perf_counter() - t1) / split.eval_users.size * 1000
        print(f"  scoring {per_user:.2f} ms/user for {xc.shape[0]} candidates", flush=True)
        if args.fold_in:
            folded = np.zeros_like(out)
            for pos, u in enumerate(split.eval_users):
                papers = ru[row_of[int(u)]].indices
                hist = UserHistory(xt[papers], np.ones(papers.size, dtype=np.float32), empty)
                s = scorer.score(items, user_id=None, history=hist)
                assert s is not None
                folded[pos] = s
            print(f"  FOLD_IN (same users, unknown to the model): {fmt(evaluate(split, folded))}")
        return out

    run_folds(f"shipped {overrides}", args.folds, args.users, args.inner, fn)


if __name__ == "__main__":
    main()
