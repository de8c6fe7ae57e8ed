"""Every feed parser, format detection and ``load_feed`` on arbitrary text and bytes.

Whatever the input (random unicode, NULs, lone surrogates, a soup of the format's own tokens,
hundreds of kilobytes), the outcome is valid papers or a ``FeedError`` naming the feed: never
another exception, never a hang (each example runs under the hypothesis deadline).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from papersift.client.feeds import (
    FEED_FORMATS,
    FeedError,
    detect_format,
    load_feed,
    parse_feed,
    parse_markdown,
)
from tests.hostile.budget import budget
from tests.hostile.feed_contract import assert_feed_error, outcome
from tests.hostile.strategies import huge_text, weird_text

SOURCE = "hostile.feed"
DAY = dt.date(2025, 4, 1)

_ATOM_TOKENS = (
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    "</feed>",
    "<entry>",
    "</entry>",
    "<id>",
    "</id>",
    "http://arxiv.org/abs/2503.04725v1",
    "http://arxiv.org/api/errors#incorrect_id",
    "hep-th/9901001",
    "<title>",
    "</title>",
    "<summary>",
    "</summary>",
    "<published>",
    "</published>",
    "2025-03-06T18:59:59Z",
    "0000-00-00T99:99",
    "<author><name>",
    "</name></author>",
    '<category term="cs.CL"/>',
    '<category term=" "/>',
    '<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.AI"/>',
)
_RSS_TOKENS = (
    '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">',
    "</rss>",
    "<channel>",
    "</channel>",
    "<item>",
    "</item>",
    "<title>",
    "</title>",
    "<link>https://arxiv.org/abs/2503.04725</link>",
    "<guid>oai:arXiv.org:2503.04725v1</guid>",
    "<description>arXiv:2503.04725v1 Announce Type: new \nAbstract: ",
    "</description>",
    "<pubDate>",
    "</pubDate>",
    "Tue, 01 Apr 2025 00:00:00 -0400",
    "Mon, 99 Foo 0000 25:61:61 +9999",
    "<dc:creator>",
    "</dc:creator>",
    ", and ",
    "<category>",
    "</category>",
)
_XML_TOKENS = (
    "&amp;",
    "&lt;",
    "&#0;",
    "&#xD800;",
    "&#x1F600;",
    "&undefined;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?pi data?>",
    '<?xml version="1.0" encoding="UTF-16"?>',
    "<!DOCTYPE feed>",
    "<a>" * 50,
    "</a>" * 50,
    '="',
)
_JSON_TOKENS = (
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    '"paper"',
    '"id"',
    '"2503.04725"',
    '"title"',
    '"summary"',
    '"authors"',
    '"name"',
    '"publishedAt"',
    '"submittedOnDailyAt"',
    '"2025-03-06T00:00:00.000Z"',
    '"error"',
    '"arxiv_id"',
    '"first_listed"',
    '"2025-04-01"',
    '"categories"',
    '"abstract"',
    "null",
    "true",
    "-0",
    "1e999",
    "1" * 5000,  # more digits than Python's int-string limit
    "NaN",
    "Infinity",
    '"\\u0000"',
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    "[" * 3000,
    "\n",
    "\r\n",
)
_MARKDOWN_TOKENS = (
    "# ",
    "## ",
    "### ",
    "####### ",
    "- **",
    "* **",
    "**",
    ":**",
    "**:",
    "Url",
    "Link",
    "Authors",
    "Abstract",
    "Abstrat",
    "Summary",
    "Comment",
    "https://arxiv.org/abs/2503.04725v1",
    "http://example.org/x",
    "['Ada', 'Alan']",
    "('Ada',)",
    "[",
    "]",
    "'",
    '"',
    "'\\x00'",
    "'\\ud800'",
    "'\\N{",
    "b'x'",
    "1" * 5000,
    "(" * 300,
    "\n",
    "\r\n",
    "\r",
)
_HF_TEXT_TOKENS = (
    "\n",
    "\n\n",
    "\r\n\r\n",
    "\n \t\n",
    "\n\x0c\n",
    "new",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
    "Aug 6",
    "Sept 31st, 2025",
    "A Title",
    "An abstract sentence.",
    ".",
    "x" * 301,
)
TOKENS = {
    "markdown": _MARKDOWN_TOKENS,
    "hf-text": _HF_TEXT_TOKENS,
    "arxiv-atom": _ATOM_TOKENS + _XML_TOKENS,
    "arxiv-rss": _RSS_TOKENS + _XML_TOKENS,
    "hf-json": _JSON_TOKENS,
    "jsonl": _JSON_TOKENS,
}
assert tuple(TOKENS) == FEED_FORMATS

any_day = st.none() | st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))


# What backtracking regular expressions and recursive parsers find expensive, repeated.
_COSTLY_PIECES: tuple[str, ...] = (
    " ",
    "\t",
    "\n",
    " \n",
    "\r\n",
    "\n\n",
    "a",
    "a ",
    "- **",
    "**",
    "#",
    "## x\n",
)
_COSTLY_PIECES += ("<a>", "[", "{", '"', "\\", ",", "1", "&amp;", "'")


def token_soup(feed_format: str, *, max_size: int = 60) -> st.SearchStrategy[str]:
    """Text made of the format's own syntax mixed with hostile characters."""
    pieces = st.sampled_from(TOKENS[feed_format]) | weird_text(max_size=12)
    return st.lists(pieces, max_size=max_size).map("".join)


