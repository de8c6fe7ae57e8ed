"""Conversions between the client's dataclasses and the papersift.v1 protobuf messages.

Only types are converted here; whether a value is acceptable is the server's decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from papersift.client._models import (
    DeleteResult,
    DigestRecord,
    Interaction,
    InteractionKind,
    ListedDay,
    ListedDays,
    ModelInfo,
    Paper,
    RankedPaper,
    RankFilters,
    Ranking,
    RecordResult,
    SentDigest,
    Strategy,
    UpsertResult,
)
from papersift.v1 import ranker_pb2

_KIND_TO_PROTO: dict[InteractionKind, ranker_pb2.InteractionKind.ValueType] = {
    InteractionKind.CLICK: ranker_pb2.INTERACTION_KIND_CLICK,
    InteractionKind.SAVE: ranker_pb2.INTERACTION_KIND_SAVE,
    InteractionKind.UNSAVE: ranker_pb2.INTERACTION_KIND_UNSAVE,
    InteractionKind.DISMISS: ranker_pb2.INTERACTION_KIND_DISMISS,
    InteractionKind.IMPRESSION: ranker_pb2.INTERACTION_KIND_IMPRESSION,
}

_STRATEGY_FROM_PROTO: dict[int, Strategy] = {
    ranker_pb2.STRATEGY_UNSPECIFIED: Strategy.UNSPECIFIED,
    ranker_pb2.STRATEGY_PERSONAL: Strategy.PERSONAL,
    ranker_pb2.STRATEGY_FOLD_IN: Strategy.FOLD_IN,
    ranker_pb2.STRATEGY_POPULAR: Strategy.POPULAR,
    ranker_pb2.STRATEGY_CONTENT: Strategy.CONTENT,
}


def date_to_wire(value: dt.date | str, field: str) -> str:
    """Writes a listing day as ``YYYY-MM-DD``; a string is passed on for the server to judge.

    Raises:
        TypeError: ``value`` is a datetime (ambiguous: which day is meant depends on a zone)
            or neither a date nor a string.
    """
    if isinstance(value, dt.datetime):
        raise TypeError(f"{field}: expected a date, got a datetime; pass value.date()")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(f"{field}: expected a date or a YYYY-MM-DD string, got {type(value).__name__}")


def datetime_to_timestamp(value: dt.datetime, field: str) -> Timestamp:
    """Converts a timezone-aware datetime to a protobuf Timestamp.

    Raises:
        ValueError: ``value`` is naive; protobuf would silently take it as UTC.
    """
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{field}: naive datetime {value.isoformat()}; give it a timezone, "
            "e.g. datetime.now(timezone.utc)"
        )
    timestamp = Timestamp()
    timestamp.FromDatetime(value)
    return timestamp


def paper_to_proto(paper: Paper, field: str = "paper") -> ranker_pb2.Paper:
    """Converts a ``Paper`` to its message; ``field`` prefixes error messages."""
    return ranker_pb2.Paper(
        paper_id=paper.paper_id,
        title=paper.title,
        abstract=paper.abstract,
        authors=paper.authors,
        categories=paper.categories,
        url=paper.url,
        date=date_to_wire(paper.date, f"{field}.date"),
        source=paper.source,
    )


def paper_from_proto(message: ranker_pb2.Paper) -> Paper:
    """Converts a ``Paper`` message to the dataclass."""
    return Paper(
        paper_id=message.paper_id,
        title=message.title,
        date=dt.date.fromisoformat(message.date),
        abstract=message.abstract,
        authors=tuple(message.authors),
        categories=tuple(message.categories),
        url=message.url,
        source=message.source,
    )


def interaction_to_proto(
    interaction: Interaction, field: str = "interaction"
) -> ranker_pb2.Interaction:
    """Converts an ``Interaction``; ``kind`` may also be the kind's string value, e.g. ``"save"``.

    Raises:
        ValueError: ``kind`` is not a kind, or ``occurred_at`` is a naive datetime.
    """
    try:
        kind = InteractionKind(interaction.kind)
    except ValueError:
        allowed = ", ".join(kind.value for kind in InteractionKind)
        raise ValueError(f"{field}.kind: {interaction.kind!r} is not one of {allowed}") from None
    return ranker_pb2.Interaction(
        event_id=interaction.event_id,
        user_id=interaction.user_id,
        paper_id=interaction.paper_id,
        kind=_KIND_TO_PROTO[kind],
        occurred_at=datetime_to_timestamp(interaction.occurred_at, f"{field}.occurred_at"),
    )


def rank_filters_to_proto(filters: RankFilters) -> ranker_pb2.RankFilters:
    """Converts ``RankFilters`` to its message."""
    return ranker_pb2.RankFilters(
        include_categories=filters.include_categories,
        exclude_categories=filters.exclude_categories,
        must_have_keywords=filters.must_have_keywords,
        must_not_keywords=filters.must_not_keywords,
        followed_authors=filters.followed_authors,
        exclude_seen=filters.exclude_seen,
        exclude_touched=filters.exclude_touched,
    )


def upsert_request(papers: Sequence[Paper]) -> ranker_pb2.UpsertPapersRequest:
    """Builds the ``UpsertPapers`` request."""
    return ranker_pb2.UpsertPapersRequest(
        papers=[paper_to_proto(paper, f"papers[{i}]") for i, paper in enumerate(papers)]
    )


def record_request(
    interactions: Sequence[Interaction],
) -> ranker_pb2.RecordInteractionsRequest:
    """Builds the ``RecordInteractions`` request."""
    return ranker_pb2.RecordInteractionsRequest(
        interactions=[
            interaction_to_proto(interaction, f"interactions[{i}]")
            for i, interaction in enumerate(interactions)
        ]
    )


def rank_request(
    user_id: str,
    date: dt.date | str,
    *,
    limit: int,
    page_token: str,
    filters: RankFilters | None,
    explain: bool,
    diversity: float,
) -> ranker_pb2.RankPapersRequest:
    """Builds the ``RankPapers`` request; ``filters=None`` leaves the message unset."""
    return ranker_pb2.RankPapersRequest(
        user_id=user_id,
        date=date_to_wire(date, "date"),
        limit=limit,
        page_token=page_token,
        filters=None if filters is None else rank_filters_to_proto(filters),
        explain=explain,
        diversity=diversity,
    )


def _check_not_string(values: Sequence[str], field: str) -> None:
    if isinstance(values, str):
        # A lone string is a Sequence[str] too; treating each character as an id is never meant.
        raise TypeError(f"{field}: expected a sequence of ids, got a single string")


def rank_batch_request(
    user_ids: Sequence[str],
    date: dt.date | str,
    *,
    limit: int,
    filters: RankFilters | None,
    explain: bool,
    diversity: float,
) -> ranker_pb2.RankPapersBatchRequest:
    """Builds the ``RankPapersBatch`` request; ``filters=None`` leaves the message unset."""
    _check_not_string(user_ids, "user_ids")
    return ranker_pb2.RankPapersBatchRequest(
        user_ids=user_ids,
        date=date_to_wire(date, "date"),
        limit=limit,
        filters=None if filters is None else rank_filters_to_proto(filters),
        explain=explain,
        diversity=diversity,
    )


def record_digest_request(
    user_id: str,
    date: dt.date | str,
    paper_ids: Sequence[str],
    *,
    sent_at: dt.datetime,
    message_id: str,
) -> ranker_pb2.RecordDigestRequest:
    """Builds the ``RecordDigest`` request."""
    _check_not_string(paper_ids, "paper_ids")
    return ranker_pb2.RecordDigestRequest(
        user_id=user_id,
        date=date_to_wire(date, "date"),
        paper_ids=paper_ids,
        sent_at=datetime_to_timestamp(sent_at, "sent_at"),
        message_id=message_id,
    )


def list_sent_digests_request(
    date: dt.date | str, user_ids: Sequence[str]
) -> ranker_pb2.ListSentDigestsRequest:
    """Builds the ``ListSentDigests`` request."""
    _check_not_string(user_ids, "user_ids")
    return ranker_pb2.ListSentDigestsRequest(date=date_to_wire(date, "date"), user_ids=user_ids)


def upsert_result_from_proto(message: ranker_pb2.UpsertPapersResponse) -> UpsertResult:
    """Converts the ``UpsertPapers`` response."""
    return UpsertResult(
        inserted=message.inserted, updated=message.updated, unchanged=message.unchanged
    )


def record_result_from_proto(message: ranker_pb2.RecordInteractionsResponse) -> RecordResult:
    """Converts the ``RecordInteractions`` response."""
    return RecordResult(accepted=message.accepted, duplicates=message.duplicates)


def ranked_paper_from_proto(message: ranker_pb2.RankedPaper) -> RankedPaper:
    """Converts a ``RankedPaper`` message."""
    return RankedPaper(
        paper=paper_from_proto(message.paper),
        score=message.score,
        rank=message.rank,
        reasons=tuple(message.reasons),
    )


def ranking_from_proto(message: ranker_pb2.RankPapersResponse) -> Ranking:
    """Converts a ``RankPapers`` response (also one reader's part of a batch response)."""
    return Ranking(
        papers=tuple(ranked_paper_from_proto(paper) for paper in message.papers),
        next_page_token=message.next_page_token,
        model_version=message.model_version,
        # A strategy added to the contract later reads as UNSPECIFIED instead of failing.
        strategy=_STRATEGY_FROM_PROTO.get(message.strategy, Strategy.UNSPECIFIED),
        cached=message.cached,
        total=message.total,
    )


def rankings_from_proto(message: ranker_pb2.RankPapersBatchResponse) -> dict[str, Ranking]:
    """Converts a ``RankPapersBatch`` response to rankings keyed by user, in response order."""
    return {result.user_id: ranking_from_proto(result.ranking) for result in message.results}


def model_info_from_proto(message: ranker_pb2.GetModelInfoResponse) -> ModelInfo:
    """Converts the ``GetModelInfo`` response; an unset ``trained_at`` becomes ``None``."""
    trained_at = (
        message.trained_at.ToDatetime(tzinfo=dt.UTC) if message.HasField("trained_at") else None
    )
    return ModelInfo(
        loaded=message.loaded,
        version=message.version,
        trained_at=trained_at,
        data_start=message.data_start,
        data_end=message.data_end,
        metrics={metric.name: metric.value for metric in message.metrics},
        message=message.message,
    )


def delete_result_from_proto(message: ranker_pb2.DeleteUserResponse) -> DeleteResult:
    """Converts the ``DeleteUser`` response."""
    return DeleteResult(
        interactions_deleted=message.interactions_deleted,
        cached_lists_deleted=message.cached_lists_deleted,
        digests_deleted=message.digests_deleted,
    )


def digest_record_from_proto(message: ranker_pb2.RecordDigestResponse) -> DigestRecord:
    """Converts the ``RecordDigest`` response."""
    return DigestRecord(recorded=message.recorded, impressions=message.impressions)


def sent_digests_from_proto(message: ranker_pb2.ListSentDigestsResponse) -> dict[str, SentDigest]:
    """Converts the ``ListSentDigests`` response, keyed by user id."""
    return {
        digest.user_id: SentDigest(
            user_id=digest.user_id,
            sent_at=digest.sent_at.ToDatetime(tzinfo=dt.UTC),
            paper_count=digest.paper_count,
            message_id=digest.message_id,
        )
        for digest in message.digests
    }


def list_days_request(
    start: dt.date | str | None, end: dt.date | str | None, limit: int
) -> ranker_pb2.ListDaysRequest:
    """Builds the ``ListDays`` request (``None`` dates are open ends)."""
    return ranker_pb2.ListDaysRequest(
        start_date="" if start is None else date_to_wire(start, "start"),
        end_date="" if end is None else date_to_wire(end, "end"),
        limit=limit,
    )


def listed_days_from_proto(message: ranker_pb2.ListDaysResponse) -> ListedDays:
    """Converts the ``ListDays`` response."""
    return ListedDays(
        days=tuple(
            ListedDay(date=dt.date.fromisoformat(day.date), papers=day.papers)
            for day in message.days
        ),
        truncated=message.truncated,
    )
