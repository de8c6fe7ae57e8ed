"""Protobuf messages to validated domain values and back. Every error names its field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from papersift.core import limits
from papersift.core.bundle import ModelBundle
from papersift.core.errors import InvalidInput, TooLarge
from papersift.core.types import (
    DigestDelivery,
    EventId,
    Interaction,
    InteractionKind,
    Paper,
    PaperId,
    SentDigest,
    Strategy,
    UserId,
)
from papersift.core.validation import (
    check_digest,
    check_id,
    check_interaction,
    check_paper,
    parse_date,
)
from papersift.server.paging import decode_page_token
from papersift.server.queries import DaysQuery, RankPage, RankQuery
from papersift.server.rules import RankRules, view_key
from papersift.server.service import NO_MODEL_CONTENT_OFF_MESSAGE, NO_MODEL_MESSAGE
from papersift.v1 import ranker_pb2 as pb

_KINDS: dict[pb.InteractionKind.ValueType, InteractionKind] = {
    pb.INTERACTION_KIND_CLICK: InteractionKind.CLICK,
    pb.INTERACTION_KIND_SAVE: InteractionKind.SAVE,
    pb.INTERACTION_KIND_UNSAVE: InteractionKind.UNSAVE,
    pb.INTERACTION_KIND_DISMISS: InteractionKind.DISMISS,
    pb.INTERACTION_KIND_IMPRESSION: InteractionKind.IMPRESSION,
}
_KIND_NAMES = ", ".join(pb.InteractionKind.Name(number) for number in _KINDS)
_STRATEGIES = {
    Strategy.PERSONAL: pb.STRATEGY_PERSONAL,
    Strategy.FOLD_IN: pb.STRATEGY_FOLD_IN,
    Strategy.POPULAR: pb.STRATEGY_POPULAR,
    Strategy.CONTENT: pb.STRATEGY_CONTENT,
}
# Events may be reported late, but not from the future; a day of slack absorbs clock skew.
_MAX_CLOCK_SKEW = dt.timedelta(days=1)


def check_batch_size(size: int, field: str, what: str) -> None:
    """Reject an empty batch, or one over the limit (RESOURCE_EXHAUSTED)."""
    if size == 0:
        raise InvalidInput(field, f"must contain at least one {what}")
    if size > limits.MAX_BATCH_SIZE:
        raise TooLarge(
            field, f"has {size} entries; at most {limits.MAX_BATCH_SIZE} per call, split the batch"
        )


def papers_from_proto(messages: Sequence[pb.Paper]) -> list[Paper]:
    """Convert and validate an ``UpsertPapers`` batch."""
    check_batch_size(len(messages), "papers", "paper")
    papers = []
    for index, message in enumerate(messages):
        field = f"papers[{index}]"
        paper = Paper(
            paper_id=PaperId(message.paper_id),
            title=message.title,
            date=parse_date(message.date, f"{field}.date"),
            abstract=message.abstract,
            authors=tuple(message.authors),
            categories=tuple(message.categories),
            url=message.url,
            source=message.source,
        )
        check_paper(paper, field)
        papers.append(paper)
    return papers


def interactions_from_proto(
    messages: Sequence[pb.Interaction], now: dt.datetime
) -> list[Interaction]:
    """Convert and validate a ``RecordInteractions`` batch."""
    check_batch_size(len(messages), "interactions", "interaction")
    interactions = []
    for index, message in enumerate(messages):
        field = f"interactions[{index}]"
        interaction = Interaction(
            event_id=EventId(message.event_id),
            user_id=UserId(message.user_id),
            paper_id=PaperId(message.paper_id),
            kind=_kind_from_proto(message.kind, f"{field}.kind"),
            occurred_at=_timestamp_from_proto(
                message.occurred_at if message.HasField("occurred_at") else None,
                f"{field}.occurred_at",
                now,
            ),
        )
        check_interaction(interaction, field)
        interactions.append(interaction)
    return interactions


def _kind_from_proto(value: pb.InteractionKind.ValueType, field: str) -> InteractionKind:
    kind = _KINDS.get(value)
    if kind is None:
        raise InvalidInput(
            field, f"{value} is not an interaction kind; expected one of {_KIND_NAMES}"
        )
    return kind


def _timestamp_from_proto(timestamp: Timestamp | None, field: str, now: dt.datetime) -> dt.datetime:
    """A required, valid timestamp that is not in the future (``None``: it was not set)."""
    if timestamp is None:
        raise InvalidInput(field, "is required")
    try:
        moment = timestamp.ToDatetime(tzinfo=dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(field, f"is not a valid timestamp ({exc})") from exc
    if moment > now + _MAX_CLOCK_SKEW:
        raise InvalidInput(field, f"{moment.isoformat()} is in the future")
    return moment


def digest_from_proto(request: pb.RecordDigestRequest, now: dt.datetime) -> DigestDelivery:
    """Convert and validate a ``RecordDigest`` request."""
    digest = DigestDelivery(
        user_id=user_id_from_proto(request.user_id),
        date=parse_date(request.date, "date"),
        paper_ids=tuple(PaperId(paper_id) for paper_id in request.paper_ids),
        sent_at=_timestamp_from_proto(
            request.sent_at if request.HasField("sent_at") else None, "sent_at", now
        ),
        message_id=request.message_id,
    )
    check_digest(digest)
    return digest


def sent_digest_to_proto(digest: SentDigest) -> pb.SentDigest:
    """A recorded digest as a protobuf message."""
    sent_at = Timestamp()
    sent_at.FromDatetime(digest.sent_at.astimezone(dt.UTC))
    return pb.SentDigest(
        user_id=digest.user_id,
        sent_at=sent_at,
        paper_count=digest.paper_count,
        message_id=digest.message_id,
    )


def user_id_from_proto(value: str, field: str = "user_id") -> UserId:
    """Validate a reader id."""
    return UserId(check_id(value, field))


def limit_from_proto(value: int, field: str = "limit") -> int:
    """0 means the default page size; otherwise 1 to the maximum."""
    if value == 0:
        return limits.DEFAULT_PAGE_SIZE
    if not 1 <= value <= limits.MAX_PAGE_SIZE:
        raise InvalidInput(
            field, f"{value} is out of range; use 1 to {limits.MAX_PAGE_SIZE} (0 means 20)"
        )
    return value


_RULE_LISTS = (
    "include_categories",
    "exclude_categories",
    "must_have_keywords",
    "must_not_keywords",
    "followed_authors",
)


def rules_from_proto(message: pb.RankFilters, field: str = "filters") -> RankRules:
    """Validate ``RankFilters``: at most ``MAX_RULES`` entries per list, each a short text."""
    values: dict[str, list[str]] = {}
    for name in _RULE_LISTS:
        entries = list(getattr(message, name))
        if len(entries) > limits.MAX_RULES:
            raise TooLarge(
                f"{field}.{name}", f"has {len(entries)} entries; at most {limits.MAX_RULES}"
            )
        for index, entry in enumerate(entries):
            where = f"{field}.{name}[{index}]"
            if not entry.strip():
                raise InvalidInput(where, "must not be empty")
            if len(entry) > limits.MAX_RULE_LENGTH:
                raise InvalidInput(
                    where, f"is {len(entry)} characters; at most {limits.MAX_RULE_LENGTH}"
                )
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in entry):
                raise InvalidInput(where, "must not contain control characters")
        values[name] = entries
    return RankRules.build(
        **values, exclude_seen=message.exclude_seen, exclude_touched=message.exclude_touched
    )


def diversity_from_proto(value: float, field: str = "diversity") -> float:
    """A diversity in [0, 1]."""
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidInput(field, f"{value} is outside [0, 1]")
    return float(value)


def rank_query_from_proto(request: pb.RankPapersRequest) -> RankQuery:
    """Validate a ``RankPapers`` request."""
    user_id = user_id_from_proto(request.user_id)
    date = parse_date(request.date, "date")
    limit = limit_from_proto(request.limit)
    rules = rules_from_proto(request.filters)
    diversity = diversity_from_proto(request.diversity)
    view = view_key(rules, diversity)
    token = (
        decode_page_token(request.page_token, user_id=user_id, date=date, view=view)
        if request.page_token
        else None
    )
    return RankQuery(
        user_id=user_id,
        date=date,
        limit=limit,
        page_token=token,
        rules=rules,
        diversity=diversity,
        explain=request.explain,
    )


def batch_queries_from_proto(request: pb.RankPapersBatchRequest) -> list[RankQuery]:
    """Validate a ``RankPapersBatch`` request: one first-page query per reader."""
    user_ids = batch_user_ids_from_proto(request.user_ids)
    date = parse_date(request.date, "date")
    limit = limit_from_proto(request.limit)
    check_batch_ranked(len(user_ids), limit)
    rules = rules_from_proto(request.filters)
    diversity = diversity_from_proto(request.diversity)
    return [
        RankQuery(
            user_id=user_id,
            date=date,
            limit=limit,
            rules=rules,
            diversity=diversity,
            explain=request.explain,
        )
        for user_id in user_ids
    ]


def batch_user_ids_from_proto(values: Sequence[str]) -> list[UserId]:
    """Validate the readers of ``RankPapersBatch``: 1 to 1,000, no repeats."""
    check_batch_size(len(values), "user_ids", "user id")
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        user_id_from_proto(value, f"user_ids[{index}]")
        if value in seen:
            raise InvalidInput(f"user_ids[{index}]", f"repeats user_ids[{seen[value]}]")
        seen[value] = index
    return [UserId(value) for value in values]


def check_batch_ranked(readers: int, limit: int) -> None:
    """Bound the papers one ``RankPapersBatch`` reply holds (readers x limit)."""
    if readers * limit > limits.MAX_BATCH_RANKED:
        raise TooLarge(
            "user_ids",
            f"{readers} readers x limit {limit} = {readers * limit} papers; at most "
            f"{limits.MAX_BATCH_RANKED} per call: send fewer user_ids or a smaller limit",
        )


def paper_to_proto(paper: Paper) -> pb.Paper:
    """A domain paper as a protobuf message."""
    return pb.Paper(
        paper_id=paper.paper_id,
        title=paper.title,
        abstract=paper.abstract,
        authors=paper.authors,
        categories=paper.categories,
        url=paper.url,
        date=paper.date.isoformat(),
        source=paper.source,
    )


def rank_page_to_proto(page: RankPage, *, papers: bool = True) -> pb.RankPapersResponse:
    """A page of ranked papers as a ``RankPapersResponse`` (without them: its other fields)."""
    return pb.RankPapersResponse(
        papers=[
            pb.RankedPaper(
                paper=paper_to_proto(entry.paper),
                score=entry.score,
                rank=entry.rank,
                reasons=entry.reasons,
            )
            for entry in (page.entries if papers else ())
        ],
        next_page_token=page.next_page_token,
        model_version=page.model_version,
        strategy=_STRATEGIES[page.strategy],
        cached=page.cached,
        total=page.total,
    )


def days_query_from_proto(request: pb.ListDaysRequest) -> DaysQuery:
    """Validate a ``ListDays`` request: optional dates in order, a limit of 0 to ``MAX_DAYS``."""
    start = parse_date(request.start_date, "start_date") if request.start_date else None
    end = parse_date(request.end_date, "end_date") if request.end_date else None
    if start is not None and end is not None and end < start:
        raise InvalidInput(
            "end_date", f"{end.isoformat()} is before start_date {start.isoformat()}"
        )
    if not 0 <= request.limit <= limits.MAX_DAYS:
        raise InvalidInput(
            "limit",
            f"must be 0 to {limits.MAX_DAYS} (0: {limits.DEFAULT_DAYS}), got {request.limit}",
        )
    return DaysQuery(start=start, end=end, limit=request.limit or limits.DEFAULT_DAYS)


def model_info_to_proto(
    model: ModelBundle | None,
    content: ModelBundle | None = None,
    *,
    content_enabled: bool = True,
) -> pb.GetModelInfoResponse:
    """Describe the loaded model bundle, or say plainly that there is none (and what ranks
    instead: the ``content`` model, once it is fitted, unless it is turned off)."""
    if model is None and not content_enabled:
        return pb.GetModelInfoResponse(loaded=False, message=NO_MODEL_CONTENT_OFF_MESSAGE)
    if model is None:
        message = NO_MODEL_MESSAGE
        if content is not None:
            message += (
                f"; the content model is fitted on {content.manifest.params.get('papers', 0)} "
                f"papers listed {content.manifest.data_start} to {content.manifest.data_end} "
                f"({content.featurizer.n_features} features)"
            )
        else:
            message += "; the content model is not fitted yet (it needs papers in the store)"
        return pb.GetModelInfoResponse(loaded=False, message=message)
    manifest = model.manifest
    trained_at = Timestamp()
    trained_at.FromDatetime(manifest.trained_at.astimezone(dt.UTC))
    return pb.GetModelInfoResponse(
        loaded=True,
        version=manifest.version,
        trained_at=trained_at,
        data_start=manifest.data_start.isoformat() if manifest.data_start else "",
        data_end=manifest.data_end.isoformat() if manifest.data_end else "",
        metrics=[
            pb.Metric(name=name, value=value) for name, value in sorted(manifest.metrics.items())
        ],
        message=f"ranking with {manifest.version}; {len(model.scorer.user_ids)} readers in it",
    )
