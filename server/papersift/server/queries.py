"""The service's values: validated queries in, pages and counts out (independent of gRPC)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from papersift.core.types import Paper, Strategy, UserId
from papersift.server.paging import PageToken
from papersift.server.rules import NO_RULES, RankRules, view_key


@dataclass(frozen=True, slots=True)
class RankQuery:
    """A validated ranking request for one reader and day."""

    user_id: UserId
    date: dt.date
    limit: int
    page_token: PageToken | None = None
    rules: RankRules = NO_RULES
    diversity: float = 0.0
    explain: bool = False

    @property
    def view(self) -> str:
        """What besides model, reader and day shapes the list (``""`` for the plain list)."""
        return view_key(self.rules, self.diversity)


@dataclass(frozen=True, slots=True)
class RankedEntry:
    """A paper on a page, with its score and its 1-based rank in the whole list."""

    paper: Paper
    score: float
    rank: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RankPage:
    """One page of a reader's ranked list."""

    entries: tuple[RankedEntry, ...]
    next_page_token: str
    model_version: str
    strategy: Strategy
    cached: bool
    total: int


@dataclass(frozen=True, slots=True)
class DaysQuery:
    """A validated ``ListDays`` request: an optional date range and the most days to return."""

    start: dt.date | None
    end: dt.date | None
    limit: int


@dataclass(frozen=True, slots=True)
class ListedDays:
    """Listing days with their paper counts, oldest first; ``truncated`` if older ones were cut."""

    days: tuple[tuple[dt.date, int], ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class DeleteCounts:
    """What deleting a reader erased."""

    interactions: int
    cached_lists: int
    digests: int
