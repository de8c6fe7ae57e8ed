"""Where each parsed paper came from, records read one by one, and preparing feeds to send."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from papersift.client import Paper
from papersift.client.feeds import (
    PARSERS,
    READERS,
    FeedError,
    Located,
    Location,
    ParsedFeed,
    load_feed,
    load_located,
    merge_located,
    prepare,
)
from papersift.client.feeds.located import read_records
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
DAY = dt.date(2025, 3, 7)


def _read(name: str) -> str:
    return (FEEDS / name).read_text(encoding="utf-8")


def test_locations_read_like_file_line_or_entry() -> None:
    assert str(Location("papers.jsonl", line=12)) == "papers.jsonl:12"
    assert str(Location("query.atom", entry=4)) == "query.atom entry 4"
    assert str(Location("<stdin>")) == "<stdin>"
    assert Location("a", line=3).where == "line 3"
    assert Location("a", entry=3).where == "entry 3"


@pytest.mark.parametrize(
    ("name", "format", "first", "last"),
    [
        ("arxiv_2025q2_sample.jsonl", "jsonl", Location("s", line=1), Location("s", line=30)),
        ("000_982c8c29131a072e.txt", "markdown", Location("s", line=2), Location("s", line=110)),
        ("003_3a48079966754c24.txt", "hf-text", Location("s", line=13), Location("s", line=329)),
        ("arxiv_api_query.atom", "arxiv-atom", Location("s", entry=1), Location("s", entry=4)),
        ("arxiv_cs_cl.rss", "arxiv-rss", Location("s", entry=1), Location("s", entry=5)),
        ("hf_daily_papers.json", "hf-json", Location("s", entry=1), Location("s", entry=3)),
    ],
)
def test_every_reader_locates_its_papers_and_agrees_with_its_parser(
    name: str, format: str, first: Location, last: Location
) -> None:
    text = _read(name)

    parsed = READERS[format](text, date=DAY, source_name="s")

    assert parsed.rejected == []
    assert [item.paper for item in parsed.papers] == PARSERS[format](text, date=DAY)
    assert (parsed.papers[0].location, parsed.papers[-1].location) == (first, last)
    lines = text.replace("\r\n", "\n").split("\n")
    for item in parsed.papers:
        if item.location.line is not None and format != "jsonl":
            assert item.paper.title.split()[0] in lines[item.location.line - 1]


def test_a_bad_json_line_is_rejected_alone_and_the_parser_still_fails_on_it() -> None:
    text = _read("bad_line3.jsonl")

    parsed = READERS["jsonl"](text, source_name="bad.jsonl")

    assert [item.location.line for item in parsed.papers] == [1, 2, 4, 5]
    [(location, error)] = parsed.rejected
    assert location == Location("bad.jsonl", line=3)
    assert str(error).startswith("bad.jsonl line 3: invalid JSON")
    with pytest.raises(FeedError) as raised:
        PARSERS["jsonl"](text, source_name="bad.jsonl")
    assert str(raised.value) == str(error)


def test_a_rejected_record_names_its_paper_when_the_id_was_read() -> None:
    parsed = READERS["arxiv-atom"](_read("missing_title.atom"), source_name="q.atom")

    assert len(parsed.papers) == 3
    [(location, error)] = parsed.rejected
    assert location == Location("q.atom", entry=4)
    assert (error.problem, error.paper_id) == ("missing <title>", "arxiv:2403.11807")


def test_a_line_with_a_nul_is_one_bad_record_when_read_line_by_line() -> None:
    good = _read("arxiv_2025q2_sample.jsonl").splitlines()
    text = "\n".join([good[0], good[1].replace("TRIDIS", "TRI\x00DIS"), good[2]])

    parsed = READERS["jsonl"](text, source_name="n.jsonl")

    assert [item.location.line for item in parsed.papers] == [1, 3]
    assert (
        parsed.rejected[0][1].problem == "contains a NUL character; feeds must be plain UTF-8 text"
    )
    with pytest.raises(FeedError, match="line 2: contains a NUL character"):
        PARSERS["jsonl"](text, source_name="n.jsonl")


def test_load_located_keeps_load_feeds_papers() -> None:
    source = str(FEEDS / "000_982c8c29131a072e.txt")

    located = load_located(source, date=DAY)

    assert [item.paper for item in merge_located(located.papers)] == load_feed(source, date=DAY)
    assert all(item.location.source == source for item in located.papers)


def test_load_located_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown feed format 'csv'"):
        load_located(str(FEEDS / "000_982c8c29131a072e.txt"), format="csv")


def _paper(number: int, **fields: Any) -> Paper:
    return Paper(paper_id=f"arxiv:2503.{number:05d}", title=f"Paper {number}", date=DAY, **fields)


def test_merged_papers_keep_their_first_location() -> None:
    first = Located(_paper(1), Location("a.jsonl", line=7))
    again = Located(_paper(1, abstract="filled"), Location("b.jsonl", line=2))

    [merged] = merge_located([first, again])

    assert merged == Located(_paper(1, abstract="filled"), Location("a.jsonl", line=7))


def test_prepare_lists_every_record_that_cannot_be_sent_in_input_order() -> None:
    first = ParsedFeed(
        papers=[
            Located(_paper(1), Location("a.jsonl", line=1)),
            Located(_paper(2, url="gopher://x"), Location("a.jsonl", line=5)),
        ],
        rejected=[
            (
                Location("a.jsonl", line=3),
                FeedError("a.jsonl", "missing 'title'", paper_id="arxiv:2503.00003"),
            )
        ],
    )
    second = ParsedFeed(
        papers=[Located(_paper(4, categories=("I.2.7",)), Location("b.atom", entry=1))],
        rejected=[(Location("b.atom", entry=2), FeedError("b.atom", "missing <id>"))],
    )

    prepared = prepare([second, first])

    assert [str(record) for record in prepared.rejected] == [
        "b.atom entry 2: missing <id>",
        "a.jsonl:3 (arxiv:2503.00003): missing 'title'",
        "a.jsonl:5 (arxiv:2503.00002): url: 'gopher://x' is not an http(s) URL",
    ]
    assert [paper.paper_id for paper in prepared.papers] == ["arxiv:2503.00004", "arxiv:2503.00001"]


def test_fail_fast_stops_at_the_first_bad_record() -> None:
    calls: list[int] = []

    def bad(number: int) -> Paper:
        calls.append(number)
        raise FeedError("f", f"bad record {number}", location=f"line {number}")

    records = [(Location("f", line=n), lambda n=n: bad(n)) for n in (1, 2, 3)]

    with pytest.raises(FeedError, match="bad record 1"):
        read_records(records, fail_fast=True)
    assert calls == [1]
    assert [location.line for location, _ in read_records(records).rejected] == [1, 2, 3]
