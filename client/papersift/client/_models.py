"""Typed, immutable results and inputs of the client library (never protobuf messages)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class InteractionKind(enum.StrEnum):
    """What a reader did with a paper."""

    CLICK = "click"
    SAVE = "save"
    UNSAVE = "unsave"
    DISMISS = "dismiss"
    IMPRESSION = "impression"


class Strategy(enum.StrEnum):
    """How a ranked list was produced."""

    UNSPECIFIED = "unspecified"
    PERSONAL = "personal"
    FOLD_IN = "fold_in"
    POPULAR = "popular"
    CONTENT = "content"


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper as listed on one day.

    ``paper_id`` carries a source prefix, e.g. ``arxiv:2503.04725``.
    """

    paper_id: str
    title: str
    date: dt.date
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    url: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Interaction:
    """One event of a reader with a paper; ``event_id`` makes recording idempotent."""

    event_id: str
    user_id: str
    paper_id: str
    kind: InteractionKind
    occurred_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What ``upsert_papers`` did."""

    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What ``record_interactions`` did: events stored now, and events already stored before."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class RankedPaper:
    """A paper in a ranked list; ``rank`` starts at 1 and counts across pages."""

    paper: Paper
    score: float
    rank: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ranking:
    """One page of a reader's ranked list for a day."""

    papers: tuple[RankedPaper, ...]
    next_page_token: str
    model_version: str
    strategy: Strategy
    cached: bool
    total: int


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """The model the server ranks with; ``loaded`` is false when there is none."""

    loaded: bool
    version: str
    trained_at: dt.datetime | None
    data_start: str
    data_end: str
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What ``delete_user`` erased."""

    interactions_deleted: int
    cached_lists_deleted: int
    digests_deleted: int = 0


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """What ``record_digest`` did: recorded now (``recorded``) or found recorded before."""

    recorded: bool
    impressions: int


@dataclass(frozen=True, slots=True)
class SentDigest:
    """A digest recorded as sent to a reader."""

    user_id: str
    sent_at: dt.datetime
    paper_count: int
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class ListedDay:
    """A listing day that has papers, and how many."""

    date: dt.date
    papers: int


@dataclass(frozen=True, slots=True)
class ListedDays:
    """Listing days with papers, oldest first; ``truncated`` when older days were left out."""

    days: tuple[ListedDay, ...]
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class RankFilters:
    """Optional rules applied on top of the learned ranking (mirrors the ``RankFilters`` message).

    Attributes:
        include_categories: Keep only papers with at least one of these categories.
        exclude_categories: Drop papers with any of these categories.
        must_have_keywords: Keep only papers whose title or abstract contains every keyword.
        must_not_keywords: Drop papers whose title or abstract contains any of these keywords.
        followed_authors: Move papers by these authors to the top.
        exclude_seen: Drop papers the reader interacted with or was shown on earlier days.
        exclude_touched: Drop papers the reader clicked, saved or dismissed, on any day including
            the requested one (what a digest uses: it never mails a paper already opened).
    """

    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    must_have_keywords: tuple[str, ...] = ()
    must_not_keywords: tuple[str, ...] = ()
    followed_authors: tuple[str, ...] = ()
    exclude_seen: bool = False
    exclude_touched: bool = False
