"""The client's repair policy and its mirror of the server's paper validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

import pytest

from papersift.client import Paper
from papersift.client.feeds import (
    RULES,
    Problem,
    is_category_code,
    load_located,
    paper_problems,
    prepare,
    repair_paper,
)
from papersift.client.feeds import _limits as client_limits
from papersift.client.feeds._authors import split_author
from papersift.client.feeds.repair import ELLIPSIS, cut_at_word
from papersift.core import limits as core_limits
from papersift.core.errors import InvalidInput
from papersift.core.types import Paper as CorePaper
from papersift.core.types import PaperId
from papersift.core.validation import check_paper
from tests.conftest import FIXTURES

# 14 real records of shared/data/arxiv-2025q2/papers.jsonl.gz (see tests/fixtures/feeds/README.md)
QUIRKS = str(FIXTURES / "feeds" / "arxiv_2025q2_quirks.jsonl")
DAY = dt.date(2025, 4, 1)


def paper(**fields: Any) -> Paper:
    """A valid paper with ``fields`` replaced."""
    valid = Paper(
        paper_id="arxiv:2504.00001",
        title="A Valid Paper",
        date=DAY,
        abstract="An abstract.",
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.CL", "cs.LG"),
        url="https://arxiv.org/abs/2504.00001",
        source="arxiv",
    )
    return dataclasses.replace(valid, **fields)


def core_problem(paper: Paper) -> Problem | None:
    """The first problem the server's own validation finds, as a client ``Problem``."""
    core = CorePaper(**{**dataclasses.asdict(paper), "paper_id": PaperId(paper.paper_id)})
    try:
        check_paper(core, "paper")
    except InvalidInput as exc:
        return Problem(exc.field.removeprefix("paper."), exc.problem)
    return None


def test_the_client_mirrors_every_limit_of_the_server() -> None:
    mirrored = {name: value for name, value in vars(client_limits).items() if name.isupper()}
    assert mirrored
    assert mirrored == {name: getattr(core_limits, name) for name in mirrored}


@pytest.mark.parametrize(
    "bad",
    [
        paper(paper_id=""),
        paper(paper_id=" arxiv:1"),
        paper(paper_id="arxiv:\x07"),
        paper(paper_id="x" * (core_limits.MAX_ID_LENGTH + 1)),
        paper(title=""),
        paper(title="   "),
        paper(title="t" * (core_limits.MAX_TITLE_LENGTH + 1)),
        paper(abstract="nul \x00 here"),
        paper(abstract="a" * (core_limits.MAX_ABSTRACT_LENGTH + 1)),
        paper(authors=("Ada", "")),
        paper(authors=("a" * (core_limits.MAX_AUTHOR_LENGTH + 1),)),
        paper(authors=("Ada",) * (core_limits.MAX_AUTHORS + 1)),
        paper(categories=("c" * (core_limits.MAX_CATEGORY_LENGTH + 1),)),
        paper(categories=("cs.CL",) * (core_limits.MAX_CATEGORIES + 1)),
        paper(url="ftp://arxiv.org/abs/2504.00001"),
        paper(url="https://example.org/" + "u" * core_limits.MAX_URL_LENGTH),
        paper(source="s" * (core_limits.MAX_SOURCE_LENGTH + 1)),
    ],
)
def test_the_checker_refuses_what_the_server_refuses_in_its_words(bad: Paper) -> None:
    expected = core_problem(bad)
    assert expected is not None
    assert paper_problems(bad)[0] == expected


def test_the_checker_accepts_what_the_server_accepts() -> None:
    assert core_problem(paper()) is None
    assert paper_problems(paper()) == []


def test_the_checker_lists_every_problem_and_a_lone_surrogate() -> None:
    problems = paper_problems(paper(title="", url="mailto:x", abstract="\ud800"))
    assert [str(problem) for problem in problems] == [
        "title: must not be empty",
        "abstract: contains a lone surrogate (U+D800), which cannot be sent",
        "url: 'mailto:x' is not an http(s) URL",
    ]


@pytest.mark.parametrize(
    "term",
    ["cs.CL", "math.AP", "hep-th", "stat.ML", "q-bio.NC", "cond-mat.mes-hall", "physics", "cmp-lg"],
)
def test_arxiv_category_codes(term: str) -> None:
    assert is_category_code(term)


@pytest.mark.parametrize(
    "term",
    [
        "I.2.7",
        "68T05",
        "H.3.3; I.2.7",
        "na",
        "cs.cl",
        "CS.CL",
        "cs.CL cs.LG",
        "Natural language",
        "",
    ],
)
def test_acm_and_msc_classes_and_free_text_are_not_category_codes(term: str) -> None:
    assert not is_category_code(term)


def test_the_real_quirky_records_are_all_repaired_into_valid_papers() -> None:
    feed = load_located(QUIRKS)
    assert len(feed.papers) == 14
    # As read, 9 of them break the server's limits (8 categories, 1 author).
    assert sum(core_problem(item.paper) is not None for item in feed.papers) == 9

    prepared = prepare([feed])

    assert prepared.rejected == []
    assert len(prepared.papers) == 14
    assert all(core_problem(repaired) is None for repaired in prepared.papers)
    assert prepared.repaired == 12
    assert prepared.repairs == Counter({"category-not-a-code": 17, "author-list-split": 1})
    by_id = {repaired.paper_id: repaired for repaired in prepared.papers}
    assert by_id["arxiv:2504.10499"].categories == ("cs.IR", "cs.CL")
    assert by_id["arxiv:2505.21558"].categories == ("cs.CV", "cs.AI", "cs.LG")  # "na" dropped
    assert by_id["arxiv:2503.22698"] == feed.papers[0].paper  # nothing to repair


