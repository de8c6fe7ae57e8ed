"""Request validation (``papersift.server.convert``) on random, valid-but-weird protobuf messages.

The property: each conversion returns a domain value that keeps the API's rules, or raises
``InvalidInput`` / ``TooLarge`` whose ``field`` is a real path into the request (the index in
range) and whose message says what is wrong. Never another exception.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from papersift.core import limits
from papersift.core.errors import InvalidInput, TooLarge
from papersift.core.validation import check_paper, parse_date
from papersift.server import convert
from papersift.server.paging import decode_page_token
from papersift.v1 import ranker_pb2 as pb
from tests.hostile.budget import budget
from tests.hostile.requests import (
    SEED_USERS,
    batch_requests,
    dates,
    digest_requests,
    distinct_users,
    diversities,
    filters,
    int32,
    list_days_requests,
    list_digest_requests,
    odd_ids,
    odd_user_lists,
    page_tokens,
    rank_requests,
    record_requests,
    upsert_requests,
    valid_ids,
)

user_ids = valid_ids(SEED_USERS) | odd_ids

T = TypeVar("T")
_SEGMENT = re.compile(r"(?P<name>[a-z_]+)(?:\[(?P<index>[0-9]+)\])?")


def assert_names_a_field(message: Message, path: str) -> None:
    """``path`` (``papers[3].title``) leads through ``message`` to a field, indexes in range."""
    value: object = message
    for segment in path.split("."):
        found = _SEGMENT.fullmatch(segment)
        assert found, f"{path!r} is not a field path"
        assert isinstance(value, Message), f"{path!r} goes through a scalar"
        assert found["name"] in value.DESCRIPTOR.fields_by_name, f"{path!r}: no such field"
        value = getattr(value, found["name"])
        if found["index"] is not None:
            assert isinstance(value, Sequence) and not isinstance(value, str), f"{path!r}"
            index = int(found["index"])
            assert index < len(value), f"{path!r}: index out of range ({len(value)} entries)"
            value = value[index]


def judged(message: Message, convert_it: Callable[[], T]) -> T | InvalidInput | TooLarge:
    """The converted value, or the error, checked: it names a field of ``message``."""
    try:
        return convert_it()
    except (InvalidInput, TooLarge) as exc:
        assert_names_a_field(message, exc.field)
        assert exc.problem.strip()
        assert str(exc) == f"{exc.field}: {exc.problem}"
        return exc


@budget(80)
@given(request=upsert_requests)
def test_papers(request: pb.UpsertPapersRequest) -> None:
    result = judged(request, lambda: convert.papers_from_proto(request.papers))
    if isinstance(result, list):
        assert 1 <= len(result) <= limits.MAX_BATCH_SIZE
        for index, paper in enumerate(result):
            check_paper(paper, f"papers[{index}]")


@budget(80)
@given(request=record_requests)
def test_interactions(request: pb.RecordInteractionsRequest) -> None:
    now = dt.datetime.now(dt.UTC)
    result = judged(request, lambda: convert.interactions_from_proto(request.interactions, now))
    if isinstance(result, list):
        assert 1 <= len(result) <= limits.MAX_BATCH_SIZE
        for interaction in result:
            assert interaction.occurred_at.tzinfo is not None
            assert interaction.occurred_at <= now + dt.timedelta(days=1)


@budget(100)
@given(request=rank_requests)
def test_rank_query(request: pb.RankPapersRequest) -> None:
    result = judged(request, lambda: convert.rank_query_from_proto(request))
    if not isinstance(result, InvalidInput | TooLarge):
        assert 1 <= result.limit <= limits.MAX_PAGE_SIZE
        assert math.isfinite(result.diversity) and 0.0 <= result.diversity <= 1.0


@budget(80)
@given(request=batch_requests)
def test_batch_queries(request: pb.RankPapersBatchRequest) -> None:
    result = judged(request, lambda: convert.batch_queries_from_proto(request))
    if isinstance(result, list):
        assert len(result) == len(request.user_ids) == len(set(request.user_ids))
        assert sum(query.limit for query in result) <= limits.MAX_BATCH_RANKED


@budget(80)
@given(request=digest_requests)
def test_digest(request: pb.RecordDigestRequest) -> None:
    result = judged(request, lambda: convert.digest_from_proto(request, dt.datetime.now(dt.UTC)))
    if not isinstance(result, InvalidInput | TooLarge):
        assert len(result.paper_ids) == len(set(result.paper_ids)) <= limits.MAX_PAGE_SIZE
        assert result.message_id.isascii() and result.message_id.isprintable()


@budget(60)
@given(request=list_digest_requests)
def test_list_sent_digests(request: pb.ListSentDigestsRequest) -> None:
    judged(request, lambda: parse_date(request.date, "date"))
    judged(request, lambda: convert.batch_user_ids_from_proto(request.user_ids))


@budget(60)
@given(request=list_days_requests)
def test_list_days(request: pb.ListDaysRequest) -> None:
    judged(request, lambda: convert.days_query_from_proto(request))


@budget(60)
@given(user_id=user_ids)
def test_user_id(user_id: str) -> None:
    request = pb.DeleteUserRequest(user_id=user_id)
    judged(request, lambda: convert.user_id_from_proto(request.user_id))


@budget(60)
@given(limit=int32, diversity=diversities, rules=filters)
def test_limit_diversity_and_filters(limit: int, diversity: float, rules: pb.RankFilters) -> None:
    request = pb.RankPapersRequest(limit=limit, diversity=diversity, filters=rules)
    judged(request, lambda: convert.limit_from_proto(request.limit))
    judged(request, lambda: convert.diversity_from_proto(request.diversity))
    judged(request, lambda: convert.rules_from_proto(request.filters))


@budget(100)
@given(token=page_tokens, user_id=user_ids, date=dates)
def test_forged_page_tokens(token: str, user_id: str, date: str) -> None:
    request = pb.RankPapersRequest(page_token=token)
    day = dt.date(2025, 4, 1)
    result = judged(request, lambda: decode_page_token(token, user_id=user_id, date=day))
    if not isinstance(result, InvalidInput | TooLarge):
        assert result.offset > 0 and result.user_id == user_id and result.date == day


@budget(40)
@given(values=distinct_users() | odd_user_lists())
def test_batch_readers(values: list[str]) -> None:
    request = pb.RankPapersBatchRequest(user_ids=values)
    judged(request, lambda: convert.batch_user_ids_from_proto(request.user_ids))


@budget(40)
@given(data=st.data())
def test_dates(data: st.DataObject) -> None:
    written = data.draw(dates, label="date")
    request = pb.RankPapersRequest(date=written)
    result = judged(request, lambda: parse_date(request.date, "date"))
    if isinstance(result, dt.date):
        assert result.isoformat() == written
