"""The arXiv API's Atom response (``http://export.arxiv.org/api/query?...``).

Each ``<entry>`` has ``<id>http://arxiv.org/abs/2503.04725v1</id>``, ``<title>``, ``<summary>``,
``<author><name>``, ``<category term="cs.CL"/>`` (with ``<arxiv:primary_category>``) and
``<published>``. The listing day is ``date`` when given, else the day of ``<published>`` as
written (the first version's submission day: close to, but not always, the day arXiv listed it).
An error answer of the API (an entry whose id is ``http://arxiv.org/api/errors#...``) fails the
feed with the API's message. XML is parsed only with defusedxml; DTDs and entities are refused.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from papersift.client._models import Paper
from papersift.client.feeds._common import day_of_timestamp
from papersift.client.feeds._ids import arxiv_paper_id, arxiv_url, find_arxiv_id
from papersift.client.feeds._xml import child_text, has_child, local_name, parse_xml
from papersift.client.feeds.errors import FeedError
from papersift.client.feeds.located import Location, ParsedFeed, read_records

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

SOURCE = "arxiv"
"""The ``source`` of papers from this format."""
ATOM_NS = "http://www.w3.org/2005/Atom"
"""The Atom XML namespace."""
ARXIV_NS = "http://arxiv.org/schemas/atom"
"""arXiv's namespace for its Atom extensions (``primary_category``, ``comment``...)."""
_NS = {"atom": ATOM_NS, "arxiv": ARXIV_NS}
_API_ERROR_PREFIX = "http://arxiv.org/api/errors"


def _categories(entry: Element) -> tuple[str, ...]:
    terms: list[str] = []
    primary = entry.find("arxiv:primary_category", _NS)
    if primary is not None:
        terms.append(primary.get("term", "").strip())
    terms.extend(c.get("term", "").strip() for c in entry.findall("atom:category", _NS))
    return tuple(dict.fromkeys(term for term in terms if term))


def _entry_day(entry: Element, date: dt.date | None, fail: _Fail) -> dt.date:
    if date is not None:
        return date
    published = child_text(entry, "atom:published", _NS)
    if not published:
        raise fail("missing <published>; pass --date YYYY-MM-DD")
    day = day_of_timestamp(published)
    if day is None:
        raise fail(f"<published> {published[:40]!r} is not an ISO 8601 timestamp")
    return day


class _Fail:
    """Builds the error of one entry."""

    def __init__(self, source_name: str, index: int) -> None:
        self.source_name = source_name
        self.index = index
        self.paper_id: str | None = None

    def __call__(self, problem: str) -> FeedError:
        return FeedError(
            self.source_name, problem, location=f"entry {self.index}", paper_id=self.paper_id
        )


def _refuse_api_error(entry: Element, source_name: str) -> None:
    raw_id = child_text(entry, "atom:id", _NS)
    if raw_id.startswith(_API_ERROR_PREFIX):
        message = child_text(entry, "atom:summary", _NS) or raw_id
        raise FeedError(source_name, f"the arXiv API answered with an error: {message}")


def _entry(entry: Element, index: int, date: dt.date | None, source_name: str) -> Paper:
    fail = _Fail(source_name, index)
    raw_id = child_text(entry, "atom:id", _NS)
    if not raw_id:
        raise fail("missing <id>")
    arxiv_id = find_arxiv_id(raw_id)
    if arxiv_id is None:
        raise fail(f"<id> {raw_id[:80]!r} is not an arXiv id")
    fail.paper_id = arxiv_paper_id(arxiv_id)
    if not has_child(entry, "atom:title", _NS):
        raise fail("missing <title>")
    title = child_text(entry, "atom:title", _NS)
    if not title:
        raise fail("empty <title>")
    authors = (child_text(a, "atom:name", _NS) for a in entry.findall("atom:author", _NS))
    return Paper(
        paper_id=arxiv_paper_id(arxiv_id),
        title=title,
        date=_entry_day(entry, date, fail),
        abstract=child_text(entry, "atom:summary", _NS),
        authors=tuple(name for name in authors if name),
        categories=_categories(entry),
        url=arxiv_url(arxiv_id),
        source=SOURCE,
    )


def read_arxiv_atom(
    text: str,
    *,
    date: dt.date | None = None,
    source_name: str = "<feed>",
    fail_fast: bool = False,
) -> ParsedFeed:
    """Read an arXiv API Atom response, each entry on its own.

    An entry that :func:`parse_arxiv_atom` would fail on is rejected alone (naming it); bad
    XML, a root that is not an Atom ``<feed>`` or an error answer of the API fail the feed.
    With ``fail_fast``, the first bad entry raises at once.

    Raises:
        FeedError: For a feed that fails whole (see above).
        MissingExtraError: When defusedxml is not installed.
    """
    root = parse_xml(text, source_name)
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise FeedError(
            source_name, f"not an Atom feed: the root element is <{local_name(root.tag)}>"
        )
    entries = root.findall("atom:entry", _NS)
    for entry in entries:
        _refuse_api_error(entry, source_name)
    records = (
        (Location(source_name, entry=index), partial(_entry, entry, index, date, source_name))
        for index, entry in enumerate(entries, 1)
    )
    return read_records(records, fail_fast=fail_fast)


def parse_arxiv_atom(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse an arXiv API Atom response.

    Args:
        text: The Atom document.
        date: The listing day of every paper; when ``None``, each entry's ``<published>`` day.
        source_name: Names the feed in error messages.

    Returns:
        The papers in feed order.

    Raises:
        FeedError: When the XML is malformed or unsafe, the root is not an Atom ``<feed>``, the
            API answered with an error, or an entry lacks an arXiv ``<id>``, a ``<title>`` or a
            date (the message names the entry, counted from 1).
        MissingExtraError: When defusedxml is not installed.
    """
    return read_arxiv_atom(text, date=date, source_name=source_name, fail_fast=True).strict()
