"""arXiv's RSS 2.0 feeds (``https://rss.arxiv.org/rss/cs.CL``).

Each ``<item>`` has ``<title>``, ``<link>https://arxiv.org/abs/2503.04725</link>``, a
``<description>`` of the form ``arXiv:2503.04725v1 Announce Type: new \\nAbstract: ...``,
``<guid>oai:arXiv.org:2503.04725v1</guid>``, ``<category>`` elements, ``<pubDate>`` and
``<dc:creator>`` (the authors, separated by commas).

Every announce type is kept: ``new`` and ``cross`` (cross-listed) papers, but also ``replace``
and ``replace-cross`` entries, which are new versions of older papers. Those carry the id of the
original paper, so upserting them updates that paper and lists it again on this feed's day;
filter on the description's announce type upstream if that is not wanted.

The listing day is ``date`` when given, else the item's ``<pubDate>``, else the channel's (the
day as written in the feed's own time zone). XML is parsed only with defusedxml.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from functools import partial
from typing import TYPE_CHECKING

from papersift.client._models import Paper
from papersift.client.feeds._common import clean
from papersift.client.feeds._ids import arxiv_paper_id, arxiv_url, find_arxiv_id
from papersift.client.feeds._xml import child_text, has_child, local_name, parse_xml
from papersift.client.feeds.errors import FeedError
from papersift.client.feeds.located import Location, ParsedFeed, read_records

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

SOURCE = "arxiv"
"""The ``source`` of papers from this format."""
DC_NS = "http://purl.org/dc/elements/1.1/"
"""The Dublin Core namespace (``dc:creator``)."""
_NS = {"dc": DC_NS}
_DESCRIPTION = re.compile(
    r"\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?(?P<abstract>.*)",
    re.DOTALL,
)


def _rfc822_day(value: str) -> dt.date | None:
    try:
        return email.utils.parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None


def _authors(creator: str) -> tuple[str, ...]:
    names = [clean(name) for name in creator.split(",")]
    if names and names[-1].startswith("and "):
        names[-1] = names[-1].removeprefix("and ").strip()
    return tuple(name for name in names if name)


class _Item:
    """Reads one ``<item>``; every problem names the entry."""

    def __init__(self, item: Element, index: int, source_name: str) -> None:
        self.item = item
        self.index = index
        self.source_name = source_name
        self.paper_id: str | None = None

    def fail(self, problem: str) -> FeedError:
        return FeedError(
            self.source_name, problem, location=f"entry {self.index}", paper_id=self.paper_id
        )

    def arxiv_id_and_abstract(self) -> tuple[str, str]:
        description = child_text(self.item, "description")
        match = _DESCRIPTION.match(description)
        abstract = clean(match["abstract"]) if match else description
        candidates = [match["id"]] if match else []
        candidates += [child_text(self.item, "link"), child_text(self.item, "guid")]
        for candidate in candidates:
            found = find_arxiv_id(candidate) if candidate else None
            if found:
                return found, abstract
        raise self.fail("no arXiv id in <description>, <link> or <guid>")

    def day(self, channel_day: str, date: dt.date | None) -> dt.date:
        if date is not None:
            return date
        written = child_text(self.item, "pubDate") or channel_day
        if not written:
            raise self.fail("no <pubDate> on the item or the channel; pass --date YYYY-MM-DD")
        day = _rfc822_day(written)
        if day is None:
            raise self.fail(f"<pubDate> {written[:40]!r} is not an RFC 822 date")
        return day

    def paper(self, channel_day: str, date: dt.date | None) -> Paper:
        if not has_child(self.item, "title"):
            raise self.fail("missing <title>")
        title = child_text(self.item, "title")
        if not title:
            raise self.fail("empty <title>")
        arxiv_id, abstract = self.arxiv_id_and_abstract()
        self.paper_id = arxiv_paper_id(arxiv_id)
        categories = (clean(c.text or "") for c in self.item.findall("category"))
        return Paper(
            paper_id=arxiv_paper_id(arxiv_id),
            title=title,
            date=self.day(channel_day, date),
            abstract=abstract,
            authors=_authors(child_text(self.item, "dc:creator", _NS)),
            categories=tuple(dict.fromkeys(c for c in categories if c)),
            url=arxiv_url(arxiv_id),
            source=SOURCE,
        )


def read_arxiv_rss(
    text: str,
    *,
    date: dt.date | None = None,
    source_name: str = "<feed>",
    fail_fast: bool = False,
) -> ParsedFeed:
    """Read an arXiv RSS 2.0 feed, each item on its own.

    An item that :func:`parse_arxiv_rss` would fail on is rejected alone (naming its entry);
    bad XML or a document that is not ``<rss>`` with a ``<channel>`` fail the feed.
    With ``fail_fast``, the first bad item raises at once.

    Raises:
        FeedError: For a feed that fails whole (see above).
        MissingExtraError: When defusedxml is not installed.
    """
    root = parse_xml(text, source_name)
    if root.tag != "rss":
        raise FeedError(
            source_name, f"not an RSS 2.0 feed: the root element is <{local_name(root.tag)}>"
        )
    channel = root.find("channel")
    if channel is None:
        raise FeedError(source_name, "missing <channel>")
    channel_day = child_text(channel, "pubDate")
    records = (
        (
            Location(source_name, entry=index),
            partial(_Item(item, index, source_name).paper, channel_day, date),
        )
        for index, item in enumerate(channel.findall("item"), 1)
    )
    return read_records(records, fail_fast=fail_fast)


def parse_arxiv_rss(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse an arXiv RSS 2.0 feed.

    Args:
        text: The RSS document.
        date: The listing day of every paper; when ``None``, each item's ``<pubDate>`` (or the
            channel's).
        source_name: Names the feed in error messages.

    Returns:
        The papers in feed order, every announce type included (see the module docs).

    Raises:
        FeedError: When the XML is malformed or unsafe, the root is not ``<rss>`` with a
            ``<channel>``, or an item lacks a title, an arXiv id or a date (the message names
            the entry, counted from 1).
        MissingExtraError: When defusedxml is not installed.
    """
    return read_arxiv_rss(text, date=date, source_name=source_name, fail_fast=True).strict()
