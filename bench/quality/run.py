"""``python -m bench.quality``: the quality benchmark on citeulike-t, as a table and a plot.

Item cold start (the fold's papers are new, as each day's papers are), the fixed in-matrix CVAE
split, and new users folded in from their first papers; random, TF-IDF profile cosine, per-user
linear SVM, plain LightFM WARP and papersift's shipped ranker side by side, plus the shipped
ranker's lists with the server's diversity and with a reader's rule (item cold start only; see
:mod:`bench.quality.views`). Tables go to stdout and to ``bench/results/quality.md`` (plus
``quality.json`` and ``quality.png``).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.quality import report, scenarios, views
from bench.quality.citeulike import (
    Citeulike,
    FoldSplit,
    cold_start_folds,
    fold_split,
    load_citeulike,
    load_in_matrix_split,
)
from bench.quality.evaluate import evaluate
from bench.quality.methods import (
    LightFMMethod,
    Method,
    ProfileCosineMethod,
    RandomMethod,
    SvmMethod,
)
from bench.quality.tasks import RankingTask
from bench.quality.views import (
    DIVERSITY_ROW,
    RULE_KEYWORDS,
    RULE_ROW,
    DiversityMethod,
    RuleMethod,
    SharedFit,
)
from papersift.core.features import FeatureConfig
from papersift.server.rules import RankRules
from papersift.training.model import ModelConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "citeulike-t"
DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "results"
N_FOLDS = 5
METHODS = ("random", "cosine", "svm", "lightfm", "shipped", "diversity", "rules")
#: Rows that re-rank the shipped model's lists: they need "shipped" (and reuse its fits).
VIEWS = ("diversity", "rules")
SVM_C_GRID = (0.01, 0.1, 1.0)
PLAIN_COMPONENTS = 64
PLAIN_EPOCHS = 20
SHIPPED = "papersift (shipped)"


@dataclass(frozen=True)
class Options:
    """What to run; see ``--help`` for each field's meaning."""

    data_dir: Path = DEFAULT_DATA_DIR
    out_dir: Path = DEFAULT_OUT_DIR
    folds: int = N_FOLDS
    seed: int = 0
    users: int | None = None
    svm_users: int | None = 1000
    svm_tune_users: int = 200
    validation_users: int = 1000
    methods: tuple[str, ...] = METHODS
    epochs: int | None = None
    in_matrix: bool = True
    new_users: bool = True
    new_user_share: float = 0.1
    progress: bool = True


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line; ``--quick`` sets smaller defaults for the others."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality",
        description="papersift quality benchmark on citeulike-t (item cold start, in-matrix, "
        "new users).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (< 3 min): 1 fold, 500 users (100 for the SVM), at most 3 epochs",
    )
    parser.add_argument("--folds", type=int, help=f"run the first N of the {N_FOLDS} folds")
    parser.add_argument("--seed", type=int, default=0, help="fold permutation and sample seed")
    parser.add_argument(
        "--users",
        type=_count_or_all,
        help="judge a seeded sample of N users per task, or 'all' (the default)",
    )
    parser.add_argument(
        "--svm-users",
        type=_count_or_all,
        help="users the per-user SVM is judged on, a subset of --users, or 'all' (default 1000)",
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {','.join(METHODS)}; diversity and rules are the "
        "shipped ranker's lists re-ranked as the server does for a request with diversity "
        f"{views.DIVERSITY:g} or with the rule must_not_keywords={','.join(RULE_KEYWORDS)} "
        "(item cold start only; they reuse shipped's fitted model and need shipped)",
    )
    parser.add_argument("--epochs", type=int, help="override the LightFM configs' epochs")
    parser.add_argument("--no-in-matrix", action="store_true", help="skip the in-matrix split")
    parser.add_argument("--no-new-users", action="store_true", help="skip the new-user test")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="results folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    methods = tuple(name.strip() for name in args.methods.split(",") if name.strip())
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        parser.error(f"--methods: unknown {unknown}; choose from {','.join(METHODS)}")
    needing = [name for name in VIEWS if name in methods]
    if needing and "shipped" not in methods:
        parser.error(
            f"--methods: {','.join(needing)} re-rank the shipped model's lists; add shipped"
        )
    folds = args.folds if args.folds is not None else (1 if args.quick else N_FOLDS)
    if not 1 <= folds <= N_FOLDS:
        parser.error(f"--folds must be in 1..{N_FOLDS}, got {folds}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    quick = args.quick
    return Options(
        data_dir=args.data_dir,
        out_dir=args.out,
        folds=folds,
        seed=args.seed,
        users=_given(args.users, 500) if quick else _given(args.users, Options.users),
        svm_users=_given(args.svm_users, 100 if quick else Options.svm_users),
        svm_tune_users=100 if quick else Options.svm_tune_users,
        validation_users=300 if quick else Options.validation_users,
        methods=tuple(m for m in METHODS if m in methods),
        epochs=args.epochs if args.epochs is not None else (3 if quick else None),
        in_matrix=not args.no_in_matrix,
        new_users=not args.no_new_users,
        progress=not args.no_progress,
    )


ALL = "all"


def _count_or_all(text: str) -> int | str:
    if text == ALL:
        return ALL
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _given(value: int | str | None, default: int | None) -> int | None:
    if value is None:
        return default
    return None if value == ALL else int(value)


def shipped_config() -> tuple[ModelConfig | None, FeatureConfig]:
    """papersift's shipped model and feature configuration; no model when none is chosen yet."""
    shipped = getattr(ModelConfig, "shipped", None)
    config = shipped() if callable(shipped) else None
    features = getattr(config, "features", None)
    return config, features if isinstance(features, FeatureConfig) else FeatureConfig()


def plain_warp_config() -> ModelConfig:
    """LightFM as it comes: WARP on the item features, its own user embeddings, no blend."""
    return ModelConfig(
        loss="warp",
        components=PLAIN_COMPONENTS,
        learning_rate=0.05,
        item_alpha=0.0,
        user_alpha=0.0,
        max_sampled=10,
        epochs=PLAIN_EPOCHS,
        blend_weight=0.0,
        tune_blend=False,
        user_vectors="trained",
    )


def build_methods(options: Options, svm_c: float, notes: list[str]) -> list[Method]:
    """The methods asked for, in table order; notes say what was left out and why."""
    methods: list[Method] = []
    for key in options.methods:
        if key == "random":
            methods.append(RandomMethod(seed=options.seed))
        elif key == "cosine":
            methods.append(ProfileCosineMethod())
        elif key == "svm":
            methods.append(
                SvmMethod(
                    c=svm_c,
                    seed=options.seed,
                    max_users=options.svm_users,
                    name=f"per-user linear SVM (C={svm_c:g})",
                    progress=options.progress,
                )
            )
        elif key == "lightfm":
            plain = plain_warp_config()
            if options.epochs is not None:
                plain = dataclasses.replace(plain, epochs=options.epochs)
            name = f"LightFM WARP (untuned, k={plain.components}, {plain.epochs} epochs)"
            methods.append(LightFMMethod(name, plain, progress=options.progress))
        elif key == "shipped":
            shipped, features = shipped_config()
            if shipped is None:
                notes.append(
                    "papersift shipped: left out, no shipped configuration yet "
                    "(papersift.training.model.ModelConfig.shipped)."
                )
                continue
            if options.epochs is not None:
                shipped = dataclasses.replace(shipped, epochs=options.epochs)
            methods.append(
                LightFMMethod(
                    SHIPPED,
                    shipped,
                    features=features,
                    validate=True,
                    validation_users=options.validation_users,
                    progress=options.progress,
                )
            )
    return methods


def run(options: Options, command: str) -> report.BenchResults:
    """Run every experiment the options ask for."""
    started = time.perf_counter()
    data = load_citeulike(options.data_dir)
    folds = list(range(options.folds))
    results = report.BenchResults(command=command, folds=folds)
    notes = results.notes
    fold_items = cold_start_folds(data.n_papers, N_FOLDS, options.seed)
    first_split = fold_split(data, fold_items[folds[0]])

    svm_c = SvmMethod().c
    if "svm" in options.methods:
        results.svm_tuning = scenarios.tune_svm_c(
            data,
            first_split,
            SVM_C_GRID,
            users=options.svm_tune_users,
            seed=options.seed,
            features=FeatureConfig(),
        )
        svm_c = results.svm_tuning.c
    methods = build_methods(options, svm_c, notes)
    if options.users is not None:
        notes.append(
            f"Every task is judged on the same seeded sample of at most {options.users:,} of its "
            "users (`--users all` for every one; it takes longer)."
        )
    if "svm" in options.methods and options.svm_users is not None:
        notes.append(
            f"The per-user SVM is the slowest baseline (a fit per user): it is judged on a seeded "
            f"subsample of {options.svm_users:,} of the users per task; the column "
            '"recall@100, SVM\'s users" gives every method on that same subsample.'
        )
    if options.epochs is not None:
        notes.append(f"LightFM models trained for {options.epochs} epochs (--epochs).")

    methods = [_selected(method, data, first_split, options, notes) for method in methods]
    methods = _with_views(methods, options.methods)
    featurizing = 0.0
    bar: tqdm[Any] = tqdm(
        total=len(folds) * len(methods) + options.in_matrix * len(_in_matrix_methods(methods)),
        desc="quality",
        unit="run",
        disable=not options.progress,
    )
    with bar:
        for fold in folds:
            split = first_split if fold == folds[0] else fold_split(data, fold_items[fold])
            task = scenarios.cold_start_task(
                data, split, f"fold {fold}", users=options.users, seed=options.seed + fold
            )
            featurizing += _featurize(task, methods)
            for method in methods:
                bar.set_postfix_str(f"fold {fold}: {method.name}")
                result = evaluate(
                    method,
                    task,
                    report.COLD_KS,
                    seed=options.seed + fold,
                    paired_users=_paired_users(options),
                )
                results.cold.setdefault(method.name, []).append(result)
                bar.update(1)
        if options.in_matrix:
            featurizing += _in_matrix(data, options, _in_matrix_methods(methods), results, bar)
    if DIVERSITY_ROW in results.cold:
        notes.append(views.diversity_note(results.cold[DIVERSITY_ROW]))
    if RULE_ROW in results.cold:
        notes.append(views.rule_note(results.cold[RULE_ROW], folds))
    if options.new_users:
        _new_users(data, first_split, options, methods, results)
    notes.append(
        f"Featurizing (papersift's Featurizer fitted on each task's training papers) took "
        f"{featurizing:.0f} s in all, outside the methods' times."
    )
    results.wall_seconds = time.perf_counter() - started
    return results


def _selected(
    method: Method, data: Citeulike, split: FoldSplit, options: Options, notes: list[str]
) -> Method:
    """A validating method with its validation's choice fixed, made once on the first fold.

    The training job validates at every training; doing it once here keeps the benchmark's
    time in bounds, and the choice never sees any fold's candidates.
    """
    if not (isinstance(method, LightFMMethod) and method.validate):
        return method
    task = scenarios.cold_start_task(data, split, "selection", users=None, seed=options.seed)
    selection = method.select(task, task.train_matrix)
    config = selection.config
    notes.append(
        f"{method.name}: trained as the training job trains it. Early stopping (at most "
        f"{method.config.epochs} epochs, patience {method.config.patience}) and the blend "
        f"weight were chosen on an item-cold-start validation carve-out "
        f"({method.validation_fraction:.0%} of fold 0's training papers, "
        f"{selection.validation_users:,} users judged): {config.epochs} epochs, blend weight "
        f"{config.blend_weight:g}, {config.user_vectors} user vectors "
        f"({selection.seconds:.0f} s); every task then refits on all its training papers "
        "with them."
    )
    return dataclasses.replace(method, config=config, validate=False)


def _with_views(methods: Sequence[Method], keys: Sequence[str]) -> list[Method]:
    """The shipped method shared (fitted once per task) and followed by the rows reusing it."""
    wanted = [key for key in VIEWS if key in keys]
    out: list[Method] = []
    for method in methods:
        if not (wanted and isinstance(method, LightFMMethod) and method.name == SHIPPED):
            out.append(method)
            continue
        shared = SharedFit(method)
        out.append(shared)
        if "diversity" in wanted:
            out.append(DiversityMethod(DIVERSITY_ROW, shared))
        if "rules" in wanted:
            rules = RankRules.build(must_not_keywords=RULE_KEYWORDS)
            out.append(RuleMethod(RULE_ROW, shared, rules))
    return out


def _in_matrix_methods(methods: Sequence[Method]) -> list[Method]:
    # Diversity and rules are options of a day's list: the in-matrix table leaves them out.
    return [m for m in methods if not isinstance(m, DiversityMethod | RuleMethod)]


def _unshared(method: Method) -> Method:
    return method.method if isinstance(method, SharedFit) else method


def _in_matrix(
    data: Citeulike,
    options: Options,
    methods: Sequence[Method],
    results: report.BenchResults,
    bar: tqdm[Any],
) -> float:
    split = load_in_matrix_split(options.data_dir, data.n_papers, p=10)
    task = scenarios.in_matrix_task(data, split, users=options.users, seed=options.seed)
    featurizing = _featurize(task, methods)
    for method in methods:
        bar.set_postfix_str(f"in-matrix: {method.name}")
        results.in_matrix.append(
            evaluate(
                method,
                task,
                report.IN_MATRIX_KS,
                seed=options.seed,
                paired_users=_paired_users(options),
            )
        )
        bar.update(1)
    return featurizing


def _paired_users(options: Options) -> int | None:
    return options.svm_users if "svm" in options.methods else None


def _featurize(task: RankingTask, methods: Sequence[Method]) -> float:
    """Compute the task's features for every method up front, so no method's time holds them."""
    start = time.perf_counter()
    for config in dict.fromkeys(method.features for method in methods):
        task.features(config)
    return time.perf_counter() - start


def _new_users(
    data: Citeulike,
    split: FoldSplit,
    options: Options,
    methods: Sequence[Method],
    results: report.BenchResults,
) -> None:
    lightfm = [m for m in map(_unshared, methods) if isinstance(m, LightFMMethod)]
    if not lightfm:
        results.notes.append("New users: skipped, no LightFM method among --methods.")
        return
    # The shipped ranker when there is one, else the plain model (the last LightFM listed).
    method = lightfm[-1]
    if method.name != SHIPPED:
        results.notes.append(f"New users: measured with {method.name} (no shipped ranker).")
    results.new_users_method = method.name
    results.new_users = scenarios.new_user_experiment(
        data,
        split,
        method,
        share=options.new_user_share,
        trained_users=options.users,
        seed=options.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the results folder; exit code 0."""
    options = parse_args(argv)
    command = "python -m bench.quality " + shlex.join(
        list(argv) if argv is not None else sys.argv[1:]
    )
    results = run(options, command.strip())
    paths = report.write(results, options.out_dir)
    print(report.markdown(results))
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
