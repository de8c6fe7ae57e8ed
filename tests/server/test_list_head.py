"""Building only the head of a list gives exactly the list of the full sort and all steps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from papersift.core.bundle import ModelBundle
from papersift.core.signals import UserSignals
from papersift.core.types import Paper, PaperId, ScoredPaper, UserId
from papersift.server.content import content_bundle
from papersift.server.day import DayItems, DayPapers
from papersift.server.lists import finish_list, finish_scores
from papersift.server.queries import RankQuery
from papersift.server.ranking import ordered_rows, rank_by_scores
from papersift.server.readers import Reader
from papersift.server.rules import NO_RULES, RankRules
from tests.synthetic import CATEGORIES, DAYS, make_world

NOW = dt.datetime(2025, 4, 3, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    # 630 papers, so that the head of a 50-paper list is a small part of the day.
    return make_world(papers_per_topic_per_day=70).papers


@pytest.fixture(scope="module")
def model(papers: list[Paper]) -> ModelBundle:
    return content_bundle(papers, "content-head-test", NOW)


@pytest.fixture(scope="module")
def day(papers: list[Paper]) -> DayPapers:
    return DayPapers({paper.paper_id: paper for paper in papers})


@pytest.fixture(scope="module")
def items(model: ModelBundle, day: DayPapers) -> DayItems:
    paper_ids = tuple(sorted(day.papers))
    features = model.featurizer.transform([day.papers[pid] for pid in paper_ids])
    return DayItems(paper_ids, model.scorer.prepare_items(features))


def full_sort(candidates: list[PaperId], scores: np.ndarray) -> list[ScoredPaper]:
    """The tie rule written out: best score first, then the smaller id (candidates sorted)."""
    order = sorted(range(len(candidates)), key=lambda i: (-float(scores[i]), candidates[i]))
    return [ScoredPaper(candidates[i], float(scores[i])) for i in order]


def score_sets(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [
        rng.normal(size=n).astype(np.float32),
        # Heavy ties: five distinct scores over the whole day.
        rng.integers(0, 5, n).astype(np.float32),
        np.zeros(n, dtype=np.float32),
        np.where(rng.random(n) < 0.5, -0.0, 0.0).astype(np.float32),
    ]


@pytest.mark.parametrize("head", [1, 7, 100, 999, 5_000])
def test_ordered_rows_joined_are_the_stable_sort(head: int) -> None:
    for scores in score_sets(1_000):
        joined = np.concatenate(list(ordered_rows(scores, head)))
        expected = np.argsort(-scores.astype(np.float64), kind="stable")
        assert joined.tolist() == expected.tolist()
        first = next(iter(ordered_rows(scores, head)))
        assert len(first) >= min(head, len(scores))


def test_ordered_rows_sort_scores_that_are_not_finite_in_one_go() -> None:
    scores = np.array([0.5, np.nan, 2.0, -np.inf, 2.0, np.inf], dtype=np.float32)
    chunks = list(ordered_rows(scores, 2))
    assert len(chunks) == 1
    assert chunks[0].tolist() == np.argsort(-scores.astype(np.float64), kind="stable").tolist()


@pytest.mark.parametrize("max_length", [None, 1, 10, 333, 2_000])
def test_rank_by_scores_keeps_the_tie_rule_with_a_head(max_length: int | None) -> None:
    candidates = [PaperId(f"p{i:04d}") for i in range(1_000)]
    excluded = set(candidates[::3])
    for scores in score_sets(len(candidates)):
        expected = full_sort(candidates, scores)
        assert rank_by_scores(candidates, scores) == expected
        kept = [item for item in expected if item.paper_id not in excluded]
        got = rank_by_scores(candidates, scores, excluded, max_length)
        assert got == kept[:max_length]


def reader_hiding(day: DayPapers, papers: list[Paper], every: int) -> Reader:
    """A reader who dismissed every ``every``-th paper and clicked the one after each ."""
    dismissed = frozenset(paper.paper_id for paper in papers[::every])
    clicked = frozenset(paper.paper_id for paper in papers[1::every])
    touched = {pid: day.papers[pid] for pid in dismissed | clicked}
    first = {pid: dt.datetime.combine(DAYS[0], dt.time(9), dt.UTC) for pid in touched}
    signals = UserSignals(positive=dict.fromkeys(clicked, 1.0), negative=dismissed)
    return Reader(signals, first, touched, None, None, False, frozenset(clicked))


RULES = {
    "none": NO_RULES,
    "one category": RankRules.build(include_categories=[CATEGORIES["graphs"]]),
    "most dropped": RankRules.build(
        include_categories=[CATEGORIES["graphs"]], must_have_keywords=["spectral convolution"]
    ),
    "nothing left": RankRules.build(must_have_keywords=["no-such-word-anywhere"]),
    "excluded category": RankRules.build(exclude_categories=[CATEGORIES["graphs"]]),
    "followed": RankRules.build(followed_authors=["Graphs Author 1"]),
    "touched": RankRules.build(exclude_touched=True),
    "seen": RankRules.build(exclude_seen=True),
}


@pytest.mark.parametrize("rules", list(RULES.values()), ids=list(RULES))
@pytest.mark.parametrize("diversity", [0.0, 0.6])
@pytest.mark.parametrize("max_length", [1, 50, 250, 1_000])
def test_finish_scores_is_finish_list_of_the_full_sort(
    papers: list[Paper],
    day: DayPapers,
    items: DayItems,
    rules: RankRules,
    diversity: float,
    max_length: int,
) -> None:
    query = RankQuery(UserId("r"), DAYS[-1], 20, rules=rules, diversity=diversity)
    for reader in (reader_hiding(day, papers, 2), reader_hiding(day, papers, 9)):
        for scores in score_sets(len(items.paper_ids)):
            full = rank_by_scores(items.paper_ids, scores)
            expected = finish_list(full, query, reader, day, items, max_length)
            assert finish_scores(scores, query, reader, day, items, max_length) == expected


def test_filters_that_drop_most_papers_reach_past_the_head(day: DayPapers, items: DayItems) -> None:
    query = RankQuery(UserId("r"), DAYS[-1], 20, rules=RULES["most dropped"])
    reader = Reader(UserSignals(), {}, {}, None, None, False)
    scores = score_sets(len(items.paper_ids))[0]
    kept = finish_scores(scores, query, reader, day, items, 100)
    # Nothing hidden, filters on: the head is twice the list.
    head = next(iter(ordered_rows(scores, 2 * 100)))
    in_head = {items.paper_ids[row] for row in head.tolist()}
    assert kept and not {item.paper_id for item in kept} <= in_head
    full = rank_by_scores(items.paper_ids, scores)
    assert kept == finish_list(full, query, reader, day, items, 100)
