"""The Hugging Face Daily Papers page-text parser, on the real seed and on edge cases."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from papersift.client.feeds import FeedError, parse_hf_text
from papersift.client.feeds._ids import normalize_title, title_paper_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
SEED = FIXTURES / "003_3a48079966754c24.txt"
DAY = dt.date(2025, 8, 6)


def _seed_layout() -> list[tuple[str, str]]:
    """The seed's (title, abstract) pairs read by its fixed layout: header of 12 lines, then
    title / blank / abstract / blank; an independent check of the parser's pairing."""
    lines = SEED.read_text(encoding="utf-8").split("\n")
    return list(zip(lines[12::4], lines[14::4], strict=True))


def test_every_paper_of_the_seed_is_parsed_with_its_abstract() -> None:
    papers = parse_hf_text(SEED.read_text(encoding="utf-8"), date=DAY, source_name="hf.txt")

    assert len(papers) == 80
    assert [(p.title, p.abstract) for p in papers] == _seed_layout()
    assert all(p.date == DAY and p.source == "hf-daily" and p.url == "" for p in papers)
    assert len({p.paper_id for p in papers}) == 80


def test_seed_titles_and_ids() -> None:
    papers = parse_hf_text(SEED.read_text(encoding="utf-8"), date=DAY)

    assert papers[0].title == (
        "Zero-Shot Statistical Tests for LLM-Generated Text Detection using Finite Sample "
        "Concentration Inequalities"
    )
    assert papers[3].title == "What's the Magic Word? A Control Theory of LLM Prompting"
    assert papers[13].title == "Densing Law of LLMs"
    assert papers[-1].title == (
        "Predictive Crypto-Asset Automated Market Making Architecture for Decentralized "
        "Finance using Deep Reinforcement Learning"
    )
    assert papers[0].abstract.startswith("Verifying the provenance of content is crucial")
    expected = hashlib.sha256(b"densing law of llms").hexdigest()[:16]
    assert papers[13].paper_id == f"title:{expected}"


def test_title_ids_ignore_case_accents_and_punctuation() -> None:
    assert normalize_title("  Émile's  LLM-Test!\u00a0(v2) ") == "emile s llm test v2"
    assert normalize_title("ﬁne-tuning") == "fine tuning"
    assert title_paper_id("Densing Law of LLMs") == title_paper_id("densing law, of LLMs!")
    assert title_paper_id("Densing Law of LLMs") != title_paper_id("Densing Laws of LLMs")


def test_a_date_is_required() -> None:
    with pytest.raises(FeedError, match=r"^hf\.txt: feed has no listing dates; pass --date"):
        parse_hf_text("Title\n\nAbstract.", source_name="hf.txt")


def test_header_variants_and_multi_paragraph_abstracts() -> None:
    text = (
        "Daily Papers\n\nbyAK and the research community\n\nMar 7, 2025\n\n"
        "First Title\n\nPart one of the abstract.\n\nPart two.\n\n"
        "Second Title?\n\nIts abstract.\n"
    )

    papers = parse_hf_text(text, date=DAY)

    assert [(p.title, p.abstract) for p in papers] == [
        ("First Title", "Part one of the abstract. Part two."),
        ("Second Title?", "Its abstract."),
    ]


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            "Previous\n\nNext\n\nTitle\n\nAbstract.",
            "hf.txt line 5: paper 'Previous' has no abstract (line 7 looks like another title)",
        ),
        ("Title\n\nAbstract.\n\nFooter", "hf.txt line 9: paper 'Footer' has no abstract (the"),
    ],
)
def test_a_title_without_abstract_fails_the_feed(tail: str, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_hf_text("new\n\nAug 6\n\n" + tail, date=DAY, source_name="hf.txt")

    assert str(caught.value).startswith(message)


def test_body_text_where_a_title_is_expected_names_the_line() -> None:
    text = "new\n\nSubscribe\n\n" + "An abstract sentence. " * 20 + "\n\nTitle\n\nAbstract."

    with pytest.raises(FeedError) as caught:
        parse_hf_text(text, date=DAY, source_name="hf.txt")

    assert str(caught.value).startswith("hf.txt line 5: expected a paper title, found a paragraph")


def test_only_a_header_has_no_papers() -> None:
    assert parse_hf_text("new\n\nDaily Papers\n\nAug 6\n", date=DAY) == []
