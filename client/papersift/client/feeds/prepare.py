"""Getting parsed feeds ready to send: merge, repair, check, and list what cannot be sent.

``papersift ingest`` runs this over every source before the first batch goes out, so a record
the server would refuse stops the command with nothing written (or, with ``--skip-invalid``,
is left out and listed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from papersift.client._models import Paper
from papersift.client.feeds.check import paper_problems
from papersift.client.feeds.located import Location, ParsedFeed
from papersift.client.feeds.merge import merge_located
from papersift.client.feeds.repair import repair_paper

_SHOWN_ID_CHARS = 80


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot be sent: where it is, its paper id when known, and why.

    ``str()`` gives ``FILE:LINE (paper id): field: problem``, e.g.
    ``digest.md:12 (title:0123456789abcdef): url: is 3012 characters; at most 2048``.
    """

    location: Location
    problems: tuple[str, ...]
    paper_id: str | None = None

    def __str__(self) -> str:
        named = f" ({_shown_id(self.paper_id)})" if self.paper_id else ""
        return f"{self.location}{named}: {'; '.join(self.problems)}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """Papers ready to send, what was repaired in them, and the records left out.

    Attributes:
        papers: Merged by ``paper_id`` (see :func:`~papersift.client.feeds.merge_papers`),
            repaired, and valid, in order of first appearance.
        repairs: How many times each rule of :data:`~papersift.client.feeds.repair.RULES`
            was applied to ``papers``.
        repaired: How many of ``papers`` were changed by a repair.
        rejected: The records that cannot be sent, in input order.
    """

    papers: list[Paper] = field(default_factory=list)
    repairs: Counter[str] = field(default_factory=Counter)
    repaired: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _shown_id(paper_id: str) -> str:
    if len(paper_id) <= _SHOWN_ID_CHARS and paper_id.isprintable():
        return paper_id
    return repr(paper_id[:_SHOWN_ID_CHARS])


def prepare(feeds: Iterable[ParsedFeed]) -> Prepared:
    """Merge, repair and check the papers of ``feeds``.

    Args:
        feeds: What the readers made of each source, e.g. from
            :func:`~papersift.client.feeds.load_located`.

    Returns:
        The papers that can be sent, the repairs made to them, and every record that cannot be
        sent: those a parser could not read, and those still invalid after repair.
    """
    parsed = list(feeds)
    rejected = [
        Rejected(location, (error.problem,), error.paper_id)
        for feed in parsed
        for location, error in feed.rejected
    ]
    papers: list[Paper] = []
    repairs: Counter[str] = Counter()
    repaired = 0
    for item in merge_located(paper for feed in parsed for paper in feed.papers):
        paper, rules = repair_paper(item.paper)
        problems = paper_problems(paper)
        if problems:
            rejected.append(Rejected(item.location, tuple(map(str, problems)), paper.paper_id))
            continue
        papers.append(paper)
        repairs.update(rules)
        repaired += bool(rules)
    rank = _feed_ranks(parsed)
    rejected.sort(key=lambda record: _order(record.location, rank))
    return Prepared(papers=papers, repairs=repairs, repaired=repaired, rejected=rejected)


def _feed_ranks(parsed: list[ParsedFeed]) -> dict[str, int]:
    """The position of each source name among the feeds (the first, for a name given twice)."""
    ranks: dict[str, int] = {}
    for index, feed in enumerate(parsed):
        for item in feed.papers:
            ranks.setdefault(item.location.source, index)
        for location, _ in feed.rejected:
            ranks.setdefault(location.source, index)
    return ranks


def _order(location: Location, rank: dict[str, int]) -> tuple[int, int]:
    return rank.get(location.source, 0), location.line or location.entry or 0
