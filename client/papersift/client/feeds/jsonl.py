"""The arxiv-2025q2 JSON Lines format: one paper per line.

Each line is an object with ``arxiv_id`` (``2503.22698``), ``first_listed`` (the listing day,
``YYYY-MM-DD``), ``title``, ``abstract``, ``authors`` and ``categories`` (lists of strings) and
``comment`` (ignored). Blank lines are skipped. ``date``, when given, replaces every
``first_listed``. Gzip-compressed files are handled by
:func:`~papersift.client.feeds.source.read_source`.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from papersift.client._models import Paper
from papersift.client.feeds._common import check_input, split_lines, unsendable_char
from papersift.client.feeds._ids import arxiv_paper_id, arxiv_url, find_arxiv_id
from papersift.client.feeds._json import Fail, as_object, decode, optional_str, string_list
from papersift.client.feeds.errors import FeedError, naming_paper
from papersift.client.feeds.located import Location, ParsedFeed, read_records

SOURCE = "arxiv"
"""The ``source`` of papers from this format."""


def _day(written: str, date: dt.date | None, fail: Fail) -> dt.date:
    if date is not None:
        return date
    if not written:
        raise fail("missing 'first_listed'; pass --date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(written)
    except ValueError as exc:
        raise fail(f"'first_listed' {written[:40]!r} is not a YYYY-MM-DD date") from exc


def _paper(line: str, date: dt.date | None, fail: Fail) -> Paper:
    record = as_object(decode(line, lambda problem, _line: fail(problem)), "the line", fail)
    raw_id = optional_str(record, "arxiv_id", fail)
    if not raw_id:
        raise fail("missing 'arxiv_id'")
    arxiv_id = find_arxiv_id(raw_id)
    if arxiv_id is None:
        raise fail(f"'arxiv_id' {raw_id[:40]!r} is not an arXiv id")
    fail = naming_paper(fail, arxiv_paper_id(arxiv_id))
    title = optional_str(record, "title", fail)
    if not title:
        raise fail("missing 'title'")
    return Paper(
        paper_id=arxiv_paper_id(arxiv_id),
        title=title,
        date=_day(optional_str(record, "first_listed", fail), date, fail),
        abstract=optional_str(record, "abstract", fail),
        authors=string_list(record, "authors", fail),
        categories=string_list(record, "categories", fail),
        url=arxiv_url(arxiv_id),
        source=SOURCE,
    )


def read_jsonl(
    text: str,
    *,
    date: dt.date | None = None,
    source_name: str = "<feed>",
    fail_fast: bool = False,
) -> ParsedFeed:
    """Read JSON Lines in the arxiv-2025q2 format, each line on its own.

    A line that :func:`parse_jsonl` would fail on (including one holding a NUL or a lone
    surrogate) is rejected alone, with the error naming it; the other lines are read.
    With ``fail_fast``, the first bad line raises at once.
    """

    def reader(number: int, line: str) -> Paper:
        def fail(problem: str) -> FeedError:
            return FeedError(source_name, problem, location=f"line {number}")

        bad = unsendable_char(line)
        if bad is not None:
            raise fail(f"contains {bad}; feeds must be plain UTF-8 text")
        return _paper(line, date, fail)

    records = (
        (Location(source_name, line=number), partial(reader, number, line))
        for number, line in enumerate(split_lines(text), 1)
        if line.strip()
    )
    return read_records(records, fail_fast=fail_fast)


def parse_jsonl(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse JSON Lines in the arxiv-2025q2 format.

    Args:
        text: The lines (already decompressed).
        date: Replaces every line's ``first_listed`` when given.
        source_name: Names the feed in error messages.

    Returns:
        The papers in file order.

    Raises:
        FeedError: When a line is not a JSON object, lacks an arXiv id, a title or a date, or
            holds a NUL or a lone surrogate (also as a ``\\u`` escape); the message names the
            line.
    """
    check_input(text, source_name)
    return read_jsonl(text, date=date, source_name=source_name, fail_fast=True).strict()
