"""The arXiv Atom and RSS parsers, and the safety of their XML parsing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from papersift.client.feeds import FeedError, parse_arxiv_atom, parse_arxiv_rss
from tests.client.feed_samples import assert_is_l2m

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _atom(entries: str) -> str:
    return f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'


def _rss(items: str, channel_extra: str = "") -> str:
    return (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>cs.CL updates on arXiv.org</title>{channel_extra}{items}</channel></rss>"
    )


# --- Atom -------------------------------------------------------------------------------------


def test_atom_entries() -> None:
    papers = parse_arxiv_atom(_read("arxiv_api_query.atom"), source_name="q.atom")

    assert [p.paper_id for p in papers] == [
        "arxiv:2503.04725",
        "arxiv:2503.04723",
        "arxiv:2503.04722",
        "arxiv:2403.11807",
    ]
    first = papers[0]
    assert_is_l2m(first)
    assert "\n" not in first.abstract and "  " not in first.abstract
    assert first.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert first.url == "https://arxiv.org/abs/2503.04725"
    assert first.date == dt.date(2025, 3, 6)
    assert first.source == "arxiv"
    assert papers[3].date == dt.date(2024, 3, 18)  # the <published> day, not <updated>
    assert papers[3].categories == ("cs.AI", "cs.CL")


def test_atom_date_argument_overrides_published() -> None:
    papers = parse_arxiv_atom(_read("arxiv_api_query.atom"), date=dt.date(2025, 3, 7))

    assert {p.date for p in papers} == {dt.date(2025, 3, 7)}


def test_atom_missing_title_names_the_entry() -> None:
    with pytest.raises(FeedError) as caught:
        parse_arxiv_atom(_read("missing_title.atom"), source_name="papers.atom")

    assert str(caught.value) == "papers.atom entry 4: missing <title>"


def test_truncated_atom_names_the_line() -> None:
    with pytest.raises(FeedError) as caught:
        parse_arxiv_atom(_read("truncated.atom"), source_name="papers.atom")

    message = str(caught.value)
    assert message.startswith("papers.atom line ")
    assert "malformed XML (no element found" in message


def test_billion_laughs_is_refused_without_expansion() -> None:
    with pytest.raises(FeedError) as caught:
        parse_arxiv_atom(_read("billion_laughs.atom"), source_name="bomb.atom")

    assert str(caught.value).startswith("bomb.atom: refused: the XML declares a DTD")


def test_external_entities_are_refused() -> None:
    text = (
        '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&x;</title></entry></feed>'
    )

    with pytest.raises(FeedError, match="refused"):
        parse_arxiv_atom(text)


def test_atom_old_style_ids_and_empty_feed() -> None:
    entry = (
        "<entry><id>http://arxiv.org/abs/hep-th/9901001v3</id><title>Old style</title>"
        "<published>1999-01-04T12:00:00-05:00</published></entry>"
    )

    (paper,) = parse_arxiv_atom(_atom(entry))

    assert paper.paper_id == "arxiv:hep-th/9901001"
    assert paper.url == "https://arxiv.org/abs/hep-th/9901001"
    assert paper.date == dt.date(1999, 1, 4)
    assert paper.abstract == "" and paper.authors == () and paper.categories == ()
    assert parse_arxiv_atom(_atom("")) == []


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("<entry><title>T</title></entry>", "entry 1: missing <id>"),
        (
            "<entry><id>http://example.org/x</id><title>T</title></entry>",
            "entry 1: <id> 'http://example.org/x' is not an arXiv id",
        ),
        (
            "<entry><id>http://arxiv.org/abs/2503.04725v1</id><title> </title></entry>",
            "entry 1: empty <title>",
        ),
        (
            "<entry><id>http://arxiv.org/abs/2503.04725v1</id><title>T</title></entry>",
            "entry 1: missing <published>; pass --date YYYY-MM-DD",
        ),
        (
            "<entry><id>http://arxiv.org/abs/2503.04725v1</id><title>T</title>"
            "<published>yesterday</published></entry>",
            "entry 1: <published> 'yesterday' is not an ISO 8601 timestamp",
        ),
    ],
)
def test_atom_entry_problems(entries: str, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_arxiv_atom(_atom(entries), source_name="f.atom")

    assert str(caught.value) == f"f.atom {message}"


def test_atom_api_error_answer() -> None:
    entry = (
        "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234</id>"
        "<title>Error</title><summary>incorrect id format for 1234.1234</summary></entry>"
    )

    with pytest.raises(FeedError) as caught:
        parse_arxiv_atom(_atom(entry), source_name="api")

    assert str(caught.value) == (
        "api: the arXiv API answered with an error: incorrect id format for 1234.1234"
    )


def test_atom_rejects_other_roots() -> None:
    with pytest.raises(FeedError, match=r"not an Atom feed: the root element is <rss>"):
        parse_arxiv_atom(_read("arxiv_cs_cl.rss"))


# --- RSS --------------------------------------------------------------------------------------


def test_rss_items() -> None:
    papers = parse_arxiv_rss(_read("arxiv_cs_cl.rss"), source_name="cs.CL.rss")

    assert [p.paper_id for p in papers] == [
        "arxiv:2503.22698",
        "arxiv:2503.22714",
        "arxiv:2503.22877",
        "arxiv:2503.22913",
        "arxiv:2403.11807",  # announce type "replace": kept
    ]
    assert {p.date for p in papers} == {dt.date(2025, 4, 1)}
    tridis = papers[1]
    assert (
        tridis.title == "TRIDIS: A Comprehensive Medieval and Early Modern Corpus for HTR and NER"
    )
    assert tridis.authors == ("Sergio Torres Aguilar",)
    assert tridis.categories == ("cs.CL", "cs.AI", "cs.CV")
    assert tridis.abstract.startswith("This paper introduces TRIDIS (Tria Digita Scribunt)")
    assert "Announce Type" not in tridis.abstract
    assert papers[2].authors == (
        "Bruno Coelho",
        "Shujaat Mirza",
        "Yuyuan Cui",
        "Christina Pöpper",
        "Damon McCoy",
    )
    assert papers[2].url == "https://arxiv.org/abs/2503.22877"
    assert all(p.source == "arxiv" for p in papers)


def test_rss_dates_from_item_channel_or_argument() -> None:
    item = "<item><title>T</title><link>https://arxiv.org/abs/2503.22698</link>{}</item>"
    channel_day = "<pubDate>Wed, 02 Apr 2025 00:00:00 -0400</pubDate>"
    own_day = "<pubDate>Thu, 03 Apr 2025 00:00:00 -0400</pubDate>"

    (from_channel,) = parse_arxiv_rss(_rss(item.format(""), channel_day))
    (from_item,) = parse_arxiv_rss(_rss(item.format(own_day), channel_day))
    (from_argument,) = parse_arxiv_rss(_rss(item.format(own_day)), date=dt.date(2025, 4, 9))

    assert from_channel.date == dt.date(2025, 4, 2)
    assert from_item.date == dt.date(2025, 4, 3)
    assert from_argument.date == dt.date(2025, 4, 9)


def test_rss_id_from_guid_and_plain_description() -> None:
    item = (
        "<item><title>T</title><guid>oai:arXiv.org:cond-mat/0102536v2</guid>"
        "<description>Just an abstract.</description>"
        "<dc:creator>Ada Lovelace, and Alan Turing</dc:creator></item>"
    )

    (paper,) = parse_arxiv_rss(_rss(item), date=dt.date(2025, 4, 1))

    assert paper.paper_id == "arxiv:cond-mat/0102536"
    assert paper.abstract == "Just an abstract."
    assert paper.authors == ("Ada Lovelace", "Alan Turing")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("<item><link>https://arxiv.org/abs/2503.22698</link></item>", "entry 1: missing <title>"),
        (
            "<item><title>T</title><link>https://example.org/</link></item>",
            "entry 1: no arXiv id in <description>, <link> or <guid>",
        ),
        (
            "<item><title>T</title><link>https://arxiv.org/abs/2503.22698</link></item>",
            "entry 1: no <pubDate> on the item or the channel; pass --date YYYY-MM-DD",
        ),
        (
            "<item><title>T</title><link>https://arxiv.org/abs/2503.22698</link>"
            "<pubDate>someday</pubDate></item>",
            "entry 1: <pubDate> 'someday' is not an RFC 822 date",
        ),
    ],
)
def test_rss_item_problems(items: str, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_arxiv_rss(_rss(items), source_name="f.rss")

    assert str(caught.value) == f"f.rss {message}"


def test_rss_structure_problems() -> None:
    with pytest.raises(FeedError, match=r"^f\.rss: missing <channel>$"):
        parse_arxiv_rss('<rss version="2.0"></rss>', source_name="f.rss")
    with pytest.raises(FeedError, match=r"not an RSS 2\.0 feed: the root element is <feed>"):
        parse_arxiv_rss(_read("arxiv_api_query.atom"))
    with pytest.raises(FeedError, match="refused"):
        parse_arxiv_rss(_read("billion_laughs.atom"))
