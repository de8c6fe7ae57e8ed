"""The text of a Hugging Face "Daily Papers" page (copied from the browser).

The shape: a header of short lines (``new``, ``Get trending papers in your email inbox!``,
``Subscribe``, ``Daily Papers``, ``byAK and the research community``, a day such as ``Aug 6``),
then each paper as its title on one line, a blank line, and its abstract paragraph.

How it is read: the text is cut into paragraphs at blank lines; the header is the leading run
of paragraphs that match the known header lines or a month-and-day. After it, a paragraph that
looks like a title (one line of at most 300 characters, not ending in a full stop) starts a
paper; the paragraphs after it, up to the next title, are its abstract (an abstract of several
paragraphs is joined). Every paper must have an abstract here: a title followed directly by
another title-like line (or by the end of the text) fails the feed, as does text that looks
like an abstract where a title is expected. Without this rule, stray page text ("Previous",
"Next", a footer) would be ingested as papers.

The page has no ids or links: each paper gets a stable id from its title
(:func:`~papersift.client.feeds._ids.title_paper_id`) and no URL. It has no year either, so
``date`` is required.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from papersift.client._models import Paper
from papersift.client.feeds._common import check_input, clean, require_date, split_lines
from papersift.client.feeds._ids import title_paper_id
from papersift.client.feeds.errors import FeedError
from papersift.client.feeds.located import Located, Location, ParsedFeed

SOURCE = "hf-daily"
"""The ``source`` of papers from this format."""
MAX_TITLE_CHARS = 300
"""A longer paragraph is never taken for a title."""

_HEADER_LINES = re.compile(
    r"new|subscribe|daily papers|get trending papers.*|by\s*ak\b.*|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}"
    r"(?:st|nd|rd|th)?(?:,?\s+\d{4})?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Paragraph:
    """Consecutive non-blank lines, and the number of the first."""

    line: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return clean(" ".join(self.lines))

    def looks_like_title(self) -> bool:
        text = self.text
        return len(self.lines) == 1 and len(text) <= MAX_TITLE_CHARS and not text.endswith(".")


def _paragraphs(text: str) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        if line:
            if not current:
                start = number
            current.append(line)
        elif current:
            paragraphs.append(_Paragraph(start, tuple(current)))
            current = []
    if current:
        paragraphs.append(_Paragraph(start, tuple(current)))
    return paragraphs


def _skip_header(paragraphs: list[_Paragraph]) -> list[_Paragraph]:
    for index, paragraph in enumerate(paragraphs):
        if len(paragraph.lines) != 1 or not _HEADER_LINES.fullmatch(paragraph.text):
            return paragraphs[index:]
    return []


def _pair(paragraphs: list[_Paragraph], source_name: str) -> list[tuple[_Paragraph, str]]:
    """(title, abstract) pairs; fails on body text before a title, or a title without body."""
    pairs: list[tuple[_Paragraph, list[str]]] = []
    for paragraph in paragraphs:
        if not paragraph.looks_like_title():
            if not pairs:
                raise _not_a_title(paragraph, source_name)
            pairs[-1][1].append(paragraph.text)
            continue
        if pairs and not pairs[-1][1]:
            raise _no_abstract(pairs[-1][0], paragraph, source_name)
        pairs.append((paragraph, []))
    if pairs and not pairs[-1][1]:
        raise _no_abstract(pairs[-1][0], None, source_name)
    return [(title, " ".join(body)) for title, body in pairs]


def _not_a_title(paragraph: _Paragraph, source_name: str) -> FeedError:
    return FeedError(
        source_name,
        f"expected a paper title, found a paragraph of {len(paragraph.text)} characters "
        f"({paragraph.text[:40]!r}...); titles are one line of at most {MAX_TITLE_CHARS} "
        "characters",
        location=f"line {paragraph.line}",
    )


def _no_abstract(title: _Paragraph, after: _Paragraph | None, source_name: str) -> FeedError:
    where = f"line {after.line} looks like another title" if after else "the text ends"
    return FeedError(
        source_name,
        f"paper {title.text[:60]!r} has no abstract ({where}); each paper must be its title, "
        "a blank line and its abstract",
        location=f"line {title.line}",
    )


def read_hf_text(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> ParsedFeed:
    """Read the text of a Hugging Face Daily Papers page; each paper is located at its title.

    A paragraph out of place fails the whole page (see the module docs).

    Raises:
        FeedError: As :func:`parse_hf_text`.
    """
    listing_day = require_date(date, source_name)
    check_input(text, source_name)
    pairs = _pair(_skip_header(_paragraphs(text)), source_name)
    return ParsedFeed(
        papers=[
            Located(
                Paper(
                    paper_id=title_paper_id(title.text),
                    title=title.text,
                    date=listing_day,
                    abstract=abstract,
                    source=SOURCE,
                ),
                Location(source_name, line=title.line),
            )
            for title, abstract in pairs
        ]
    )


def parse_hf_text(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse the text of a Hugging Face Daily Papers page.

    Args:
        text: The page text: header, then title / blank line / abstract per paper.
        date: The listing day of every paper; required, the page text has no year.
        source_name: Names the feed in error messages.

    Returns:
        The papers in page order, with ids derived from their titles.

    Raises:
        FeedError: When ``date`` is missing, the text holds a NUL or a lone surrogate, the text
            after the header does not start with a title, or a title has no abstract (the
            message names the line).
    """
    return read_hf_text(text, date=date, source_name=source_name).strict()
