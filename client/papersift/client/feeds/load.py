"""Parsing a feed by format name, and loading one from a path or URL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping

from papersift.client._models import Paper
from papersift.client.feeds.arxiv_atom import parse_arxiv_atom, read_arxiv_atom
from papersift.client.feeds.arxiv_rss import parse_arxiv_rss, read_arxiv_rss
from papersift.client.feeds.detect import FEED_FORMATS, detect_format
from papersift.client.feeds.hf_json import parse_hf_json, read_hf_json
from papersift.client.feeds.hf_text import parse_hf_text, read_hf_text
from papersift.client.feeds.jsonl import parse_jsonl, read_jsonl
from papersift.client.feeds.located import ParsedFeed
from papersift.client.feeds.markdown import parse_markdown, read_markdown
from papersift.client.feeds.merge import merge_papers
from papersift.client.feeds.source import read_source

Parser = Callable[..., list[Paper]]
"""``parse_<format>(text, *, date=None, source_name="<feed>") -> list[Paper]``."""
Reader = Callable[..., ParsedFeed]
"""``read_<format>(text, *, date=None, source_name="<feed>") -> ParsedFeed``."""

PARSERS: Mapping[str, Parser] = {
    "markdown": parse_markdown,
    "hf-text": parse_hf_text,
    "arxiv-atom": parse_arxiv_atom,
    "arxiv-rss": parse_arxiv_rss,
    "hf-json": parse_hf_json,
    "jsonl": parse_jsonl,
}
"""The parser of each of :data:`FEED_FORMATS`."""

READERS: Mapping[str, Reader] = {
    "markdown": read_markdown,
    "hf-text": read_hf_text,
    "arxiv-atom": read_arxiv_atom,
    "arxiv-rss": read_arxiv_rss,
    "hf-json": read_hf_json,
    "jsonl": read_jsonl,
}
"""The located reader of each of :data:`FEED_FORMATS` (see :class:`ParsedFeed`)."""

assert tuple(PARSERS) == FEED_FORMATS == tuple(READERS)


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


def load_located(
    source: str, *, format: str | None = None, date: dt.date | None = None
) -> ParsedFeed:
    """Read, detect and parse one feed, keeping where each paper was read and which records
    could not be read (duplicates are not merged: see
    :func:`~papersift.client.feeds.merge.merge_located`).

    Args:
        source: As :func:`load_feed`.
        format: As :func:`load_feed`.
        date: As :func:`load_feed`.

    Raises:
        ValueError: When ``format`` is not one of :data:`FEED_FORMATS`.
        FeedError: When the feed cannot be read, its format is unclear, or it is malformed as
            a whole (a bad record of a JSON Lines, JSON or XML feed is rejected alone).
        MissingExtraError: When the feed needs httpx or defusedxml and they are not installed.
    """
    if format is not None and format not in READERS:
        raise ValueError(f"unknown feed format {format!r}; expected one of {', '.join(READERS)}")
    name, text = read_source(source)
    chosen = format or detect_format(name, text)
    return dataclasses.replace(READERS[chosen](text, date=date, source_name=name), format=chosen)