def test_the_glued_author_list_of_2506_02197_becomes_its_39_authors() -> None:
    feed = load_located(QUIRKS)
    glued = next(item.paper for item in feed.papers if item.paper.paper_id == "arxiv:2506.02197")
    assert len(glued.authors) == 4 and len(glued.authors[3]) == 512

    repaired, rules = repair_paper(glued)

    assert rules == ("author-list-split",)
    assert len(repaired.authors) == 39
    assert repaired.authors[:5] == (
        "Marcos V. Conde",
        "Radu Timofte",
        "Zihao Lu",
        "Xiangyu Kong",
        "Xiaoxia Xing",
    )
    assert "Zheng-Jun Zha" in repaired.authors
    assert repaired.authors[-1] == "Watchara Ruangsang"


def test_namesake_authors_are_kept() -> None:
    feed = load_located(QUIRKS)
    two = next(item.paper for item in feed.papers if item.paper.paper_id == "arxiv:2505.20405")
    assert two.authors.count("Lorenzo Baraldi") == 2
    assert repair_paper(two) == (two, ())


@pytest.mark.parametrize(
    ("author", "names"),
    [
        ("Alice Smith, Bob Jones and Carol White", ("Alice Smith", "Bob Jones", "Carol White")),
        ("Alice Smith; Bob van der Berg", ("Alice Smith", "Bob van der Berg")),
        (
            "Ada Lovelaceand Alan Turingand Grace Hopperand",
            ("Ada Lovelace", "Alan Turing", "Grace Hopper"),
        ),
        # Stays whole: one name family-name first, a suffix, an institution, real "-and" names.
        ("Smith, John", ("Smith, John",)),
        ("John Smith, Jr.", ("John Smith, Jr.",)),
        ("Department of Physics and Astronomy", ("Department of Physics and Astronomy",)),
        ("Roland Barthes", ("Roland Barthes",)),
        ("Jean Ferdinand de Saussure", ("Jean Ferdinand de Saussure",)),
        # Two glued names under the limit are left alone: "Maria Rolland Garcia Lopez".
        ("Maria Rolland Garcia Lopez", ("Maria Rolland Garcia Lopez",)),
        ("Li Wei2and Zhang San", ("Li Wei2and Zhang San",)),
    ],
)
def test_an_author_string_is_split_only_when_every_part_is_a_name(
    author: str, names: tuple[str, ...]
) -> None:
    assert split_author(author, max_length=client_limits.MAX_AUTHOR_LENGTH) == names


def test_two_glued_names_are_split_when_the_string_is_over_the_limit() -> None:
    first, second = "Ada " + "Lovelace" * 20, "Alan " + "Turing" * 25
    assert split_author(f"{first}and {second}", max_length=300) == (first, second)
    assert split_author(f"{first}and {second}", max_length=400) == (f"{first}and {second}",)


def test_text_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "word " * 300
    cut = cut_at_word(text.strip(), 1_000)
    assert len(cut) <= 1_000
    assert cut.endswith("word" + ELLIPSIS)
    assert cut_at_word("x" * 50, 10) == "x" * 9 + ELLIPSIS  # one long word: cut inside it
    assert cut_at_word("short", 10) == "short"


def test_over_long_text_and_lists_are_cut_to_the_limits_and_counted() -> None:
    long_author = " ".join(["Name"] * 100)  # 499 characters, one "name": cannot be split
    bad = paper(
        title="Title " * 300,
        abstract="abstract " * 3_000,
        authors=(long_author, *(f"Author {n}" for n in range(1_100))),
        categories=tuple(f"cs.{chr(65 + n // 26)}{chr(65 + n % 26)}" for n in range(60)),
    )

    repaired, rules = repair_paper(bad)

    assert Counter(rules) == Counter(
        {
            "whitespace-collapsed": 2,  # the title's and the abstract's trailing spaces
            "title-cut": 1,
            "abstract-cut": 1,
            "author-cut": 1,
            "authors-capped": 1,
            "categories-capped": 1,
        }
    )
    assert paper_problems(repaired) == []
    assert len(repaired.title) <= core_limits.MAX_TITLE_LENGTH
    assert repaired.title.endswith("Title" + ELLIPSIS)
    assert repaired.authors[0].endswith(ELLIPSIS)
    assert len(repaired.authors) == core_limits.MAX_AUTHORS
    assert repaired.categories[-1] == "cs.BX"  # the first 50 kept


def test_whitespace_empty_entries_and_repeated_categories() -> None:
    messy = paper(
        title=" A  Valid\nPaper ",
        authors=("Ada\n Lovelace", "  ", "Alan Turing"),
        categories=("cs.CL", " cs.CL", "", "cs.LG"),
        url=" https://arxiv.org/abs/2504.00001\n",
    )

    repaired, rules = repair_paper(messy)

    assert repaired == paper()
    assert Counter(rules) == Counter(
        {
            "whitespace-collapsed": 5,  # title, 2 authors, 1 category, url
            "empty-dropped": 2,
            "duplicate-category-dropped": 1,
        }
    )


def test_every_rule_has_a_singular_and_plural_description() -> None:
    assert all(one and many and one != many for one, many in RULES.values())


def test_what_cannot_be_repaired_is_left_for_the_checker() -> None:
    repaired, rules = repair_paper(paper(title=" ", url="file:///etc/passwd"))
    assert rules == ("whitespace-collapsed",)
    assert [problem.field for problem in paper_problems(repaired)] == ["title", "url"]
