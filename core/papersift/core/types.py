"""Domain types shared by the server and the training job (no gRPC, no LightFM)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NewType

PaperId = NewType("PaperId", str)
UserId = NewType("UserId", str)
EventId = NewType("EventId", str)


class InteractionKind(enum.StrEnum):
    """What a reader did with a paper. Values are what the store keeps."""

    CLICK = "click"
    SAVE = "save"
    UNSAVE = "unsave"
    DISMISS = "dismiss"
    IMPRESSION = "impression"


class Strategy(enum.StrEnum):
    """How a ranked list was produced."""

    PERSONAL = "personal"
    FOLD_IN = "fold_in"
    POPULAR = "popular"
    CONTENT = "content"


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper as listed on one day (``date`` is the listing day)."""

    paper_id: PaperId
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

    event_id: EventId
    user_id: UserId
    paper_id: PaperId
    kind: InteractionKind
    occurred_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """Counts of an upsert of papers."""

    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class RecordResult:
    """Counts of a batch of interactions: stored now, or already stored before."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class ScoredPaper:
    """A paper id with its ranking score."""

    paper_id: PaperId
    score: float


@dataclass(frozen=True, slots=True)
class RankedList:
    """A whole ranked list for one reader and day, best first."""

    strategy: Strategy
    model_version: str
    # Any sequence: a list read back from Redis builds its items only for the page served.
    items: Sequence[ScoredPaper] = field(default=())


@dataclass(frozen=True, slots=True)
class DigestDelivery:
    """A digest mailed to a reader: the day, the papers in the order shown, when it was sent."""

    user_id: UserId
    date: dt.date
    paper_ids: tuple[PaperId, ...]
    sent_at: dt.datetime
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class DigestRecordResult:
    """Whether recording a digest was new (``recorded``) and how many impressions it stored."""

    recorded: bool
    impressions: int


@dataclass(frozen=True, slots=True)
class SentDigest:
    """A digest recorded as sent."""

    user_id: UserId
    date: dt.date
    sent_at: dt.datetime
    paper_count: int
    message_id: str


@dataclass(frozen=True, slots=True)
class UserDeletion:
    """What erasing a reader removed from the store."""

    interactions: int
    digests: int
