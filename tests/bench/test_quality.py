"""The quality benchmark: citeulike loader, fold protocol, baselines, and a smoke run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bench.quality.citeulike import (
    Citeulike,
    cold_start_folds,
    fold_split,
    load_citeulike,
    load_in_matrix_split,
    paper_id,
)
from bench.quality.evaluate import MASKED_SCORE, apply_mask
from bench.quality.methods import LightFMMethod
from bench.quality.run import SHIPPED, main, parse_args, shipped_config
from bench.quality.scenarios import cold_start_task
from bench.quality.tasks import RankingTask
from bench.quality.views import (
    DIVERSITY_ROW,
    RULE_ROW,
    DiversifiedRanker,
    RuledRanker,
    SharedFit,
)
from papersift.core.features import Featurizer
from papersift.server.ranking import diversified, rank_by_scores
from papersift.server.rules import RankRules
from papersift.training.baselines import (
    per_user_svm_scores,
    profile_cosine_scores,
    random_scores,
)

# Two topics with six words each; a paper uses three words of its topic, so that no word is in
# more than half of the papers (the featurizer's max_df) and every word is in at least two.
TOPICS = (
    ("neuron", "synapse", "cortex", "dendrite", "axon", "hippocampus"),
    ("galaxy", "nebula", "quasar", "pulsar", "redshift", "supernova"),
)
N_PAPERS = 60
N_USERS = 30


def topic_of(paper: int) -> int:
    """Even papers are about neuroscience, odd ones about astronomy."""
    return paper % 2


def write_citeulike(directory: Path, *, with_splits: bool = True) -> None:
    """A tiny citeulike-format dataset: two topics, each user loyal to one topic."""
    rng = np.random.default_rng(42)
    vocabulary = [word for topic in TOPICS for word in topic]
    mult = []
    for paper in range(N_PAPERS):
        words = rng.choice(6, size=3, replace=False) + 6 * topic_of(paper)
        counts = rng.integers(1, 4, size=3)
        mult.append("3 " + " ".join(f"{w}:{c}" for w, c in zip(words, counts, strict=True)))
    users = []
    for user in range(N_USERS):
        own = np.arange(topic_of(user), N_PAPERS, 2)
        size = 15 if user < 20 else 6
        users.append(np.sort(rng.choice(own, size=size, replace=False)).tolist())
    (directory / "vocabulary.dat").write_text("\n".join(vocabulary), encoding="utf-8")
    (directory / "mult.dat").write_text("\n".join(mult) + "\n", encoding="utf-8")
    (directory / "users.dat").write_text(_lines(users), encoding="utf-8")
    if with_splits:
        splits = directory / "cvae-splits"
        splits.mkdir()
        (splits / "cf-train-10-users.dat").write_text(
            _lines([items[:10] for items in users]), encoding="utf-8"
        )
        (splits / "cf-test-10-users.dat").write_text(
            _lines([items[10:] for items in users]), encoding="utf-8"
        )


def _lines(lists: list[list[int]]) -> str:
    return "\n".join(" ".join(str(x) for x in [len(items), *items]) for items in lists)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "citeulike"
    directory.mkdir()
    write_citeulike(directory)
    return directory


@pytest.fixture
def data(data_dir: Path) -> Citeulike:
    return load_citeulike(data_dir)


# --- loader ---------------------------------------------------------------------------------


def test_loader_rebuilds_each_paper_from_its_bag_of_words(tmp_path: Path) -> None:
    (tmp_path / "vocabulary.dat").write_text("alpha\nbeta\ngamma", encoding="utf-8")
    (tmp_path / "mult.dat").write_text("2 0:2 2:1\n0\n1 1:3", encoding="utf-8")
    (tmp_path / "users.dat").write_text("2 0 2\n1 1\n3 2 0 0", encoding="utf-8")

    loaded = load_citeulike(tmp_path)

    assert loaded.vocabulary == ["alpha", "beta", "gamma"]
    assert [p.abstract for p in loaded.papers] == ["alpha alpha gamma", "", "beta beta beta"]
    assert [p.paper_id for p in loaded.papers] == [paper_id(0), paper_id(1), paper_id(2)]
    assert all(p.title == "" for p in loaded.papers)
    assert loaded.n_users == 3 and loaded.n_papers == 3
    # Binary, and a paper listed twice in a library counts once.
    assert loaded.user_items.toarray().tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("users.dat", "3 0 1", "count 3 but lists 2"),
        ("users.dat", "1 7", "item ids must be in"),
        ("mult.dat", "1 0:1\n2 1:1", "count 2 but lists 1"),
        ("mult.dat", "1 9:1\n0", "word id 9 is not in the vocabulary"),
    ],
)
def test_loader_names_the_bad_line(tmp_path: Path, file: str, content: str, message: str) -> None:
    files = {"vocabulary.dat": "alpha\nbeta", "mult.dat": "1 0:1\n0", "users.dat": "1 0"}
    files[file] = content
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_citeulike(tmp_path)


def test_in_matrix_split_loads_both_halves(data_dir: Path, data: Citeulike) -> None:
    split = load_in_matrix_split(data_dir, data.n_papers, p=10)

    assert split.train_matrix.shape == split.test_matrix.shape == data.user_items.shape
    assert (split.train_matrix + split.test_matrix).toarray().tolist() == (
        data.user_items.toarray().tolist()
    )
    assert split.eval_users.tolist() == list(range(20))  # only they have more than 10 papers


# --- folds -----------------------------------------------------------------------------------


def test_folds_are_the_protocols_seeded_permutation() -> None:
    folds = cold_start_folds(103, n_folds=5, seed=3)
    expected = np.array_split(np.random.default_rng(3).permutation(103), 5)

    assert [f.tolist() for f in folds] == [e.tolist() for e in expected]
    joined = np.concatenate(folds)
    assert np.sort(joined).tolist() == list(range(103))  # disjoint and covering
    assert {f.size for f in folds} == {20, 21}
    assert cold_start_folds(103, seed=4)[0].tolist() != folds[0].tolist()


def test_fold_split_hides_every_interaction_of_the_candidates(data: Citeulike) -> None:
    folds = cold_start_folds(data.n_papers, seed=0)
    for fold in folds:
        split = fold_split(data, fold)

        assert np.intersect1d(split.train_items, split.test_items).size == 0
        assert np.union1d(split.train_items, split.test_items).tolist() == list(
            range(data.n_papers)
        )
        assert sorted(split.test_items.tolist()) == sorted(fold.tolist())
        # Training columns are exactly the other papers: the candidates have no interaction.
        full = data.user_items.toarray()
        assert np.array_equal(split.train_matrix.toarray(), full[:, split.train_items])
        assert np.array_equal(split.test_matrix.toarray(), full[:, split.test_items])
        assert split.train_matrix.nnz + split.test_matrix.nnz == data.user_items.nnz

        n_train = split.train_matrix.getnnz(axis=1)
        n_test = split.test_matrix.getnnz(axis=1)
        assert split.eval_users.tolist() == np.flatnonzero((n_train > 0) & (n_test > 0)).tolist()


def test_fold_split_rejects_bad_folds(data: Citeulike) -> None:
    with pytest.raises(ValueError, match="repeated"):
        fold_split(data, [1, 1, 2])
    with pytest.raises(ValueError, match="paper ids in"):
        fold_split(data, [0, N_PAPERS])


def test_eval_users_need_a_training_paper() -> None:
    lonely = Citeulike(
        papers=[],
        user_items=sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=np.float32)),
        vocabulary=[],
    )
    # A user whose only paper is held out cannot be evaluated; nor can one without papers.
    split = fold_split(_with_papers(lonely, 3), [0])
    assert split.eval_users.tolist() == [1]


def _with_papers(data: Citeulike, n: int) -> Citeulike:
    from bench.quality.citeulike import PAPER_DATE
    from papersift.core.types import Paper

    papers = [Paper(paper_id=paper_id(i), title="", date=PAPER_DATE) for i in range(n)]
    return Citeulike(papers=papers, user_items=data.user_items, vocabulary=data.vocabulary)


# --- baselines --------------------------------------------------------------------------------


@pytest.fixture
def two_topics(data: Citeulike) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Features of training papers 0..39 and candidates 40..59, via papersift's featurizer."""
    featurizer = Featurizer.fit(data.papers[:40])
    train = featurizer.transform(data.papers[:40])
    candidates = featurizer.transform(data.papers[40:])
    # User 0 likes neuroscience (even papers), user 1 astronomy (odd papers).
    users = sp.csr_matrix(
        np.array([[topic_of(p) == t for p in range(40)] for t in (0, 1)], dtype=np.float32)
    )
    return train, candidates, users


