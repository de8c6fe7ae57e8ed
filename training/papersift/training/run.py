"""Runs ``papersift-train`` from parsed arguments: progress bar, errors, the final table."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from tqdm import tqdm

from papersift.core.errors import PaperSiftError
from papersift.training.data import load_jsonl, load_store
from papersift.training.model import ModelConfig
from papersift.training.pipeline import REPORTED_METRICS, TrainOptions, train
from papersift.training.report import metrics_table


def run(args: argparse.Namespace) -> int:
    """Train, publish, print the comparison; exit code 0 on success, 1 on a training error."""
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
        print(
            f"read {len(corpus.papers)} papers and {len(corpus.interactions)} interactions",
            file=sys.stderr,
        )
        with tqdm(total=model.epochs, desc="epochs", unit="epoch", disable=args.no_progress) as bar:

            def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
                bar.update(1)
                if "blend_recall@100" in metrics:
                    bar.set_postfix(recall100=f"{metrics['blend_recall@100']:.3f}")

            outcome = train(corpus, options, on_epoch=on_epoch)
    except PaperSiftError as exc:
        print(f"papersift-train: {exc}; nothing was published", file=sys.stderr)
        return 1
    if outcome.comparison:
        print(f"\nvalidation (latest days, unseen papers); best epoch {outcome.best_epoch}")
        print(metrics_table(outcome.comparison, REPORTED_METRICS))
    print(f"\npublished model {outcome.bundle.version} at {outcome.bundle.path}")
    if outcome.report:
        print(f"report: {outcome.report}")
    return 0
