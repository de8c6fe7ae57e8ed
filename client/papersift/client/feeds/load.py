"""Parsing a feed by format name, and loading one from a path or URL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from papersift.client._models import Paper
from papersift.client.feeds.arxiv_atom import parse_arxiv_atom
from papersift.client.feeds.arxiv_rss import parse_arxiv_rss
from papersift.client.feeds.detect import FEED_FORMATS, detect_format
from papersift.client.feeds.hf_json import parse_hf_json
from papersift.client.feeds.hf_text import parse_hf_text
from papersift.client.feeds.jsonl import parse_jsonl
from papersift.client.feeds.markdown import parse_markdown
from papersift.client.feeds.merge import merge_papers
from papersift.client.feeds.source import read_source

Parser = Callable[..., list[Paper]]
"""``parse_<format>(text, *, date=None, source_name="<feed>") -> list[Paper]``."""

PARSERS: Mapping[str, Parser] = {
    "markdown": parse_markdown,
    "hf-text": parse_hf_text,
    "arxiv-atom": parse_arxiv_atom,
    "arxiv-rss": parse_arxiv_rss,
    "hf-json": parse_hf_json,
    "jsonl": parse_jsonl,
}
"""The parser of each of :data:`FEED_FORMATS`."""

assert tuple(PARSERS) == FEED_FORMATS


def parse_feed(
    text: str, format: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse ``text`` with the parser of ``format``.

    Args:
        text: The feed's text.
        format: One of :data:`FEED_FORMATS`.
        date: The listing day, required by ``markdown`` and ``hf-text``; for the other
            formats it replaces the dates in the feed.
        source_name: Names the feed in error messages.

    Returns:
        The papers as listed, duplicates included.

    Raises:
        ValueError: When ``format`` is not one of :data:`FEED_FORMATS`.
        FeedError: When the feed is malformed.
    """
    parser = PARSERS.get(format)
    if parser is None:
        raise ValueError(f"unknown feed format {format!r}; expected one of {', '.join(PARSERS)}")
    return parser(text, date=date, source_name=source_name)


def load_feed(
    source: str, *, format: str | None = None, date: dt.date | None = None
) -> list[Paper]:
    """Read, detect and parse one feed; a paper listed twice in it is merged into one.

    Args:
        source: A local path (``.gz`` is decompressed), ``-`` for standard input, or an
            http(s) URL (fetched with retries, see :func:`read_source`).
        format: One of :data:`FEED_FORMATS`; detected from the name and content when ``None``.
        date: The listing day (see :func:`parse_feed`).

    Returns:
        The feed's papers, one per ``paper_id``, in order of first appearance.

    Raises:
        ValueError: When ``format`` is not one of :data:`FEED_FORMATS`.
        FeedError: When the feed cannot be read, its format is unclear, or it is malformed.
        MissingExtraError: When the feed needs httpx or defusedxml and they are not installed.
    """
    name, text = read_source(source)
    chosen = format or detect_format(name, text)
    return merge_papers(parse_feed(text, chosen, date=date, source_name=name))
