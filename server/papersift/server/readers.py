"""Reader loading: what a ranking request knows of its reader, read from the store."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from papersift.core.bundle import ModelBundle
from papersift.core.scoring import UserHistory, UserModel
from papersift.core.signals import UserSignals, user_signals
from papersift.core.store import Store
from papersift.core.types import Interaction, Paper, PaperId
from papersift.server.feature_rows import FeatureRowCache
from papersift.server.identity import paper_keys
from papersift.server.queries import RankQuery
from papersift.server.rules import touched_papers


@dataclass(frozen=True)
class Reader:
    """What a request knows of its reader: signals, the papers they touched, their model.

    ``touched`` holds the liked and dismissed papers, and every paper the reader touched when
    the request asked to exclude what was seen. ``acted`` names the papers the reader clicked,
    saved or dismissed when the request asked to exclude those (``exclude_touched``).
    """

    signals: UserSignals
    first_touch: Mapping[PaperId, dt.datetime]
    touched: Mapping[PaperId, Paper]
    history: UserHistory | None
    model: UserModel | None
    personal: bool
    acted: frozenset[PaperId] = frozenset()


@dataclass(frozen=True)
class ReaderParts:
    """What a reader's interactions give before any paper is read."""

    signals: UserSignals
    first_touch: Mapping[PaperId, dt.datetime]
    acted: frozenset[PaperId]
    wanted: frozenset[PaperId]
    """The papers the request must read: liked, dismissed, and what its rules hide."""

    @classmethod
    def of(cls, query: RankQuery, interactions: Sequence[Interaction]) -> ReaderParts:
        """The parts of ``interactions`` (oldest first) that ``query`` needs."""
        signals = user_signals(interactions)
        first_touch: dict[PaperId, dt.datetime] = {}
        for interaction in interactions:
            first_touch.setdefault(interaction.paper_id, interaction.occurred_at)
        # Impressions can be many; their papers are needed only to hide what was seen.
        acted = touched_papers(interactions) if query.rules.exclude_touched else frozenset()
        wanted = set(signals.positive) | signals.negative | acted
        if query.rules.exclude_seen:
            wanted |= signals.seen
        return cls(signals, first_touch, acted, frozenset(wanted))


async def load_reader(
    store: Store,
    model: ModelBundle | None,
    query: RankQuery,
    *,
    personal: bool,
    rows: FeatureRowCache | None = None,
) -> Reader:
    """:func:`load_reader_sync` in one worker thread."""
    return await asyncio.to_thread(
        load_reader_sync, store, model, query, personal=personal, rows=rows
    )


def load_reader_sync(
    store: Store,
    model: ModelBundle | None,
    query: RankQuery,
    *,
    personal: bool,
    rows: FeatureRowCache | None = None,
) -> Reader:
    """Load what the reader did; with a model, their history's features and user model
    (from the model's own vector of the reader when ``personal``, else folded in).

    Synchronous (it reads the store): run it in a worker thread. ``rows`` keeps the history's
    feature rows between requests (see :func:`reader_history`).
    """
    parts = ReaderParts.of(query, store.user_interactions(query.user_id))
    signals = parts.signals
    touched: Mapping[PaperId, Paper] = store.get_papers(parts.wanted) if parts.wanted else {}
    history: UserHistory | None = None
    user: UserModel | None = None
    if model is not None:
        if signals.positive or signals.negative:
            history = reader_history(model, signals, touched, rows=rows)
        personal_id = query.user_id if personal else None
        user = model.scorer.user_model(user_id=personal_id, history=history)
    return Reader(signals, parts.first_touch, touched, history, user, personal, parts.acted)


def reader_history(
    model: ModelBundle,
    signals: UserSignals,
    touched: Mapping[PaperId, Paper],
    *,
    rows: FeatureRowCache | None = None,
) -> UserHistory:
    """Feature rows of the reader's liked and dismissed papers.

    With ``rows``, only papers it has no rows of yet are featurized (the result is the same).
    """
    liked = [pid for pid in sorted(signals.positive) if pid in touched]
    disliked = [pid for pid in sorted(signals.negative) if pid in touched]
    papers = [touched[pid] for pid in liked] + [touched[pid] for pid in disliked]
    if rows is not None:
        features = rows.transform(model, papers)
    else:
        features = model.featurizer.transform(papers)
    return UserHistory(
        positive=features[: len(liked)],
        positive_weights=np.array([signals.positive[pid] for pid in liked], dtype=np.float32),
        negative=features[len(liked) :],
    )


def hidden_keys(query: RankQuery, reader: Reader) -> set[str]:
    """Identity keys of the papers the reader must not see again.

    Dismissed papers always; with ``exclude_seen`` also every paper the reader touched before
    the requested day began, or that was listed on an earlier day; with ``exclude_touched``
    every paper the reader clicked, saved or dismissed, whenever.
    """
    hidden: set[str] = set()
    for paper_id in reader.signals.negative | reader.acted:
        paper = reader.touched.get(paper_id)
        hidden |= paper_keys(paper) if paper is not None else {f"id:{paper_id}"}
    if query.rules.exclude_seen:
        day_start = dt.datetime.combine(query.date, dt.time(), dt.UTC)
        for paper_id, paper in reader.touched.items():
            if paper.date < query.date or reader.first_touch[paper_id] < day_start:
                hidden |= paper_keys(paper)
    return hidden
