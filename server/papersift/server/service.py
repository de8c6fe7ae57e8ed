"""What the API does, independent of gRPC: validated domain values in, domain values out.

The store is synchronous (SQLAlchemy); its calls run in worker threads so the event loop keeps
serving other requests while one waits on the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from papersift.core.bundle import ModelBundle
from papersift.core.errors import NotFound
from papersift.core.scoring import UserHistory, UserModel
from papersift.core.signals import UserSignals, user_signals
from papersift.core.store import Store
from papersift.core.types import (
    DigestDelivery,
    DigestRecordResult,
    Interaction,
    Paper,
    PaperId,
    RankedList,
    RecordResult,
    ScoredPaper,
    SentDigest,
    Strategy,
    UpsertResult,
    UserId,
)
from papersift.server import metrics
from papersift.server.cache import CacheKey, CacheUnavailable, RankCache
from papersift.server.content import Community, ContentState, is_content_model
from papersift.server.day import DayItems, DayPapers
from papersift.server.explain import MAX_REASONS, followed_reason
from papersift.server.identity import paper_keys
from papersift.server.lru import ComputedLru, Lru
from papersift.server.models import ModelHolder
from papersift.server.paging import PageToken
from papersift.server.popular import popular_reason, rank_by_community
from papersift.server.ranking import (
    admitted,
    diversified,
    followed_first,
    rank_by_scores,
    without_hidden,
)
from papersift.server.reasons import page_reasons
from papersift.server.rules import NO_RULES, RankRules, touched_papers, view_key

logger = logging.getLogger(__name__)

NO_MODEL_MESSAGE = (
    "no trained model is loaded: readers who saved or clicked papers get the CONTENT strategy "
    "(TF-IDF cosine to their papers, fitted on the papers in the store), everyone else "
    "POPULAR; train a model with papersift-train"
)
NO_MODEL_CONTENT_OFF_MESSAGE = (
    "no trained model is loaded and the content model is off (PAPERSIFT_CONTENT_MODEL=false): "
    "every reader gets the POPULAR strategy (the day's most clicked or saved papers, then the "
    "newest); train a model with papersift-train"
)


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


class RankingService:
    """Writes to the store, ranks a day's papers per reader, caches whole ranked lists."""

    def __init__(
        self,
        store: Store,
        cache: RankCache,
        models: ModelHolder,
        *,
        max_list_length: int = 1_000,
        content: ContentState | None = None,
    ) -> None:
        """Rank with ``models``' bundle, or before one is trained with ``content``'s."""
        self._store = store
        self._cache = cache
        self._models = models
        self._content = content
        self._max_list_length = max_list_length
        self._day_papers: Lru[tuple[dt.date, int], DayPapers] = Lru(16)
        self._feature_names: Lru[str, list[str]] = Lru(2)
        self._day_items: ComputedLru[tuple[str, dt.date, int], DayItems] = ComputedLru(16)
        self._community_profiles: ComputedLru[tuple[str, str], np.ndarray] = ComputedLru(4)

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        """Insert or update papers in one transaction."""
        result = await asyncio.to_thread(self._store.upsert_papers, papers)
        self._changed()
        return result

    async def record_interactions(self, interactions: Sequence[Interaction]) -> RecordResult:
        """Store interactions in one transaction; repeated event ids count as duplicates."""
        result = await asyncio.to_thread(self._store.record_interactions, interactions)
        self._changed()
        return result

    def _changed(self) -> None:
        if self._content is not None:
            self._content.changed()

    def _ranking_model(self) -> ModelBundle | None:
        """The trained bundle if one is loaded, else the content model (if fitted yet)."""
        trained = self._models.current
        if trained is not None or self._content is None:
            return trained
        return self._content.model

    def _community(self) -> Community | None:
        return None if self._content is None else self._content.community

    async def delete_user(self, user_id: UserId) -> DeleteCounts:
        """Erase a reader's interactions, digest records and cached lists.

        The cache is cleared before and after the store: clearing first means a cache outage
        fails the call before anything is erased (safe to retry); clearing again removes any
        list a concurrent request cached in between.
        """
        cached = await self._cache.delete_user(user_id)
        erased = await asyncio.to_thread(self._store.delete_user, user_id)
        self._changed()
        try:
            cached += await self._cache.delete_user(user_id)
        except CacheUnavailable as exc:  # such a list is keyed by an old revision: never served
            logger.warning("could not re-check cached lists of a deleted user: %s", exc)
        return DeleteCounts(
            interactions=erased.interactions, cached_lists=cached, digests=erased.digests
        )

    async def record_digest(self, digest: DigestDelivery) -> DigestRecordResult:
        """Record a sent digest and its papers as impressions (idempotent by user and day)."""
        return await asyncio.to_thread(self._store.record_digest, digest)

    async def sent_digests(self, date: dt.date, user_ids: Sequence[UserId]) -> list[SentDigest]:
        """The digests of ``date`` already sent to any of ``user_ids``, in the order given."""
        found = await asyncio.to_thread(self._store.sent_digests, date, user_ids)
        return [found[user_id] for user_id in user_ids if user_id in found]

    async def list_days(self, query: DaysQuery) -> ListedDays:
        """The listing days in the query's range with their paper counts (the latest ``limit``)."""
        days = await asyncio.to_thread(
            self._store.day_counts, query.start, query.end, query.limit + 1
        )
        truncated = len(days) > query.limit
        return ListedDays(tuple(days[1:] if truncated else days), truncated)

    @property
    def content_enabled(self) -> bool:
        """Whether readers with a like get ``CONTENT`` lists while no model is trained."""
        return self._content is not None

    @property
    def content_model(self) -> ModelBundle | None:
        """The content model readers with a like are ranked with while no model is trained."""
        return None if self._content is None else self._content.model

    @property
    def model(self) -> ModelBundle | None:
        """The model bundle ranking uses now (``None``: every reader gets ``POPULAR``)."""
        return self._models.current

    async def rank(self, query: RankQuery) -> RankPage:
        """One page of the reader's ranked list for the day.

        The whole list, after rules and diversity, is cached under a key that includes a hash of
        them (``RankQuery.view``); reasons are computed for the page only, on every call.
        """
        # One model (and one community) for the whole request, even across a reload.
        model = self._ranking_model()
        community = self._community()
        revisions = await asyncio.to_thread(self._store.revisions, query.user_id, query.date)
        if revisions.papers == 0:
            raise await self._no_papers(query.date)
        # A PERSONAL list depends on the model, the reader and the day's papers, not on what
        # others click: leaving the day's activity out of its key keeps it cached all day.
        personal = _is_personal(model, query.user_id, revisions.erased_at)
        key = CacheKey(
            model_version=model.version if model else "",
            date=query.date,
            user_id=query.user_id,
            user_rev=revisions.user,
            # Other lists fall back on the day's activity and the community's taste.
            day_rev=str(revisions.papers)
            if personal
            else f"{revisions.papers}.{revisions.activity}.{community.version if community else 0}",
            view=query.view,
        )
        offset = 0
        ranking: RankedList | None = None
        if query.page_token is not None:
            offset = query.page_token.offset
            snapshot = _snapshot_key(query.page_token)
            # Same snapshot as the token: the page continues the list the reader saw.
            # Otherwise the list changed; continue at the offset of the current list.
            ranking = await self._cache.get(snapshot)
            if ranking is not None:
                key = snapshot
        if ranking is None:
            ranking = await self._cache.get(key)
        cached = ranking is not None
        day = await self._papers_of_day(query.date, revisions.papers)
        reader: Reader | None = None
        if ranking is None:
            reader = await self._reader(model, query, personal=personal)
            ranking = await self._rank_fresh(model, query, reader, day, revisions.papers, community)
            await self._cache.set(key, ranking)
        page = self._page(ranking, day.papers, key, query, offset, cached)
        if query.explain and page.entries:
            page = await self._explain(page, model, query, reader, day, revisions.papers, community)
        return page

    async def rank_many(self, queries: Sequence[RankQuery]) -> list[RankPage]:
        """First pages for several readers, in the order given."""
        return [await self.rank(query) for query in queries]

    async def _papers_of_day(self, date: dt.date, papers_rev: int) -> DayPapers:
        day = self._day_papers.get((date, papers_rev))
        if day is None:
            listed = await asyncio.to_thread(self._store.papers_for_date, date)
            day = DayPapers({paper.paper_id: paper for paper in listed})
            self._day_papers.put((date, papers_rev), day)
        if not day.papers:
            raise await self._no_papers(date)
        return day

    async def _no_papers(self, date: dt.date) -> NotFound:
        """The error for a day without papers, naming the nearest days that have some."""
        before, after = await asyncio.to_thread(self._store.nearest_days, date)
        nearest = [
            f"{day.isoformat()} ({side})"
            for day, side in ((before, "before"), (after, "after"))
            if day is not None
        ]
        hint = (
            f"; nearest listed days: {' and '.join(nearest)}"
            if nearest
            else "; no day has papers yet (ingest a feed with papersift ingest)"
        )
        return NotFound(f"no papers are listed on {date.isoformat()}{hint}")

    async def _reader(
        self, model: ModelBundle | None, query: RankQuery, *, personal: bool
    ) -> Reader:
        """Load what the reader did; with a model, their history's features and user model
        (from the model's own vector of the reader when ``personal``, else folded in)."""
        interactions = await asyncio.to_thread(self._store.user_interactions, query.user_id)
        signals = user_signals(interactions)
        first_touch: dict[PaperId, dt.datetime] = {}
        for interaction in interactions:
            first_touch.setdefault(interaction.paper_id, interaction.occurred_at)
        # Impressions can be many; their papers are needed only to hide what was seen.
        acted = touched_papers(interactions) if query.rules.exclude_touched else frozenset()
        wanted = set(signals.positive) | signals.negative | acted
        if query.rules.exclude_seen:
            wanted |= signals.seen
        touched: Mapping[PaperId, Paper] = {}
        if wanted:
            touched = await asyncio.to_thread(self._store.get_papers, wanted)
        history: UserHistory | None = None
        user: UserModel | None = None
        if model is not None:
            if signals.positive or signals.negative:
                history = await asyncio.to_thread(_history, model, signals, touched)
            personal_id = query.user_id if personal else None
            user = model.scorer.user_model(user_id=personal_id, history=history)
        return Reader(signals, first_touch, touched, history, user, personal, acted)

    async def _rank_fresh(
        self,
        model: ModelBundle | None,
        query: RankQuery,
        reader: Reader,
        day: DayPapers,
        papers_rev: int,
        community: Community | None,
    ) -> RankedList:
        strategy = Strategy.POPULAR
        items: DayItems | None = None
        ordered: list[ScoredPaper] | None = None
        liked = community is not None and not community.empty
        if model is not None and (reader.model is not None or query.diversity > 0 or liked):
            items = await self._prepared_day(model, query.date, day.papers, papers_rev)
        if model is not None and items is not None and reader.model is not None:
            scores = await asyncio.to_thread(model.scorer.score_user, items.items, reader.model)
            ordered = rank_by_scores(items.paper_ids, scores)
            if is_content_model(model):
                strategy = Strategy.CONTENT
            else:
                strategy = Strategy.PERSONAL if reader.personal else Strategy.FOLD_IN
        if ordered is None:
            popularity = await asyncio.to_thread(self._store.popularity, query.date)
            similarity: np.ndarray | None = None
            if model is not None and items is not None and community is not None and liked:
                profile = await self._community_profile(model, community)
                similarity = np.asarray(items.items.content @ profile).ravel()
            paper_ids = items.paper_ids if items is not None else tuple(sorted(day.papers))
            ordered = rank_by_community(paper_ids, popularity, similarity)

        def finish(ordered: list[ScoredPaper]) -> list[ScoredPaper]:
            ordered = without_hidden(ordered, day.keys, _hidden_keys(query, reader))
            rules = query.rules
            ordered = admitted(
                ordered, day.papers, day.texts if rules.filters_text else None, rules
            )
            if items is not None and query.diversity > 0:
                ordered = diversified(ordered, items.row, items.items.content, query.diversity)
            return followed_first(ordered, day.papers, rules)[: self._max_list_length]

        finished = await asyncio.to_thread(finish, ordered)
        metrics.RANKINGS.labels(strategy=strategy.value).inc()
        # A content model is not a trained model: lists say they came from none.
        served_by = model.version if model is not None and not is_content_model(model) else ""
        return RankedList(strategy, served_by, tuple(finished))

    async def _community_profile(self, model: ModelBundle, community: Community) -> np.ndarray:
        """The community's profile in ``model``'s feature space (dense, unit length)."""

        def compute() -> np.ndarray:
            row = community.profile(model.featurizer)
            return np.asarray(row.todense(), dtype=np.float32).ravel()

        key = (model.version, community.version)
        return await self._community_profiles.get_or_compute(key, compute)

    async def _explain(
        self,
        page: RankPage,
        model: ModelBundle | None,
        query: RankQuery,
        reader: Reader | None,
        day: DayPapers,
        papers_rev: int,
        community: Community | None,
    ) -> RankPage:
        """The page with reasons on each paper (computed per page, never cached); ``community``
        is the snapshot the request ranked with."""
        personal_reasons_of: dict[PaperId, list[str]] = {}
        if page.strategy is not Strategy.POPULAR and model is not None:
            if reader is None:
                personal = page.strategy is Strategy.PERSONAL
                reader = await self._reader(model, query, personal=personal)
            if reader.model is not None:
                items = await self._prepared_day(model, query.date, day.papers, papers_rev)
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

    async def _prepared_day(
        self,
        model: ModelBundle,
        date: dt.date,
        papers: Mapping[PaperId, Paper],
        papers_rev: int,
    ) -> DayItems:
        def prepare() -> DayItems:
            paper_ids = tuple(sorted(papers))
            features = model.featurizer.transform([papers[pid] for pid in paper_ids])
            return DayItems(paper_ids, model.scorer.prepare_items(features))

        day = await self._day_items.get_or_compute((model.version, date, papers_rev), prepare)
        metrics.DAY_CANDIDATES.set(len(day.paper_ids))
        return day

    @staticmethod
    def _page(
        ranking: RankedList,
        papers: Mapping[PaperId, Paper],
        key: CacheKey,
        query: RankQuery,
        offset: int,
        cached: bool,
    ) -> RankPage:
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