def huge_soup(feed_format: str) -> st.SearchStrategy[str]:
    """A little of the format's syntax, one piece repeated up to 200,000 times, a little more."""
    return st.builds(
        lambda head, piece, size, tail: head + piece * size + tail,
        token_soup(feed_format, max_size=4),
        st.sampled_from(_COSTLY_PIECES + TOKENS[feed_format]) | weird_text(min_size=1, max_size=4),
        st.integers(1_000, 200_000),
        token_soup(feed_format, max_size=4),
    ).map(lambda text: text[:400_000])


with_lone_surrogates = st.lists(
    st.one_of(weird_text(max_size=6), st.characters(categories=["Cs"])), max_size=40
).map("".join)
"""Text a ``str`` can hold but no UTF-8 file can: lone surrogates among other characters."""


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
@budget(25)
@given(text=weird_text(max_size=300) | with_lone_surrogates, date=any_day)
def test_any_text(feed_format: str, text: str, date: dt.date | None) -> None:
    outcome(lambda: parse_feed(text, feed_format, date=date, source_name=SOURCE), SOURCE, text=text)


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
@budget(50)
@given(data=st.data(), date=any_day)
def test_a_soup_of_the_formats_own_tokens(
    feed_format: str, data: st.DataObject, date: dt.date | None
) -> None:
    text = data.draw(token_soup(feed_format), label="text")
    outcome(lambda: parse_feed(text, feed_format, date=date, source_name=SOURCE), SOURCE, text=text)


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
@budget(15)
@given(data=st.data(), date=any_day)
def test_huge_text(feed_format: str, data: st.DataObject, date: dt.date | None) -> None:
    text = data.draw(huge_text() | huge_soup(feed_format), label="text")
    outcome(lambda: parse_feed(text, feed_format, date=date, source_name=SOURCE), SOURCE, text=text)


@budget(60)
@given(
    name=st.sampled_from(["feed", "f.md", "f.rss", "f.atom", "f.jsonl", "f.json.gz", "-x"]),
    text=st.one_of(
        *(token_soup(feed_format) for feed_format in FEED_FORMATS),
        *(huge_soup(feed_format) for feed_format in FEED_FORMATS),
    ),
)
def test_detect_format_names_a_format_or_fails_clearly(name: str, text: str) -> None:
    try:
        chosen = detect_format(name, text)
    except FeedError as error:
        assert_feed_error(error, name)
    else:
        assert chosen in FEED_FORMATS


