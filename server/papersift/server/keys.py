"""Cache-key and paging policy: which key a reader's list lives under, and how pages cut it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from papersift.core.bundle import ModelBundle
from papersift.core.store import Revisions
from papersift.core.types import Paper, PaperId, RankedList, UserId
from papersift.server.cache import CacheKey
from papersift.server.content import Community
from papersift.server.paging import PageToken
from papersift.server.queries import RankedEntry, RankPage, RankQuery


def is_personal(model: ModelBundle | None, user_id: UserId, erased_at: dt.datetime | None) -> bool:
    """Whether the model's own vector of the reader may rank for them.

    Not if the reader was erased after the model was trained: the vector is what is left of
    the erased history (the next training, from the store, no longer has it).
    """
    if model is None or not model.scorer.has_user(user_id):
        return False
    return erased_at is None or erased_at < model.manifest.trained_at


def list_key(
    model: ModelBundle | None,
    query: RankQuery,
    revisions: Revisions,
    community: Community | None,
    *,
    personal: bool,
) -> CacheKey:
    """The key of the reader's whole list for the query's day, view and revisions."""
    # A PERSONAL list depends on the model, the reader and the day's papers, not on what
    # others click: leaving the day's activity out of its key keeps it cached all day.
    # Other lists fall back on the day's activity and the community's taste.
    day_rev = (
        str(revisions.papers)
        if personal
        else f"{revisions.papers}.{revisions.activity}.{community.version if community else 0}"
    )
    return CacheKey(
        model_version=model.version if model else "",
        date=query.date,
        user_id=query.user_id,
        user_rev=revisions.user,
        day_rev=day_rev,
        view=query.view,
    )


def snapshot_key(token: PageToken) -> CacheKey:
    """The key of the list a page token was cut from."""
    return CacheKey(
        model_version=token.model_version,
        date=token.date,
        user_id=UserId(token.user_id),
        user_rev=token.user_rev,
        day_rev=token.day_rev,
        view=token.view,
    )


def page_of(
    ranking: RankedList,
    papers: Mapping[PaperId, Paper],
    key: CacheKey,
    query: RankQuery,
    offset: int,
    cached: bool,
) -> RankPage:
    """The query's page of ``ranking`` from ``offset``, with a token for the next one."""
    window = ranking.items[offset : offset + query.limit]
    entries = tuple(
        RankedEntry(papers[item.paper_id], item.score, offset + position + 1)
        for position, item in enumerate(window)
        # A cached list may name a paper that since moved to another day.
        if item.paper_id in papers
    )
    end = offset + len(window)
    next_token = ""
    if end < len(ranking.items):
        next_token = PageToken(
            user_id=query.user_id,
            date=query.date,
            offset=end,
            model_version=key.model_version,
            user_rev=key.user_rev,
            day_rev=key.day_rev,
            view=key.view,
        ).encode()
    return RankPage(
        entries=entries,
        next_page_token=next_token,
        model_version=ranking.model_version,
        strategy=ranking.strategy,
        cached=cached,
        total=len(ranking.items),
    )
