"""ListDays and the NOT_FOUND of an empty day, over a real gRPC channel."""

from __future__ import annotations

import grpc
import pytest

from papersift.v1 import ranker_pb2 as pb
from tests.server.conftest import Api, error_of, make_paper


async def _three_days(api: Api) -> None:
    await api.upsert(
        [make_paper(1, date="2025-04-01"), make_paper(2, date="2025-04-01")]
        + [make_paper(3, date="2025-04-03")]
        + [make_paper(n, date="2025-04-07") for n in range(4, 7)]
    )


async def test_list_days_gives_each_day_with_its_count_oldest_first(api: Api) -> None:
    await _three_days(api)

    reply = await api.stub.ListDays(pb.ListDaysRequest(), timeout=10)

    assert [(day.date, day.papers) for day in reply.days] == [
        ("2025-04-01", 2),
        ("2025-04-03", 1),
        ("2025-04-07", 3),
    ]
    assert not reply.truncated


async def test_list_days_takes_a_range_and_keeps_the_latest_days_of_a_limit(api: Api) -> None:
    await _three_days(api)

    ranged = await api.stub.ListDays(
        pb.ListDaysRequest(start_date="2025-04-02", end_date="2025-04-07"), timeout=10
    )
    limited = await api.stub.ListDays(pb.ListDaysRequest(limit=2), timeout=10)

    assert [day.date for day in ranged.days] == ["2025-04-03", "2025-04-07"]
    assert [day.date for day in limited.days] == ["2025-04-03", "2025-04-07"]
    assert limited.truncated


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"start_date": "2025-4-1"}, "start_date"),
        ({"end_date": "yesterday"}, "end_date"),
        ({"start_date": "2025-04-05", "end_date": "2025-04-01"}, "end_date"),
        ({"limit": -1}, "limit"),
        ({"limit": 10_001}, "limit"),
    ],
)
async def test_list_days_names_the_bad_field(
    api: Api, request_fields: dict[str, object], field: str
) -> None:
    error = await error_of(api.stub.ListDays(pb.ListDaysRequest(**request_fields), timeout=10))  # type: ignore[arg-type]

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith(f"{field}: ")


async def test_a_day_without_papers_names_the_nearest_listed_days(api: Api) -> None:
    await _three_days(api)

    between = await error_of(api.rank("anyone", date="2025-04-05"))
    after_all = await error_of(api.rank("anyone", date="2025-05-01"))

    assert between.code == grpc.StatusCode.NOT_FOUND
    assert "2025-04-03 (before) and 2025-04-07 (after)" in between.details
    assert "2025-04-07 (before)" in after_all.details
    assert "after" not in after_all.details


async def test_an_empty_store_says_to_ingest_first(api: Api) -> None:
    error = await error_of(api.rank("anyone"))

    assert error.code == grpc.StatusCode.NOT_FOUND
    assert "papersift ingest" in error.details