@budget(40, extra_checks=(HealthCheck.function_scoped_fixture,))
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.one_of(*(token_soup(f) for f in FEED_FORMATS)).map(lambda t: t.encode("utf-8")),
    ),
    squeeze=st.sampled_from(["none", "gzip", "truncated gzip"]),
    suffix=st.sampled_from(["", ".md", ".rss", ".atom", ".jsonl", ".json", ".txt"]),
    date=any_day,
)
def test_load_feed_on_any_bytes(
    tmp_path: Path, data: bytes, squeeze: str, suffix: str, date: dt.date | None
) -> None:
    if squeeze != "none":
        data = gzip.compress(data, mtime=0)
        suffix += ".gz"
        if squeeze == "truncated gzip":
            data = data[: len(data) // 2]
    path = tmp_path / f"feed{suffix}"
    path.write_bytes(data)
    outcome(lambda: load_feed(str(path), date=date), str(path))


# --- JSON feeds in the right shape, with any JSON value where a field should be ---------------

BIG_NUMBER = "(a number of 5,000 digits)"
"""Stands for a number longer than Python's int-string limit, written in after ``json.dumps``."""

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities too, as Python's json writes and reads them
    weird_text(max_size=12),
    with_lone_surrogates.map(lambda text: text[:12]),
    st.just(BIG_NUMBER),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(weird_text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
stamps = st.datetimes().map(lambda moment: moment.isoformat() + "Z")


def either(usual: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """The field's usual kind of value, or any JSON value."""
    return usual | json_values


hf_items = st.fixed_dictionaries(
    {
        "paper": either(
            st.fixed_dictionaries(
                {"id": either(st.sampled_from(["2503.04725", "2503.04725v2", "hep-th/9901001"]))},
                optional={
                    "title": either(weird_text(max_size=20)),
                    "summary": either(weird_text(max_size=20)),
                    "authors": either(st.lists(st.fixed_dictionaries({"name": json_values}))),
                    "submittedOnDailyAt": either(stamps),
                    "publishedAt": either(stamps),
                },
            )
        )
    },
    optional={"title": json_values, "summary": json_values, "publishedAt": either(stamps)},
)
jsonl_records = st.fixed_dictionaries(
    {"arxiv_id": either(st.sampled_from(["2503.04725", "arXiv:2503.04725v1", "math/0501001"]))},
    optional={
        "title": either(weird_text(max_size=20)),
        "first_listed": either(st.dates().map(dt.date.isoformat)),
        "abstract": json_values,
        "authors": either(st.lists(weird_text(max_size=8), max_size=3)),
        "categories": either(st.lists(weird_text(max_size=8), max_size=3)),
        "comment": json_values,
    },
)


def dump(value: object, ascii_only: bool) -> str:
    """``value`` as JSON, with every ``BIG_NUMBER`` written as a 5,000-digit number."""
    return json.dumps(value, ensure_ascii=ascii_only).replace(json.dumps(BIG_NUMBER), "1" * 5000)


@budget(100)
@given(
    items=st.lists(either(hf_items), max_size=4) | json_values,
    ascii_only=st.booleans(),
    date=any_day,
)
def test_hf_json_shaped_feeds_with_any_values(
    items: object, ascii_only: bool, date: dt.date | None
) -> None:
    text = dump(items, ascii_only)
    outcome(lambda: parse_feed(text, "hf-json", date=date, source_name=SOURCE), SOURCE, text=text)


@budget(100)
@given(
    records=st.lists(either(jsonl_records), max_size=4),
    ascii_only=st.booleans(),
    date=any_day,
)
def test_jsonl_shaped_feeds_with_any_values(
    records: list[object], ascii_only: bool, date: dt.date | None
) -> None:
    text = "\n".join(dump(record, ascii_only) for record in records)
    outcome(lambda: parse_feed(text, "jsonl", date=date, source_name=SOURCE), SOURCE, text=text)


# --- regressions: inputs that took minutes before the fix -------------------------------------


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    with contextlib.suppress(FeedError):
        work()
    return time.perf_counter() - start


ATOM = "http://www.w3.org/2005/Atom"
LINE_STARTS = {
    "markdown": ("", "- **", "* **", "## ", "# ", "- **Authors**: ", "- **Authors**: ['", "## T\n"),
    "hf-text": ("", "T\n\n", "new\n\nT\n\n", "Aug "),
    "arxiv-atom": ("", "<", "<!--", '<a b="', f"<feed xmlns={ATOM!r}><entry><title>"),
    "arxiv-rss": ("", "<rss><channel><item><description>arXiv:", "<rss><channel><item><title>"),
    "hf-json": ("", "[", '[{"paper": {"id": "2503.04725", "title": "', '"'),
    "jsonl": ("", "{", '{"arxiv_id": "2503.04725", "title": "', '{"arxiv_id": "'),
}
"""Where a long run of one piece does most harm in each format: at a line's or a value's start."""
assert tuple(LINE_STARTS) == FEED_FORMATS


@pytest.mark.parametrize("feed_format", FEED_FORMATS)
def test_no_long_run_of_one_piece_takes_more_than_linear_time(feed_format: str) -> None:
    # A grid, not a random draw: every line start x every costly piece, 50,000 times over.
    # Quadratic backtracking takes tens of seconds at this size, linear work milliseconds.
    slow = {}
    for start in LINE_STARTS[feed_format]:
        for piece in (*_COSTLY_PIECES, *TOKENS[feed_format][:8]):
            text = start + piece * (50_000 // len(piece)) + "x"  # "x": not stripped away
            seconds = _seconds(partial(parse_feed, text, feed_format, date=DAY))
            seconds += _seconds(partial(detect_format, "feed", text))
            if seconds > 1.0:
                slow[f"{start!r} + {piece!r} x {50_000 // len(piece)}"] = round(seconds, 1)
    assert slow == {}


def test_a_long_markdown_line_of_spaces_is_read_in_linear_time() -> None:
    # `[^*:]+?\s*` backtracked quadratically: 200,000 spaces took about 15 minutes.
    text = "## Title\n- **" + " " * 200_000 + "x"

    assert _seconds(lambda: parse_markdown(text, date=DAY)) < 2.0


def test_detecting_markdown_after_many_blank_lines_takes_linear_time() -> None:
    # `^\s*` spanned line breaks: 20,000 blank lines took 20 s, 200,000 about half an hour.
    text = "## Title\n" + " \n" * 200_000 + "- **Url**: https://arxiv.org/abs/2503.04725"

    assert _seconds(lambda: detect_format("digest", text)) < 2.0
    assert detect_format("digest", text) == "markdown"
