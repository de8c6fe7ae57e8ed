"""The daily arXiv digest in Markdown.

The shape, one block per paper under ``# topic`` headings::

    # large language model
    ## L$^2$M: Mutual Information Scaling Law for Long-Context Language Modeling
    - **Url**: http://arxiv.org/abs/2503.04725v1
    - **Authors**: ['Zhuo Chen', 'Oriol Mayné i Comas', 'Marin Soljačić']
    - **Abstrat**: We rigorously establish ...

``Abstrat`` (sic) and ``Abstract`` are both accepted, as are ``Link`` for ``Url`` and
``**Field:**`` for ``**Field**:``. Other ``- **Field**:`` lines are ignored; lines of plain
text right after the abstract continue it. The ``# topic`` headings are search topics, not arXiv
categories, so they are not recorded. The file has no listing dates: ``date`` is required.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field

from papersift.client._models import Paper
from papersift.client.feeds._common import (
    check_input,
    clean,
    require_date,
    split_lines,
    unsendable_char,
)
from papersift.client.feeds._ids import arxiv_paper_id, arxiv_url, find_arxiv_id, title_paper_id
from papersift.client.feeds.errors import FeedError
from papersift.client.feeds.located import Located, Location, ParsedFeed

SOURCE = "arxiv-digest"
"""The ``source`` of papers from this format."""

_HEADING = re.compile(r"(?P<marks>#{1,6})(?:\s+(?P<text>.*))?")
# The name runs up to the first ``*`` or ``:`` (its spaces are stripped later): a lazy name
# followed by ``\s*`` would backtrack quadratically on a long line of spaces.
_FIELD = re.compile(r"[-*]\s+\*\*(?P<name>[^*:]+)(?::\*\*|\*\*\s*:)\s*(?P<value>.*)")
_HTTP_URL = re.compile(r"https?://[^\s<>()\[\]]+")
_FIELD_KINDS = {
    "url": "url",
    "link": "url",
    "authors": "authors",
    "author": "authors",
    "abstract": "abstract",
    "abstrat": "abstract",
    "summary": "abstract",
}
_MAX_AUTHORS_CHARS = 100_000


@dataclass
class _Draft:
    """A paper being read: its heading line, and the fields seen so far (by kind)."""

    line: int
    title: str
    values: dict[str, str] = field(default_factory=dict)
    authors: tuple[str, ...] = ()
    last_kind: str = ""


class _Reader:
    """Reads the digest line by line; every problem names the line it is on."""

    def __init__(self, source_name: str, date: dt.date) -> None:
        self.source_name = source_name
        self.date = date
        self.papers: list[Located] = []
        self.draft: _Draft | None = None

    def fail(self, line: int, problem: str) -> FeedError:
        return FeedError(self.source_name, problem, location=f"line {line}")

    def read(self, text: str) -> list[Located]:
        for number, raw in enumerate(split_lines(text), start=1):
            self.read_line(number, raw.strip())
        self.finish()
        return self.papers

    def read_line(self, number: int, line: str) -> None:
        if not line:
            return
        heading = _HEADING.fullmatch(line)
        if heading:
            self.read_heading(number, len(heading["marks"]), heading["text"] or "")
            return
        found = _FIELD.fullmatch(line)
        if found:
            self.read_field(number, found["name"], found["value"])
            return
        if self.draft is not None and self.draft.last_kind == "abstract":
            self.draft.values["abstract"] += " " + line
            return
        raise self.fail(number, f"unexpected text {line[:40]!r}; expected '## Title' or a field")

    def read_heading(self, number: int, level: int, text: str) -> None:
        if level == 1:
            self.finish()
            return
        if level != 2:
            raise self.fail(number, f"unexpected level-{level} heading; papers are '## Title'")
        self.finish()
        title = clean(text)
        if not title:
            raise self.fail(number, "'##' heading without a title")
        self.draft = _Draft(line=number, title=title)

    def read_field(self, number: int, name: str, value: str) -> None:
        label = f"'- **{name.strip()}**:'"
        draft = self.draft
        if draft is None:
            raise self.fail(number, f"{label} before the first '## Title' heading")
        kind = _FIELD_KINDS.get(name.strip().casefold())
        if kind is None:
            draft.last_kind = ""
            return
        if kind in draft.values:
            raise self.fail(number, f"second {label} line for the paper at line {draft.line}")
        draft.values[kind] = value.strip()
        draft.last_kind = kind
        if kind == "authors":
            draft.authors = self.parse_authors(number, label, value.strip())

    def parse_authors(self, number: int, label: str, value: str) -> tuple[str, ...]:
        if not value:
            return ()
        problem = f"{label} is not a list of strings"
        if len(value) > _MAX_AUTHORS_CHARS:
            raise self.fail(number, f"{problem} (longer than {_MAX_AUTHORS_CHARS} characters)")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise self.fail(number, problem) from exc
        if not isinstance(parsed, list | tuple) or not all(isinstance(a, str) for a in parsed):
            raise self.fail(number, problem)
        for name in parsed:
            bad = unsendable_char(name)
            if bad is not None:
                # A "\x00" or "\ud800" escape: neither can be stored or sent.
                raise self.fail(number, f"{label} has an author with {bad}")
        return tuple(name for name in (clean(a) for a in parsed) if name)

    def finish(self) -> None:
        draft, self.draft = self.draft, None
        if draft is None:
            return
        url = _HTTP_URL.search(draft.values.get("url", ""))
        raw_url = url.group(0) if url else ""
        arxiv_id = find_arxiv_id(raw_url) if raw_url else None
        paper = Paper(
            paper_id=arxiv_paper_id(arxiv_id) if arxiv_id else title_paper_id(draft.title),
            title=draft.title,
            date=self.date,
            abstract=clean(draft.values.get("abstract", "")),
            authors=draft.authors,
            url=arxiv_url(arxiv_id) if arxiv_id else raw_url,
            source=SOURCE,
        )
        self.papers.append(Located(paper, Location(self.source_name, line=draft.line)))


def read_markdown(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> ParsedFeed:
    """Read a daily arXiv digest in Markdown; each paper is located at its ``## Title`` line.

    A malformed line fails the whole digest (its papers cannot be told apart after it).

    Raises:
        FeedError: As :func:`parse_markdown`.
    """
    listing_day = require_date(date, source_name)
    check_input(text, source_name)
    return ParsedFeed(papers=_Reader(source_name, listing_day).read(text))


def parse_markdown(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse a daily arXiv digest in Markdown.

    Args:
        text: The whole digest.
        date: The listing day of every paper; required, the digest has no dates.
        source_name: Names the feed in error messages.

    Returns:
        The papers in the order listed (a paper under two topics appears twice).

    Raises:
        FeedError: When ``date`` is missing, or a line is malformed or holds a NUL or a lone
            surrogate (the message names the line).
    """
    return read_markdown(text, date=date, source_name=source_name).strict()
