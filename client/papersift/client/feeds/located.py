"""Where each parsed paper came from: the feed and its line or entry.

Parsers read a feed into a :class:`ParsedFeed`: every paper with its :class:`Location`, and the
records they could not read, each with the error naming it. The public ``parse_<format>``
functions keep returning plain papers and raising at the first bad record
(:meth:`ParsedFeed.strict`); ``papersift ingest`` reads every record first, so it can list all
the bad ones at once (and skip them with ``--skip-invalid``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from papersift.client._models import Paper
from papersift.client.feeds.errors import FeedError


@dataclass(frozen=True, slots=True)
class Location:
    """A record of a feed: its line (text formats) or its entry (XML and JSON documents).

    ``str()`` gives ``papers.jsonl:12``, ``query.atom entry 4``, or the bare source name.
    """

    source: str
    line: int | None = None
    entry: int | None = None

    @property
    def where(self) -> str | None:
        """How a :class:`FeedError` names the spot: ``line 12``, ``entry 4`` or ``None``."""
        if self.line is not None:
            return f"line {self.line}"
        if self.entry is not None:
            return f"entry {self.entry}"
        return None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.source}:{self.line}"
        if self.entry is not None:
            return f"{self.source} entry {self.entry}"
        return self.source


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed paper and the record of the feed it was read from."""

    paper: Paper
    location: Location


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a parser read from one feed: its papers in feed order, and the records it could not
    read (each with the error naming it), in feed order too."""

    papers: list[Located] = field(default_factory=list)
    rejected: list[tuple[Location, FeedError]] = field(default_factory=list)
    format: str = ""
    """The format it was read as (see ``detect.FEED_FORMATS``); empty when not known."""

    def strict(self) -> list[Paper]:
        """The papers, or the first record's error when any record could not be read.

        Raises:
            FeedError: The first rejected record's error.
        """
        if self.rejected:
            raise self.rejected[0][1]
        return [located.paper for located in self.papers]


def read_records(
    records: Iterable[tuple[Location, Callable[[], Paper]]], *, fail_fast: bool = False
) -> ParsedFeed:
    """Run each record's reader; a :class:`FeedError` rejects that record only.

    Args:
        records: Each record's location and a function reading its paper (raising
            :class:`FeedError` for a record that cannot be read).
        fail_fast: Raise the first record's error at once instead (what the ``parse_<format>``
            functions do: a feed of 10,000 bad lines fails in the time of one).

    Raises:
        FeedError: With ``fail_fast``, the first bad record's error.
    """
    parsed = ParsedFeed()
    for location, read in records:
        try:
            parsed.papers.append(Located(read(), location))
        except FeedError as error:
            if fail_fast:
                raise
            parsed.rejected.append((location, error))
    return parsed
