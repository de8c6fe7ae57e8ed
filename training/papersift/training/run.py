"""Runs ``papersift-train`` from parsed arguments: data summary, progress bar, errors, the final
table."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from papersift.core.errors import PaperSiftError, StoreNotFound
from papersift.core.store import DatabaseUrlError, require_existing
from papersift.training.data import load_jsonl, load_store
from papersift.training.model import ModelConfig
from papersift.training.pipeline import REPORTED_METRICS, TrainOptions, train
from papersift.training.progress import ProgressBar
from papersift.training.report import metrics_table


def run(args: argparse.Namespace) -> int:
    """Train, publish, print the comparison; exit code 0 on success, 1 on a training error.

    2 when ``--database-url`` is not a usable URL or names a SQLite file that does not exist
    (reading the store never creates it).
    """
    if args.database_url:
        try:
            require_existing(args.database_url)
        except (DatabaseUrlError, StoreNotFound) as exc:
            print(f"papersift-train: --database-url: {exc}", file=sys.stderr)
            return 2
    overrides = {
        name: value
        for name, value in (
            ("seed", args.seed),
            ("num_threads", args.threads),
            ("epochs", args.epochs),
            ("components", args.components),
        )
        if value is not None
    }
    model = dataclasses.replace(ModelConfig.shipped(), **overrides)
    options = TrainOptions(
        model=model,
        validation_fraction=args.validation_fraction,
        model_dir=args.model_dir,
        report_dir=args.report_dir,
        register_in=None if args.no_register else args.database_url,
    )
    try:
        corpus = (
            load_store(args.database_url)
            if args.database_url
            else load_jsonl(args.papers, args.interactions)
        )
        print("\n".join(corpus.summary.lines()), flush=True)
        with ProgressBar(disable=args.no_progress) as bar:
            outcome = train(corpus, options, progress=bar.show)
    except PaperSiftError as exc:
        print(f"papersift-train: {exc}; nothing was published", file=sys.stderr)
        return 1
    print(f"\nvalidation split: {outcome.split.summary()}")
    if outcome.comparison:
        print(f"best epoch {outcome.best_epoch} of {len(outcome.history)} run")
        print(metrics_table(outcome.comparison, REPORTED_METRICS))
    else:
        print(f"no validation: trained {outcome.best_epoch} epochs without early stopping")
    print(f"\npublished model {outcome.bundle.version} at {outcome.bundle.path}")
    if outcome.report:
        print(f"report: {outcome.report}")
    return 0
