"""Format detection, reading local sources (gzip, stdin), load_feed and merge_papers."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import shutil
import sys
from pathlib import Path

import pytest

from papersift.client._models import Paper
from papersift.client.feeds import (
    FEED_FORMATS,
    PARSERS,
    FeedError,
    detect_format,
    load_feed,
    merge_papers,
    parse_feed,
    read_source,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
DAY = dt.date(2025, 3, 7)


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- detect_format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000_982c8c29131a072e.txt", "markdown"),
        ("003_3a48079966754c24.txt", "hf-text"),
        ("arxiv_api_query.atom", "arxiv-atom"),
        ("arxiv_cs_cl.rss", "arxiv-rss"),
        ("hf_daily_papers.json", "hf-json"),
        ("arxiv_2025q2_sample.jsonl", "jsonl"),
    ],
)
def test_every_fixture_is_detected_by_content_alone(name: str, expected: str) -> None:
    assert detect_format("feed", _read(name)) == expected
    assert detect_format(name, _read(name)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("digest.md", "markdown"),
        ("digest.MARKDOWN", "markdown"),
        ("/data/papers.jsonl.gz", "jsonl"),
        ("export.ndjson", "jsonl"),
        ("query.atom", "arxiv-atom"),
        ("cs.CL.rss", "arxiv-rss"),
        ("https://example.org/feeds/cs.CL.rss?day=1", "arxiv-rss"),
    ],
)
def test_known_extensions_decide(name: str, expected: str) -> None:
    assert detect_format(name, "anything at all") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\ufeff  <?xml version='1.0'?>\n<!-- c -->\n<feed xmlns='x'/>", "arxiv-atom"),
        ('<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "arxiv-rss"),
        ('{"arxiv_id": "2503.04725"}\n{"arxiv_id": "2503.04723"}\n', "jsonl"),
        ('{\n  "error": "Invalid date"\n}', "hf-json"),
        ("[]", "hf-json"),
    ],
)
def test_content_sniffing(text: str, expected: str) -> None:
    assert detect_format("https://export.arxiv.org/api/query?id_list=1", text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   \n\n", "the feed is empty"),
        ("<!DOCTYPE html><html><body/></html>", "this is an HTML page"),
        ('<rdf:RDF xmlns:rdf="x"/>', "RSS 1.0 (RDF) is not supported"),
        ("<catalog/>", "root element is <catalog>"),
        ("## A heading\nbut no fields\n", "'## ' headings without"),
        ("one line of text", "plain text without blank-line separated"),
    ],
)
def test_unclear_formats_fail_clearly(text: str, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        detect_format("feed.txt", text)

    assert reason in str(caught.value)
    assert str(caught.value).startswith("feed.txt: ")
    if "empty" not in reason:
        assert "pass --format (markdown, hf-text, arxiv-atom, arxiv-rss, hf-json, jsonl)" in str(
            caught.value
        )


def test_format_names() -> None:
    assert FEED_FORMATS == ("markdown", "hf-text", "arxiv-atom", "arxiv-rss", "hf-json", "jsonl")
    assert tuple(PARSERS) == FEED_FORMATS
    with pytest.raises(ValueError, match="unknown feed format 'csv'"):
        parse_feed("", "csv")


# --- read_source (local) ----------------------------------------------------------------------


def test_gzip_by_extension_and_by_magic_bytes(tmp_path: Path) -> None:
    raw = (FIXTURES / "arxiv_2025q2_sample.jsonl").read_bytes()
    by_name = tmp_path / "papers.jsonl.gz"
    by_name.write_bytes(gzip.compress(raw))
    by_magic = tmp_path / "papers.data"
    by_magic.write_bytes(gzip.compress(raw))

    assert read_source(str(by_name)) == (str(by_name), raw.decode("utf-8"))
    assert read_source(str(by_magic))[1] == raw.decode("utf-8")
    papers = load_feed(str(by_name))
    assert len(papers) == 30
    assert papers[0].paper_id == "arxiv:2503.22698"


def test_local_read_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes("## Caf\u00e9\n".encode("latin-1"))

    with pytest.raises(FeedError, match=r"missing\.jsonl: cannot read the file \(No such file"):
        read_source(str(missing))
    with pytest.raises(FeedError, match=r"broken\.jsonl\.gz: not a valid gzip file"):
        read_source(str(broken))
    with pytest.raises(FeedError, match=r"latin1\.md: not utf-8-sig text \(byte 6"):
        read_source(str(latin1))


def test_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "bad_line3.jsonl").read_bytes()[:10])

    assert read_source(str(path))[1].startswith('{"arxiv_id')


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (FIXTURES / "hf_daily_papers.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    papers = load_feed("-")

    assert papers[0].paper_id == "arxiv:2503.04725"


# --- load_feed --------------------------------------------------------------------------------


def test_load_feed_detects_and_parses_each_fixture(tmp_path: Path) -> None:
    digest = tmp_path / "digest.txt"
    shutil.copy(FIXTURES / "000_982c8c29131a072e.txt", digest)

    assert len(load_feed(str(digest), date=DAY)) == 13
    assert len(load_feed(str(FIXTURES / "003_3a48079966754c24.txt"), date=DAY)) == 80
    assert len(load_feed(str(FIXTURES / "arxiv_api_query.atom"))) == 4
    assert len(load_feed(str(FIXTURES / "arxiv_cs_cl.rss"))) == 5
    assert len(load_feed(str(FIXTURES / "hf_daily_papers.json"))) == 3


def test_load_feed_with_explicit_format_and_errors_naming_the_path() -> None:
    path = str(FIXTURES / "broken_authors.md")

    with pytest.raises(FeedError) as caught:
        load_feed(path, format="markdown", date=DAY)

    assert str(caught.value) == f"{path} line 13: '- **Authors**:' is not a list of strings"


def test_load_feed_merges_a_paper_listed_twice(tmp_path: Path) -> None:
    path = tmp_path / "twice.md"
    block = "## Same\n- **Url**: http://arxiv.org/abs/2503.04725v1\n"
    path.write_text(f"# a\n{block}# b\n{block}- **Abstrat**: Now with an abstract.\n")

    (paper,) = load_feed(str(path), date=DAY)

    assert paper.paper_id == "arxiv:2503.04725"
    assert paper.abstract == "Now with an abstract."


# --- merge_papers -----------------------------------------------------------------------------


def test_merge_keeps_first_fields_and_fills_empty_ones() -> None:
    digest = parse_feed(_read("000_982c8c29131a072e.txt"), "markdown", date=DAY)
    atom = parse_feed(_read("arxiv_api_query.atom"), "arxiv-atom")
    hf = parse_feed(_read("hf_daily_papers.json"), "hf-json")

    merged = merge_papers([*hf, *digest, *atom])

    assert len(merged) == 13
    assert [p.paper_id for p in merged[:4]] == [
        "arxiv:2503.04725",
        "arxiv:2503.04723",
        "arxiv:2503.04722",
        "arxiv:2503.04715",
    ]
    first = merged[0]
    assert first == Paper(
        paper_id="arxiv:2503.04725",
        title=hf[0].title,
        date=hf[0].date,
        abstract=hf[0].abstract,
        authors=hf[0].authors,
        categories=("cs.CL", "cs.AI", "cs.LG"),  # filled from the Atom entry
        url="https://arxiv.org/abs/2503.04725",
        source="hf-daily",
    )


def test_merge_fills_each_empty_field_from_the_first_later_listing_with_it() -> None:
    bare = Paper(paper_id="arxiv:1", title="First title", date=DAY, source="a")
    with_url = Paper(paper_id="arxiv:1", title="Other", date=DAY, url="https://x.org/1")
    full = Paper(
        paper_id="arxiv:1",
        title="Third",
        date=dt.date(2025, 1, 1),
        abstract="Abstract.",
        authors=("A",),
        categories=("cs.CL",),
        url="https://y.org/1",
        source="c",
    )
    other = Paper(paper_id="arxiv:2", title="Another", date=DAY)

    merged = merge_papers(iter([bare, other, with_url, full]))

    assert merged == [
        Paper(
            paper_id="arxiv:1",
            title="First title",
            date=DAY,
            abstract="Abstract.",
            authors=("A",),
            categories=("cs.CL",),
            url="https://x.org/1",
            source="a",
        ),
        other,
    ]
    assert merge_papers([]) == []
