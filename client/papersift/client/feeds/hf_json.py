"""The Hugging Face Daily Papers API (``https://huggingface.co/api/daily_papers``).

A JSON list; each item has ``paper`` (``id``: the arXiv id, ``title``, ``summary``,
``authors``: [{``name``, ...}], ``publishedAt``, ``submittedOnDailyAt``) and top-level
``title``, ``summary``, ``publishedAt`` among others.

The listing day is ``date`` when given, else the day the paper was featured on Daily Papers
(``paper.submittedOnDailyAt``), else the item's ``publishedAt`` (which the API sets to the arXiv
publication time), else ``paper.publishedAt``; timestamps are UTC.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from papersift.client._models import Paper
from papersift.client.feeds._common import check_input, day_of_timestamp
from papersift.client.feeds._ids import arxiv_paper_id, arxiv_url, find_arxiv_id
from papersift.client.feeds._json import (
    Fail,
    JsonObject,
    as_object,
    decode,
    optional_str,
    type_name,
)
from papersift.client.feeds.errors import FeedError, naming_paper
from papersift.client.feeds.located import Location, ParsedFeed, read_records

SOURCE = "hf-daily"
"""The ``source`` of papers from this format."""
_DAY_FIELDS = (("paper", "submittedOnDailyAt"), ("item", "publishedAt"), ("paper", "publishedAt"))


def _authors(paper: JsonObject, fail: Fail) -> tuple[str, ...]:
    value = paper.get("authors")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fail(f"'paper.authors' is {type_name(value)}, not a list")
    names = []
    for position, author in enumerate(value, 1):
        record = as_object(author, f"'paper.authors[{position}]'", fail)
        name = optional_str(record, "name", fail, label=f"paper.authors[{position}].name")
        if name:
            names.append(name)
    return tuple(names)


def _day(item: JsonObject, paper: JsonObject, date: dt.date | None, fail: Fail) -> dt.date:
    if date is not None:
        return date
    for holder, key in _DAY_FIELDS:
        label = f"paper.{key}" if holder == "paper" else key
        written = optional_str(paper if holder == "paper" else item, key, fail, label=label)
        if written:
            day = day_of_timestamp(written)
            if day is None:
                raise fail(f"{label!r} {written[:40]!r} is not an ISO 8601 timestamp")
            return day
    raise fail("no 'paper.submittedOnDailyAt' or 'publishedAt'; pass --date YYYY-MM-DD")


def _paper(value: object, date: dt.date | None, fail: Fail) -> Paper:
    item = as_object(value, "the item", fail)
    if "paper" not in item:
        raise fail("missing 'paper'")
    paper = as_object(item["paper"], "'paper'", fail)
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise fail("missing 'paper.id'")
    arxiv_id = find_arxiv_id(raw_id)
    if arxiv_id is None:
        raise fail(f"'paper.id' {raw_id[:40]!r} is not an arXiv id")
    fail = naming_paper(fail, arxiv_paper_id(arxiv_id))
    title = optional_str(paper, "title", fail, label="paper.title") or optional_str(
        item, "title", fail
    )
    if not title:
        raise fail("missing 'paper.title'")
    abstract = optional_str(paper, "summary", fail, label="paper.summary") or optional_str(
        item, "summary", fail
    )
    return Paper(
        paper_id=arxiv_paper_id(arxiv_id),
        title=title,
        date=_day(item, paper, date, fail),
        abstract=abstract,
        authors=_authors(paper, fail),
        url=arxiv_url(arxiv_id),
        source=SOURCE,
    )


def _api_error(decoded: object) -> str | None:
    if isinstance(decoded, dict):
        message = decoded.get("error")
        if isinstance(message, str):
            return message
    return None


def read_hf_json(
    text: str,
    *,
    date: dt.date | None = None,
    source_name: str = "<feed>",
    fail_fast: bool = False,
) -> ParsedFeed:
    """Read a Hugging Face Daily Papers API response, each item on its own.

    An item that :func:`parse_hf_json` would fail on is rejected alone (naming its entry);
    a document that is not a JSON list of items fails whole. With ``fail_fast``, the first
    bad item raises at once.

    Raises:
        FeedError: When the text holds a NUL or a lone surrogate, the JSON is invalid, not a
            list, or an error answer of the API.
    """

    def fail_at_line(problem: str, line: int) -> FeedError:
        return FeedError(source_name, problem, location=f"line {line}")

    check_input(text, source_name)
    decoded = decode(text, fail_at_line)
    api_error = _api_error(decoded)
    if api_error is not None:
        raise FeedError(source_name, f"the API answered with an error: {api_error}")
    if not isinstance(decoded, list):
        raise FeedError(source_name, f"expected a JSON list of papers, got {type_name(decoded)}")

    def reader(index: int, value: object) -> Paper:
        def fail(problem: str) -> FeedError:
            return FeedError(source_name, problem, location=f"entry {index}")

        return _paper(value, date, fail)

    records = (
        (Location(source_name, entry=index), partial(reader, index, value))
        for index, value in enumerate(decoded, 1)
    )
    return read_records(records, fail_fast=fail_fast)


def parse_hf_json(
    text: str, *, date: dt.date | None = None, source_name: str = "<feed>"
) -> list[Paper]:
    """Parse a Hugging Face Daily Papers API response.

    Args:
        text: The JSON list the API returns.
        date: The listing day of every paper; when ``None``, each item's featured day.
        source_name: Names the feed in error messages.

    Returns:
        The papers in API order.

    Raises:
        FeedError: When the text holds a NUL or a lone surrogate, the JSON is invalid (both
            naming the line), not a list, an error answer of the API, or an item lacks an
            arXiv id, a title or a date or holds a NUL or lone surrogate in a string (naming
            the entry, counted from 1).
    """
    return read_hf_json(text, date=date, source_name=source_name, fail_fast=True).strict()
