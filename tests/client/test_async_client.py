"""The asyncio ``AsyncClient`` over a real gRPC channel, to the real server and a scripted one."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import grpc
import pytest

from papersift.client import (
    USE_CLIENT_DEFAULT,
    AsyncClient,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PaperSiftError,
    PermissionDenied,
    ResourceExhausted,
    ServerError,
    Strategy,
    Unauthenticated,
    Unavailable,
)
from tests.client.conftest import (
    DAY,
    EMPTY_DAY,
    SEEDED_PAPERS,
    ScriptedServer,
    make_event,
    make_paper,
)


async def test_upsert_papers_counts_inserted_updated_unchanged(server_address: str) -> None:
    async with AsyncClient(server_address) as client:
        first = await client.upsert_papers([make_paper(1), make_paper(2)])
        second = await client.upsert_papers(
            [make_paper(1, title="A better title"), make_paper(2), make_paper(3)]
        )

    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.inserted, second.updated, second.unchanged) == (1, 1, 1)


async def test_upsert_papers_invalid_argument_names_the_field(server_address: str) -> None:
    async with AsyncClient(server_address) as client:
        with pytest.raises(InvalidArgument) as caught:
            await client.upsert_papers([make_paper(1, title="")])

    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details.startswith("papers[0].title: ")
    assert isinstance(caught.value.__cause__, grpc.aio.AioRpcError)


async def test_upsert_papers_over_the_batch_limit_is_resource_exhausted(
    server_address: str,
) -> None:
    async with AsyncClient(server_address) as client:
        with pytest.raises(ResourceExhausted):
            await client.upsert_papers([make_paper(n) for n in range(1001)])


async def test_record_interactions_counts_accepted_and_duplicates(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        first = await client.record_interactions([make_event("e1", "u1", 1)])
        again = await client.record_interactions(
            [make_event("e1", "u1", 1), make_event("e2", "u1", 2)]
        )

    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (1, 1)


async def test_record_interactions_rejects_a_naive_datetime_before_sending(
    seeded_address: str,
) -> None:
    event = make_event("e1", "u1", 1)
    naive = dataclasses.replace(event, occurred_at=dt.datetime(2025, 3, 7, 9, 30))

    async with AsyncClient(seeded_address) as client:
        with pytest.raises(ValueError, match="naive"):
            await client.record_interactions([naive])
        result = await client.record_interactions([event])

    assert (result.accepted, result.duplicates) == (1, 0)


async def test_rank_papers_pages_and_iterates(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        first = await client.rank_papers("stranger", DAY, limit=2)
        second = await client.rank_papers(
            "stranger", "2025-03-07", page_token=first.next_page_token
        )
        ranked = [paper async for paper in client.iter_ranked_papers("stranger", DAY, page_size=2)]

    assert first.strategy is Strategy.POPULAR
    assert [paper.rank for paper in first.papers] == [1, 2]
    assert second.papers[0].rank == 3
    assert [paper.rank for paper in ranked] == list(range(1, SEEDED_PAPERS + 1))


async def test_rank_papers_day_without_papers_is_not_found(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        with pytest.raises(NotFound):
            await client.rank_papers("stranger", EMPTY_DAY)


async def test_rank_papers_batch_is_keyed_in_request_order(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        rankings = await client.rank_papers_batch(["zoe", "adam"], DAY, limit=2)

    assert list(rankings) == ["zoe", "adam"]
    assert [len(ranking.papers) for ranking in rankings.values()] == [2, 2]


async def test_record_digest_then_list_sent_digests(seeded_address: str) -> None:
    sent_at = dt.datetime.now(dt.UTC)
    async with AsyncClient(seeded_address) as client:
        recorded = await client.record_digest("u1", DAY, ["arxiv:2503.00001"], sent_at=sent_at)
        sent = await client.list_sent_digests(DAY, ["u1", "u2"])

    assert (recorded.recorded, recorded.impressions) == (True, 1)
    assert list(sent) == ["u1"]


async def test_list_days(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        listed = await client.list_days(end=DAY, limit=5)

    assert [day.date for day in listed.days] == [DAY]


async def test_get_model_info_and_delete_user(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        info = await client.get_model_info()
        await client.record_interactions([make_event("e1", "u1", 1)])
        deleted = await client.delete_user("u1")

    assert info.loaded is False
    assert deleted.interactions_deleted == 1


async def test_concurrent_calls_share_one_channel(seeded_address: str) -> None:
    async with AsyncClient(seeded_address) as client:
        rankings = await asyncio.gather(
            *(client.rank_papers(f"user-{n}", DAY, limit=1) for n in range(10))
        )

    assert all(ranking.total == SEEDED_PAPERS for ranking in rankings)


async def test_per_call_timeout_overrides_the_client_default(
    scripted_server: ScriptedServer,
) -> None:
    slow = [("x-delay", "0.3")]
    async with AsyncClient(scripted_server.address, timeout=0.05, metadata=slow) as client:
        with pytest.raises(DeadlineExceeded) as caught:
            await client.get_model_info()
        assert (await client.get_model_info(timeout=10.0)).message == "scripted"
        assert (await client.get_model_info(timeout=None)).message == "scripted"
        with pytest.raises(DeadlineExceeded):
            await client.get_model_info(timeout=USE_CLIENT_DEFAULT)

    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    async with AsyncClient(scripted_server.address, metadata=slow) as client:
        with pytest.raises(DeadlineExceeded):
            await client.get_model_info(timeout=0.05)


async def test_nothing_listening_is_unavailable_without_retries(closed_address: str) -> None:
    async with AsyncClient(closed_address, retry=False) as client:
        with pytest.raises(Unavailable) as caught:
            await asyncio.wait_for(client.get_model_info(), timeout=5)

    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_close_is_idempotent_and_later_calls_fail_clearly(server_address: str) -> None:
    async with AsyncClient(server_address) as client:
        assert (await client.get_model_info()).loaded is False
    assert client.is_closed
    await client.close()

    with pytest.raises(RuntimeError, match="closed"):
        await client.get_model_info()


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        ("INVALID_ARGUMENT", InvalidArgument),
        ("NOT_FOUND", NotFound),
        ("RESOURCE_EXHAUSTED", ResourceExhausted),
        ("UNAVAILABLE", Unavailable),
        ("DEADLINE_EXCEEDED", DeadlineExceeded),
        ("UNAUTHENTICATED", Unauthenticated),
        ("PERMISSION_DENIED", PermissionDenied),
        ("INTERNAL", ServerError),
        ("UNKNOWN", ServerError),
    ],
)
async def test_every_status_maps_to_its_error(
    scripted_server: ScriptedServer, status: str, error_type: type[PaperSiftError]
) -> None:
    metadata = [("x-fail-with", status)]
    async with AsyncClient(scripted_server.address, metadata=metadata, retry=False) as client:
        with pytest.raises(PaperSiftError) as caught:
            await client.get_model_info()

    assert type(caught.value) is error_type
    assert caught.value.code == grpc.StatusCode[status]
    assert caught.value.details == f"scripted {status} on attempt 1"


async def test_grpc_retries_unavailable(scripted_server: ScriptedServer) -> None:
    metadata = [("x-fail-with", "UNAVAILABLE"), ("x-fail-times", "3")]
    async with AsyncClient(scripted_server.address, metadata=metadata) as client:
        info = await client.get_model_info()

    assert info.message == "scripted"
    assert scripted_server.ranker.attempts == 4


async def test_retry_false_makes_one_attempt(scripted_server: ScriptedServer) -> None:
    metadata = [("x-fail-with", "UNAVAILABLE"), ("x-fail-times", "1")]
    async with AsyncClient(scripted_server.address, metadata=metadata, retry=False) as client:
        with pytest.raises(Unavailable):
            await client.get_model_info()

    assert scripted_server.ranker.attempts == 1
