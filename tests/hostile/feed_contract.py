"""The contract of every feed parser, checked on each outcome a property sees.

A parser either returns papers the service can take, or raises :class:`FeedError` naming the
feed and, when the problem is in one place, the line or entry. Any other exception, or a paper
that cannot be sent or would be refused for anything but its size, breaks the contract.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from papersift.client import Paper
from papersift.client._convert import paper_to_proto
from papersift.client.feeds import FeedError, MissingExtraError
from papersift.client.feeds._common import clean
from papersift.core.errors import InvalidInput
from papersift.core.types import Paper as CorePaper
from papersift.core.types import PaperId
from papersift.core.validation import check_paper

PAPER_ID = re.compile(
    r"arxiv:(?:\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2})?/\d{7})"
    r"|title:[0-9a-f]{16}"
)
LOCATION = re.compile(r"(?P<kind>line|entry) (?P<number>[1-9][0-9]*)")
SOURCES = frozenset({"arxiv", "arxiv-digest", "hf-daily"})
HTTP_URL = re.compile(r"https?://\S+")
# Sizes are the server's to enforce: a feed keeps a 30,000-character abstract and UpsertPapers
# refuses it naming the field. Every other rule of the server must already hold.
SIZE_CHECKED_FIELDS = frozenset({"title", "abstract", "authors", "categories", "url"})


def assert_valid_paper(paper: Paper) -> None:
    """``paper`` is well formed, can be sent, and the server's rules (but sizes) accept it."""
    assert isinstance(paper, Paper)
    assert PAPER_ID.fullmatch(paper.paper_id), paper.paper_id
    assert paper.title and paper.title == clean(paper.title), paper.title
    assert paper.abstract == clean(paper.abstract)
    assert all(name and name == clean(name) for name in paper.authors), paper.authors
    assert all(term and term == term.strip() for term in paper.categories), paper.categories
    assert not paper.url or HTTP_URL.fullmatch(paper.url), paper.url
    assert paper.source in SOURCES
    assert type(paper.date) is dt.date
    paper_to_proto(paper).SerializeToString()  # raises on text protobuf cannot carry
    core = CorePaper(
        paper_id=PaperId(paper.paper_id),
        title=paper.title,
        date=paper.date,
        abstract=paper.abstract,
        authors=paper.authors,
        categories=paper.categories,
        url=paper.url,
        source=paper.source,
    )
    try:
        check_paper(core, "paper")
    except InvalidInput as exc:
        name = exc.field.split(".", 1)[1].split("[", 1)[0]
        if name not in SIZE_CHECKED_FIELDS or "at most" not in exc.problem:
            raise


def assert_feed_error(error: FeedError, source_name: str, *, lines: int | None = None) -> None:
    """``error`` names the feed, says what is wrong and, if it names a line, a real one."""
    assert type(error) is FeedError, f"{type(error).__name__}: {error}"
    assert not isinstance(error, MissingExtraError)
    assert error.source == source_name
    assert error.problem.strip(), "an error must say what is wrong"
    if error.location is not None:
        found = LOCATION.fullmatch(error.location)
        assert found, error.location
        if found["kind"] == "line" and lines is not None:
            assert int(found["number"]) <= lines, (error.location, lines)
    where = f"{source_name} {error.location}" if error.location else source_name
    assert str(error) == f"{where}: {error.problem}"


def outcome(
    parse: Callable[[], list[Paper]], source_name: str, *, text: str | None = None
) -> list[Paper] | FeedError:
    """Run ``parse``; return its papers or its ``FeedError``, each checked against the contract.

    Any other exception propagates and fails the property. ``text``, when given, bounds the line
    numbers an error may name.
    """
    lines = None if text is None else text.count("\n") + text.count("\r") + 1
    try:
        papers = parse()
    except FeedError as error:
        assert_feed_error(error, source_name, lines=lines)
        return error
    assert isinstance(papers, list)
    for paper in papers:
        assert_valid_paper(paper)
    return papers
