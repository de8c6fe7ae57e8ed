"""``papersift-train``: learn readers' preferences and publish a model bundle."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from papersift.core.pipes import run_without_broken_pipe

EPILOG = """\
examples:
  papersift-train --database-url sqlite:///papersift.db
  papersift-train --papers papers.jsonl.gz --interactions events.jsonl --model-dir models
  papersift-train --database-url postgresql+psycopg://app@db/papersift --seed 7 --report-dir reports

The bundle is published only when every step succeeds: running servers pick it up by
themselves (they watch <model-dir>/CURRENT). When the latest days cannot validate (e.g. only
new readers interacted with them), an earlier time split, then random papers, then no
validation (fixed epochs) is used instead; the log and the manifest say which. Only having
nothing to train on (no papers, no click or save) is an error.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``papersift-train``."""
    parser = argparse.ArgumentParser(
        prog="papersift-train",
        description="Train papersift's ranking model and publish it as a model bundle.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("input (the store, or JSONL exports)")
    source.add_argument("--database-url", help="SQLAlchemy URL of the store to read")
    source.add_argument("--papers", type=Path, help="papers JSONL (.gz ok), with --interactions")
    source.add_argument("--interactions", type=Path, help="interactions JSONL, with --papers")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--model-dir", type=Path, default=Path("models"), help="where bundles go (default: models)"
    )
    output.add_argument("--report-dir", type=Path, help="write an HTML report and a PNG plot here")
    output.add_argument(
        "--no-register",
        action="store_true",
        help="do not record the bundle in the store's model registry",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    model.add_argument(
        "--threads",
        type=int,
        default=1,
        help="LightFM threads; only 1 (the default) is exactly reproducible with --seed",
    )
    model.add_argument("--epochs", type=int, help="most epochs (early stopping may stop sooner)")
    model.add_argument("--components", type=int, help="size of the latent vectors")
    model.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="share of positive interactions held out for validation, latest days first "
        "(earlier days, then random papers when those cannot be scored; default: 0.2)",
    )
    model.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (141 when stdout closed early, ``| head``)."""
    return run_without_broken_pipe(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.papers) != bool(args.interactions):
        parser.error("--papers and --interactions go together")
    if args.database_url and args.papers:
        parser.error("read either --database-url or --papers/--interactions, not both")
    if not args.database_url and not args.papers:
        parser.error("say what to train on: --database-url URL or --papers/--interactions")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if not 0.0 < args.validation_fraction < 1.0:
        parser.error("--validation-fraction must be between 0 and 1")
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter is not news
    try:
        from papersift.training.run import run
    except ModuleNotFoundError as missing:
        print(
            f"papersift-train: {missing.name} is not installed; "
            "install the training job with: pip install 'papersift[training]'",
            file=sys.stderr,
        )
        return 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
