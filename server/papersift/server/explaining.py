"""Explanations: the reasons shown beside each paper of a page (computed per page, never cached)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from papersift.core.bundle import ModelBundle
from papersift.core.store import Store
from papersift.core.types import PaperId, Strategy
from papersift.server.content import Community
from papersift.server.day import DayPapers
from papersift.server.explain import MAX_REASONS, followed_reason
from papersift.server.lists import ListBuilder
from papersift.server.lru import Lru
from papersift.server.popular import popular_reason
from papersift.server.queries import RankPage, RankQuery
from papersift.server.readers import Reader, load_reader
from papersift.server.reasons import page_reasons


class Explainer:
    """Puts reasons on a page's papers: followed authors, then the model's or the crowd's."""

    def __init__(self, store: Store, lists: ListBuilder) -> None:
        """Load readers from ``store``; take prepared days from ``lists``."""
        self._store = store
        self._lists = lists
        self._feature_names: Lru[str, list[str]] = Lru(2)

    async def explain(
        self,
        page: RankPage,
        model: ModelBundle | None,
        query: RankQuery,
        reader: Reader | None,
        day: DayPapers,
        papers_rev: int,
        community: Community | None,
    ) -> RankPage:
        """The page with reasons on each paper; ``model`` and ``community`` are the snapshots
        the request ranked with, ``reader`` the one it loaded (``None`` on a cache hit)."""
        personal_reasons_of: dict[PaperId, list[str]] = {}
        if page.strategy is not Strategy.POPULAR and model is not None:
            if reader is None:
                personal = page.strategy is Strategy.PERSONAL
                reader = await load_reader(
                    self._store, model, query, personal=personal, rows=self._lists.history_rows
                )
            if reader.model is not None:
                items = await self._lists.prepared_day(model, query.date, day.papers, papers_rev)
                personal_reasons_of = await asyncio.to_thread(
                    page_reasons,
                    model,
                    items,
                    reader.model,
                    reader.signals.positive,
                    reader.touched,
                    [entry.paper for entry in page.entries],
                    self._names(model),
                )
        explained = []
        for entry in page.entries:
            reasons: list[str] = []
            author = query.rules.followed_author(entry.paper)
            if author is not None:
                reasons.append(followed_reason(author))
            if page.strategy is Strategy.POPULAR:
                # The community's taste orders the list only where a featurizer can read it.
                # Without a content state nobody counted the likes: assume there are some.
                liked = community is None or not community.empty
                by_taste = community is not None and liked and model is not None
                reasons.append(popular_reason(entry.score, anyone_liked=liked, by_taste=by_taste))
            else:
                reasons.extend(personal_reasons_of.get(entry.paper.paper_id, []))
            explained.append(replace(entry, reasons=tuple(reasons[:MAX_REASONS])))
        return replace(page, entries=tuple(explained))

    def _names(self, model: ModelBundle) -> list[str]:
        names = self._feature_names.get(model.version)
        if names is None:
            names = model.featurizer.feature_names
            self._feature_names.put(model.version, names)
        return names