def _right_topic_first(scores: np.ndarray) -> None:
    for user, topic in ((0, 0), (1, 1)):
        top = np.argsort(-scores[user], kind="stable")[:10]
        assert all(topic_of(40 + int(c)) == topic for c in top), (user, top)


def test_profile_cosine_ranks_the_users_topic_first(
    two_topics: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix],
) -> None:
    train, candidates, users = two_topics
    scores = profile_cosine_scores(train, candidates, users)

    assert scores.shape == (2, 20) and scores.dtype == np.float32
    _right_topic_first(scores)
    assert float(scores.max()) <= 1.0 + 1e-6
    # Chunking changes nothing.
    assert np.allclose(scores, profile_cosine_scores(train, candidates, users, chunk_size=1))


def test_svm_ranks_the_users_topic_first(
    two_topics: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix],
) -> None:
    train, candidates, users = two_topics
    scores = per_user_svm_scores(train, candidates, users, c=1.0, max_negatives=10, chunk_size=1)

    assert scores.shape == (2, 20)
    _right_topic_first(scores)


def test_baselines_give_users_without_papers_zeros(
    two_topics: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix],
) -> None:
    train, candidates, _ = two_topics
    nobody = sp.csr_matrix((1, 40), dtype=np.float32)

    assert not profile_cosine_scores(train, candidates, nobody).any()
    assert not per_user_svm_scores(train, candidates, nobody).any()


