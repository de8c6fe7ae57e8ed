"""The papers of recently ranked days, kept in process memory per (date, papers revision)."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping

from papersift.core.types import Paper, PaperId


class DayPapers:
    """A small LRU of ``{paper_id: Paper}`` per day.

    A new upsert for a day bumps its papers revision, so the stale entry is simply never asked
    for again and ages out of the LRU.
    """

    def __init__(self, max_days: int = 16) -> None:
        self._max_days = max_days
        self._days: OrderedDict[tuple[dt.date, int], Mapping[PaperId, Paper]] = OrderedDict()

    def get(self, date: dt.date, papers_rev: int) -> Mapping[PaperId, Paper] | None:
        """The day's papers at that revision, if loaded."""
        key = (date, papers_rev)
        papers = self._days.get(key)
        if papers is not None:
            self._days.move_to_end(key)
        return papers

    def put(self, date: dt.date, papers_rev: int, papers: Mapping[PaperId, Paper]) -> None:
        """Remember the day's papers at that revision."""
        self._days[(date, papers_rev)] = papers
        self._days.move_to_end((date, papers_rev))
        while len(self._days) > self._max_days:
            self._days.popitem(last=False)
