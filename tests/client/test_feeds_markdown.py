"""The Markdown arXiv digest parser, on the real seed and on edge cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from papersift.client.feeds import FeedError, parse_markdown
from papersift.client.feeds._ids import title_paper_id
from tests.client.feed_samples import assert_is_l2m

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
SEED = FIXTURES / "000_982c8c29131a072e.txt"
DAY = dt.date(2025, 3, 7)


def test_every_paper_of_the_seed_is_parsed() -> None:
    papers = parse_markdown(SEED.read_text(encoding="utf-8"), date=DAY, source_name="seed.md")

    assert [p.paper_id for p in papers] == [
        "arxiv:2503.04725",
        "arxiv:2503.04723",
        "arxiv:2503.04722",
        "arxiv:2503.04715",
        "arxiv:2403.11807",
        "arxiv:2503.04713",
        "arxiv:2503.04704",
        "arxiv:2503.04693",
        "arxiv:2503.04691",
        "arxiv:2503.02800",
        "arxiv:2410.06186",
        "arxiv:2503.04675",
        "arxiv:2502.02067",
    ]
    assert all(p.date == DAY and p.source == "arxiv-digest" and p.abstract for p in papers)
    assert all(
        p.url == "https://arxiv.org/abs/" + p.paper_id.removeprefix("arxiv:") for p in papers
    )


def test_seed_fields_are_exact() -> None:
    papers = parse_markdown(SEED.read_text(encoding="utf-8"), date=DAY)

    first = papers[0]
    assert_is_l2m(first)
    assert first.categories == ()
    gaming = papers[4]
    assert gaming.title.endswith("Evaluating LLMs' Gaming Ability in Multi-Agent Environments")
    assert "GAMA($\\gamma$)-Bench" in gaming.abstract
    assert gaming.authors[-1] == "Michael R. Lyu"
    assert papers[-1].abstract.endswith(
        "Project website{\\S}: https://sssshivvvv.github.io/adaptbot/"
    )


def test_a_date_is_required() -> None:
    with pytest.raises(FeedError) as caught:
        parse_markdown(SEED.read_text(encoding="utf-8"), source_name="seed.md")

    assert str(caught.value) == "seed.md: feed has no listing dates; pass --date YYYY-MM-DD"


def test_broken_authors_line_names_the_line() -> None:
    text = (FIXTURES / "broken_authors.md").read_text(encoding="utf-8")

    with pytest.raises(FeedError) as caught:
        parse_markdown(text, date=DAY, source_name="seed.md")

    assert str(caught.value) == "seed.md line 13: '- **Authors**:' is not a list of strings"
    assert caught.value.location == "line 13"


@pytest.mark.parametrize(
    "authors",
    [
        "['Ada', 3]",
        "'Ada Lovelace'",
        "__import__('os').system('true')",
        "{'Ada': 1}",
        "['Ada'] + ['Bob']",
    ],
)
def test_authors_must_be_a_literal_list_of_strings(authors: str) -> None:
    text = f"## A title\n- **Url**: http://arxiv.org/abs/2503.04725v1\n- **Authors**: {authors}\n"

    with pytest.raises(FeedError, match=r"^<feed> line 3: '- \*\*Authors\*\*:' is not a list"):
        parse_markdown(text, date=DAY)


def test_variants_quotes_and_continuations() -> None:
    text = "\r\n".join(
        [
            "# topic one",
            "## A  paper with\tspaces ",
            "- **Url:** <https://arxiv.org/abs/hep-th/9901001v2>",
            """- **Authors**: ["Miles O'Brien", 'Zoë "Z" Ng', '  ']""",
            "- **Abstract**: First line",
            "continues here.",
            "- **Comment**: 12 pages",
            "",
            "# topic two",
            "## Not on arXiv",
            "- **Url**: https://example.org/paper",
            "- **Authors**: []",
        ]
    )

    first, second = parse_markdown(text, date=DAY)

    assert first.paper_id == "arxiv:hep-th/9901001"
    assert first.url == "https://arxiv.org/abs/hep-th/9901001"
    assert first.title == "A paper with spaces"
    assert first.authors == ("Miles O'Brien", 'Zoë "Z" Ng')
    assert first.abstract == "First line continues here."
    assert second.paper_id == title_paper_id("Not on arXiv")
    assert second.url == "https://example.org/paper"
    assert second.authors == ()
    assert second.abstract == ""


def test_a_paper_listed_under_two_topics_is_returned_twice() -> None:
    block = "## Same\n- **Url**: http://arxiv.org/abs/2503.04725v1\n"

    papers = parse_markdown(f"# a\n{block}# b\n{block}", date=DAY)

    assert [p.paper_id for p in papers] == ["arxiv:2503.04725", "arxiv:2503.04725"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# t\n- **Url**: http://arxiv.org/abs/2503.04725\n", "line 2: '- **Url**:' before the"),
        ("## T\n- **Url**: a\n- **Url**: b\n", "line 3: second '- **Url**:' line for the paper"),
        ("## T\nstray text\n", "line 2: unexpected text 'stray text'"),
        ("## T\n- **Url**: x\n\n## \n", "line 4: '##' heading without a title"),
        ("## T\n### Sub\n", "line 2: unexpected level-3 heading"),
    ],
)
def test_malformed_lines_fail_the_whole_feed(text: str, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_markdown(text, date=DAY, source_name="d.md")

    assert str(caught.value).startswith(f"d.md {message}")


def test_empty_digest_has_no_papers() -> None:
    assert parse_markdown("# topic\n\n", date=DAY) == []