def test_random_scores_are_seeded(
    two_topics: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix],
) -> None:
    train, candidates, users = two_topics
    first = random_scores(train, candidates, users, seed=5)

    assert first.shape == (2, 20)
    assert np.array_equal(first, random_scores(train, candidates, users, seed=5))
    assert not np.array_equal(first, random_scores(train, candidates, users, seed=6))


def test_baselines_reject_mismatched_inputs(
    two_topics: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix],
) -> None:
    train, candidates, users = two_topics
    with pytest.raises(ValueError, match="same featurizer"):
        profile_cosine_scores(train, candidates[:, :3], users)
    with pytest.raises(ValueError, match="column j must be training item j"):
        per_user_svm_scores(train, candidates, users[:, :5])


# --- the harness ------------------------------------------------------------------------------


def test_quick_run_prints_the_table_and_writes_the_results(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    code = main(
        [
            "--quick",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--no-progress",
            "--epochs",
            "2",
        ]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert "| method | recall@20 | recall@50 | recall@100 | recall@200 | nDCG@20 |" in printed
    for row in ("random", "TF-IDF profile cosine", "per-user linear SVM", "LightFM WARP"):
        assert f"| {row}" in printed
    # The views of the shipped lists come right under it, in the cold-start table only.
    shipped = printed.index(f"| {SHIPPED} |")
    assert printed.index(f"| {DIVERSITY_ROW} |") > shipped
    assert printed.index(f"| {RULE_ROW} |") > shipped
    assert printed.count(f"| {DIVERSITY_ROW} |") == printed.count(f"| {RULE_ROW} |") == 1
    assert "Intra-list similarity" in printed and "Candidates dropped: fold 0" in printed
    assert "recall@100, SVM's users" in printed
    assert "## In-matrix" in printed and "recall@300" in printed
    assert "## New users" in printed and "first 3" in printed
    assert (out / "quality.md").read_text(encoding="utf-8").startswith("# papersift quality")
    assert (out / "quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "quality.json").exists()


def test_masked_pairs_go_below_every_other_candidate() -> None:
    scores = np.array([[0.9, 0.5, -3.0], [0.1, 0.2, 0.3]], dtype=np.float32)
    mask = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32))

    masked = apply_mask(scores.copy(), mask)

    assert np.argsort(-masked[0]).tolist() == [1, 2, 0]
    assert np.argsort(-masked[1]).tolist() == [1, 0, 2]
    assert np.isfinite(masked).all()  # the metrics refuse infinities


def test_options_from_the_command_line() -> None:
    assert parse_args([]).users is None  # the protocol judges every user
    quick = parse_args(["--quick"])
    assert (quick.folds, quick.users, quick.svm_users, quick.epochs) == (1, 500, 100, 3)

    full = parse_args(["--users", "all", "--methods", "shipped,cosine", "--folds", "2"])
    assert full.users is None and full.folds == 2
    assert full.methods == ("cosine", "shipped")  # table order, whatever the order given
    assert {"shipped", "diversity", "rules"} <= set(parse_args([]).methods)
    views = parse_args(["--methods", "rules,shipped,diversity"])
    assert views.methods == ("shipped", "diversity", "rules")


@pytest.mark.parametrize(
    "argv",
    [
        ["--methods", "cosine,magic"],
        ["--methods", "cosine,diversity"],  # the views re-rank the shipped lists
        ["--folds", "6"],
        ["--users", "0"],
        ["--users", "x"],
    ],
)
def test_bad_options_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "error" in capsys.readouterr().err


# --- diversity and rules on the shipped lists -------------------------------------------------


@pytest.fixture
def task(data: Citeulike) -> RankingTask:
    """Fold 0, with "review" in candidates 0 and 3 and only "reviews" in candidate 5."""
    task = cold_start_task(
        data, fold_split(data, cold_start_folds(data.n_papers)[0]), "fold 0", users=None, seed=0
    )
    extra = {0: " review", 3: " Review", 5: " reviews"}
    candidates = [
        dataclasses.replace(paper, abstract=paper.abstract + extra.get(j, ""))
        for j, paper in enumerate(task.candidate_papers)
    ]
    return dataclasses.replace(task, candidate_papers=candidates, _features={})


@pytest.fixture
def shipped(task: RankingTask) -> SharedFit:
    config, features = shipped_config()
    assert config is not None
    method = LightFMMethod(
        SHIPPED, dataclasses.replace(config, epochs=2), features=features, progress=False
    )
    return SharedFit(method)


def test_the_shipped_model_is_fitted_once_per_task(task: RankingTask, shipped: SharedFit) -> None:
    ranker = shipped.fit(task)

    assert shipped.fit(task) is ranker
    other = dataclasses.replace(task, _features={})
    assert shipped.fit(other) is not ranker


def test_diversified_scores_rank_as_the_server_reranks(
    task: RankingTask, shipped: SharedFit
) -> None:
    base = shipped.fit(task)
    rows = np.arange(task.eval_users.size, dtype=np.int64)
    ids = [paper.paper_id for paper in task.candidate_papers]
    row = {paper_id: j for j, paper_id in enumerate(ids)}
    base_scores = base.score(rows)

    for diversity in (0.0, 0.9):
        scores = DiversifiedRanker(base, diversity).score(rows)
        for user in range(rows.size):
            expected = diversified(
                rank_by_scores(ids, base_scores[user]), row, base.items.content, diversity
            )
            order = np.argsort(-scores[user], kind="stable")
            assert [ids[j] for j in order] == [item.paper_id for item in expected]
    ranker = DiversifiedRanker(base, 0.9)
    ranker.score(rows)
    assert set(ranker.details) == {"top20_cosine_shipped", "top20_cosine"}


def test_papers_a_rule_drops_go_below_every_other_candidate(
    task: RankingTask, shipped: SharedFit
) -> None:
    base = shipped.fit(task)
    rows = np.arange(task.eval_users.size, dtype=np.int64)
    ranker = RuledRanker(base, RankRules.build(must_not_keywords=["review", "survey"]))

    scores = ranker.score(rows)

    # Whole words, any case: "reviews" (candidate 5) is not "review".
    assert np.flatnonzero(ranker.dropped).tolist() == [0, 3]
    assert (scores[:, [0, 3]] == MASKED_SCORE).all()
    kept = np.delete(np.arange(scores.shape[1]), [0, 3])
    assert np.array_equal(scores[:, kept], base.score(rows)[:, kept])
    assert ranker.details == {"dropped": 2.0, "candidates": float(scores.shape[1])}
