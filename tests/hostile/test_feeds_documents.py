"""Every feed parser on well-formed feeds full of hostile text, then on broken copies of them.

- A well-formed feed gives exactly its papers, whatever unicode its fields hold.
- A truncated feed gives valid papers (a prefix, for JSON Lines) or a ``FeedError``; truncated XML
  and JSON always fail, naming the line.
- One bad paper slipped in at a random place fails the feed with an error naming its line or
  entry, not a neighbour's.
- Deep nesting (XML elements, JSON arrays, a digest's author list) never escapes as a
  ``RecursionError``.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from papersift.client.feeds import FEED_FORMATS, FeedError, parse_feed
from papersift.client.feeds._common import split_lines
from tests.hostile.budget import budget
from tests.hostile.feed_contract import outcome
from tests.hostile.feed_documents import DOCUMENTS, Document, xml_text
from tests.hostile.strategies import huge_text, visible_text

SOURCE = "hostile.feed"


def parse(document: Document, feed_format: str, text: str | None = None) -> object:
    """Parse ``text`` (default: the document's) as ``feed_format``, checking the contract."""
    body = document.text if text is None else text
    return outcome(
        lambda: parse_feed(body, feed_format, date=document.date, source_name=SOURCE),
        SOURCE,
        text=body,
    )


def located_at(result: object, location: str) -> bool:
    return isinstance(result, FeedError) and result.location == location


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
@budget(20)
@given(data=st.data())
def test_a_well_formed_feed_gives_exactly_its_papers(feed_format: str, data: st.DataObject) -> None:
    document = data.draw(DOCUMENTS[feed_format], label="document")

    assert parse(document, feed_format) == document.papers


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
@budget(15)
@given(data=st.data())
def test_a_truncated_feed(feed_format: str, data: st.DataObject) -> None:
    document = data.draw(DOCUMENTS[feed_format], label="document")
    assume(document.text)
    cut = data.draw(st.integers(0, len(document.text) - 1), label="cut")
    text = document.text[:cut]

    result = parse(document, feed_format, text)

    lines = split_lines(text)
    if feed_format in ("arxiv-atom", "arxiv-rss", "hf-json"):
        assert isinstance(result, FeedError)
        assert result.location is not None and result.location.startswith("line ")
    elif feed_format == "jsonl":
        last = lines[-1]
        complete = len(lines) if last == document.lines[len(lines) - 1] else len(lines) - 1
        if complete == len(lines) or not last.strip():
            kept = [
                p
                for p, line in zip(document.papers, document.starts, strict=True)
                if line <= complete
            ]
            assert result == kept
        else:
            assert located_at(result, f"line {len(lines)}"), result


# --- one bad paper at a random place -----------------------------------------------------------
# Each case: the bad piece, and a phrase of the problem the error must state.


def jsonl_line(**fields: str) -> str:
    """A JSON line that is valid but for ``fields`` (written as raw JSON)."""
    values = {"arxiv_id": '"2503.04725"', "first_listed": '"2025-04-01"', "title": '"T"'}
    values.update(fields)
    return "{" + ", ".join(f'"{key}": {value}' for key, value in values.items()) + "}"


BAD_JSONL_LINES = (
    ("not json", "invalid JSON"),
    ("{", "invalid JSON"),
    ("[1, 2]", "is a list, not an object"),
    ('"a string"', "is a string, not an object"),
    (jsonl_line(title='"T\\u0000"'), "'title' contains a NUL character"),
    (jsonl_line(title='"T\\ud800"'), "'title' contains a lone surrogate (U+D800)"),
    (jsonl_line(abstract='"\\udc00\\ud800"'), "'abstract' contains a lone surrogate (U+DC00)"),
    (jsonl_line(authors='["a", "\\udfff"]'), "'authors[2]' contains a lone surrogate"),
    (jsonl_line(categories='["\\u0000"]'), "'categories[1]' contains a NUL"),
    (jsonl_line(categories='"cs.CL"'), "'categories' is not a list of strings"),
    (jsonl_line(arxiv_id='"http://example.org/2503.04725"'), "is not an arXiv id"),
    (jsonl_line(arxiv_id="2503.04725"), "'arxiv_id' is a number, not a string"),
    (jsonl_line(arxiv_id="1" + "0" * 5000), "'arxiv_id' is a number, not a string"),
    (jsonl_line(arxiv_id="null"), "missing 'arxiv_id'"),
    (jsonl_line(title='" \\t\\u2028 "'), "missing 'title'"),
    (jsonl_line(title="[" * 5000 + "]" * 5000), "invalid JSON (nested too deeply)"),
    ("{}\x00", "contains a NUL character"),
)
BIG_NUMBER = "(a number of 5,000 digits)"
"""Stands for a number too long for Python's ``int`` (and for pytest's parameter ids)."""
BAD_HF_TITLES: tuple[tuple[object, str], ...] = (
    ("T\x00", "'paper.title' contains a NUL character"),
    ("T\ud800", "'paper.title' contains a lone surrogate (U+D800)"),
    (12, "'paper.title' is a number, not a string"),
    (BIG_NUMBER, "'paper.title' is a number, not a string"),
    (["T"], "'paper.title' is a list, not a string"),
    ({"t": "T"}, "'paper.title' is an object, not a string"),
    (True, "'paper.title' is a boolean, not a string"),
    ("  ", "missing 'paper.title'"),
    (None, "missing 'paper.title'"),
)
BAD_ATOM_ENTRIES = (
    ("<entry><title>T</title></entry>", "missing <id>"),
    ("<entry><id>http://example.org/1</id><title>T</title></entry>", "is not an arXiv id"),
    ("<entry><id>2503.04725</id><title> \t </title></entry>", "empty <title>"),
    ("<entry><id>2503.04725</id></entry>", "missing <title>"),
    (
        "<entry><id>2503.04725</id><title>T</title><published>yesterday</published></entry>",
        "is not an ISO 8601 timestamp",
    ),
)
BAD_RSS_ITEMS = (
    ("<item><title></title><link>https://arxiv.org/abs/2503.04725</link></item>", "empty <title>"),
    ("<item><link>https://arxiv.org/abs/2503.04725</link></item>", "missing <title>"),
    ("<item><title>T</title><link>https://example.org/x</link></item>", "no arXiv id"),
    (
        "<item><title>T</title><guid>2503.04725</guid><pubDate>not a date</pubDate></item>",
        "is not an RFC 822 date",
    ),
)
BAD_MARKDOWN_LINES = (
    ("### a level-3 heading", "unexpected level-3 heading"),
    ("####### seven marks", "unexpected text"),
    ("plain text after a heading", "unexpected text"),
    ("- **Authors**: [1, 2]", "is not a list of strings"),
    ("- **Authors**: ['Ada', b'x']", "is not a list of strings"),
    ("- **Authors**: ['\\x00']", "has an author with a NUL character"),
    ("- **Authors**: ['Ada', '\\ud800']", "has an author with a lone surrogate (U+D800)"),
    ("- **Authors**: " + "[" * 3000 + "]" * 3000, "is not a list of strings"),
    ("- **Authors**: ['" + "x" * 100_001 + "']", "longer than 100000 characters"),
    ("- **Authors**: __import__('os')", "is not a list of strings"),
    ("- **Authors:** ['a'] + ['b']", "is not a list of strings"),
    ("a raw NUL \x00 here", "contains a NUL character"),
    ("a raw lone surrogate \udbff here", "contains a lone surrogate (U+DBFF)"),
)


def names_the_problem(result: object, location: str, phrase: str) -> None:
    assert isinstance(result, FeedError), f"no error; expected {phrase!r} at {location}"
    assert (result.location, phrase in result.problem) == (location, True), result


@pytest.mark.parametrize(("bad", "phrase"), BAD_JSONL_LINES)
@budget(4)
@given(data=st.data())
def test_one_bad_jsonl_line_is_named(bad: str, phrase: str, data: st.DataObject) -> None:
    document = data.draw(DOCUMENTS["jsonl"], label="document")
    at = data.draw(st.integers(0, len(document.lines)), label="at")
    text = document.newline.join([*document.lines[:at], bad, *document.lines[at:]])

    names_the_problem(parse(document, "jsonl", text), f"line {at + 1}", phrase)


@pytest.mark.parametrize(("title", "phrase"), BAD_HF_TITLES)
@budget(4)
@given(data=st.data(), ascii_only=st.booleans())
def test_one_bad_hf_json_entry_is_named(
    title: object, phrase: str, data: st.DataObject, ascii_only: bool
) -> None:
    document = data.draw(DOCUMENTS["hf-json"], label="document")
    assume(document.papers)
    items = json.loads(document.text)
    index = data.draw(st.integers(0, len(items) - 1), label="index")
    items[index]["paper"]["title"] = title
    items[index].pop("title", None)
    text = json.dumps(items, ensure_ascii=ascii_only or "\ud800" in str(title))
    text = text.replace(json.dumps(BIG_NUMBER), "1" * 5000)

    names_the_problem(parse(document, "hf-json", text), f"entry {index + 1}", phrase)


def insert_before_nth(text: str, tag: str, n: int, closing: str, piece: str) -> str:
    """``text`` with ``piece`` before the ``n``-th (0-based) ``tag``, or before ``closing``."""
    starts = [match.start() for match in re.finditer(re.escape(tag), text)]
    at = starts[n] if n < len(starts) else text.rindex(closing)
    return text[:at] + piece + text[at:]


@pytest.mark.parametrize(
    ("feed_format", "bad", "phrase"),
    [("arxiv-atom", *case) for case in BAD_ATOM_ENTRIES]
    + [("arxiv-rss", *case) for case in BAD_RSS_ITEMS],
)
@budget(4)
@given(data=st.data())
def test_one_bad_xml_entry_is_named(
    feed_format: str, bad: str, phrase: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[feed_format], label="document")
    dated = "ISO 8601" in phrase or "RFC 822" in phrase
    assume(document.date is None or not dated)  # a given day replaces the feed's dates
    index = data.draw(st.integers(0, len(document.papers)), label="index")
    tag, closing = (
        ("<entry>", "</feed>") if feed_format == "arxiv-atom" else ("<item>", "</channel>")
    )
    text = insert_before_nth(document.text, tag, index, closing, bad)

    names_the_problem(parse(document, feed_format, text), f"entry {index + 1}", phrase)


@pytest.mark.parametrize(("bad", "phrase"), BAD_MARKDOWN_LINES)
@budget(4)
@given(data=st.data())
def test_one_bad_markdown_line_is_named(bad: str, phrase: str, data: st.DataObject) -> None:
    document = data.draw(DOCUMENTS["markdown"], label="document")
    assume(document.starts)
    at = data.draw(st.sampled_from(document.starts), label="heading")  # right after a heading
    text = document.newline.join([*document.lines[:at], bad, *document.lines[at:]])

    names_the_problem(parse(document, "markdown", text), f"line {at + 1}", phrase)


@budget(20)
@given(data=st.data())
def test_a_hf_page_title_without_abstract_is_named(data: st.DataObject) -> None:
    document = data.draw(DOCUMENTS["hf-text"], label="document")
    title = data.draw(visible_text(max_size=20), label="title").rstrip(".") + "x"
    lines = [*document.lines, "", "T" + title]

    result = parse(document, "hf-text", document.newline.join(lines))

    assert located_at(result, f"line {len(lines)}")


# --- deep nesting and huge fields --------------------------------------------------------------

depth = st.integers(1, 20_000) | st.sampled_from([199, 200, 201, 999, 1000, 1001])


@budget(10)
@given(data=st.data(), levels=depth)
def test_deeply_nested_elements_in_an_atom_title(data: st.DataObject, levels: int) -> None:
    document = data.draw(DOCUMENTS["arxiv-atom"], label="document")
    assume(document.papers)
    text = document.text.replace("<title>", "<title>" + "<b>" * levels, 2).replace(
        "</title>", "</b>" * levels + "</title>", 2
    )  # the feed's own title, then the first entry's

    assert parse(document, "arxiv-atom", text) == document.papers


@budget(10)
@given(data=st.data(), levels=depth | st.integers(20_000, 200_000))
def test_deeply_nested_json_fails_cleanly(data: st.DataObject, levels: int) -> None:
    feed_format = data.draw(st.sampled_from(["hf-json", "jsonl"]), label="format")
    document = data.draw(DOCUMENTS[feed_format], label="document")
    nested = "[" * levels + "]" * levels
    where = data.draw(st.sampled_from(["whole", "title"]), label="where")
    if where == "whole":
        text = "[" + nested + "]"  # a list (or line) holding a list, nested `levels` deep
    elif feed_format == "jsonl":
        text = document.text + document.newline + '{"arxiv_id": "2503.04725", "title": ' + nested
    else:
        text = '[{"paper": {"id": "2503.04725", "title": ' + nested + "}}]"

    assert isinstance(parse(document, feed_format, text), FeedError)


def with_huge_first_title(document: Document, feed_format: str, huge: str) -> str:
    """The document with ``huge`` written at the start of its first paper's title."""
    if feed_format in ("markdown", "hf-text"):
        one_line = huge.replace("\n", " ").replace("\r", " ")
        lines = list(document.lines)
        index = document.starts[0] - 1
        lines[index] = lines[index].replace("T", "T" + one_line, 1)
        return document.newline.join(lines)
    if feed_format in ("arxiv-atom", "arxiv-rss"):
        entry = document.text.index("<entry>" if feed_format == "arxiv-atom" else "<item>")
        at = document.text.index("<title>", entry) + len("<title>")
        written = xml_text(huge)
    else:
        at = document.text.index('"title": "') + len('"title": "')
        written = json.dumps(huge)[1:-1]
    return document.text[:at] + written + document.text[at:]


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
@budget(4)
@given(data=st.data(), huge=huge_text(min_size=20_000, max_size=300_000))
def test_a_huge_title(feed_format: str, data: st.DataObject, huge: str) -> None:
    document = data.draw(DOCUMENTS[feed_format], label="document")
    assume(document.papers)

    # Valid papers (their sizes are the server's to refuse) or a FeedError, quickly.
    parse(document, feed_format, with_huge_first_title(document, feed_format, huge))