def _is_personal(model: ModelBundle | None, user_id: UserId, erased_at: dt.datetime | None) -> bool:
    """Whether the model's own vector of the reader may rank for them.

    Not if the reader was erased after the model was trained: the vector is what is left of
    the erased history (the next training, from the store, no longer has it).
    """
    if model is None or not model.scorer.has_user(user_id):
        return False
    return erased_at is None or erased_at < model.manifest.trained_at


def _snapshot_key(token: PageToken) -> CacheKey:
    return CacheKey(
        model_version=token.model_version,
        date=token.date,
        user_id=UserId(token.user_id),
        user_rev=token.user_rev,
        day_rev=token.day_rev,
        view=token.view,
    )


def _history(
    model: ModelBundle, signals: UserSignals, touched: Mapping[PaperId, Paper]
) -> UserHistory:
    """Feature rows of the reader's liked and dismissed papers."""
    liked = [pid for pid in sorted(signals.positive) if pid in touched]
    disliked = [pid for pid in sorted(signals.negative) if pid in touched]
    return UserHistory(
        positive=model.featurizer.transform([touched[pid] for pid in liked]),
        positive_weights=np.array([signals.positive[pid] for pid in liked], dtype=np.float32),
        negative=model.featurizer.transform([touched[pid] for pid in disliked]),
    )


def _hidden_keys(query: RankQuery, reader: Reader) -> set[str]:
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
