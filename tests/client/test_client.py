"""The sync ``Client`` over a real gRPC channel: to the real server, and to a scripted one for
the status codes and retries the real server cannot be made to produce on demand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import grpc
import pytest

from papersift.client import (
    USE_CLIENT_DEFAULT,
    Client,
    DeadlineExceeded,
    InteractionKind,
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


def test_upsert_papers_counts_inserted_updated_unchanged(server_address: str) -> None:
    with Client(server_address) as client:
        first = client.upsert_papers([make_paper(1), make_paper(2)])
        second = client.upsert_papers(
            [make_paper(1, title="A better title"), make_paper(2), make_paper(3)]
        )

    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.inserted, second.updated, second.unchanged) == (1, 1, 1)


def test_upsert_papers_invalid_argument_names_the_field(server_address: str) -> None:
    with Client(server_address) as client, pytest.raises(InvalidArgument) as caught:
        client.upsert_papers([make_paper(1), make_paper(2, title="")])

    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("papers[1].title: ")
    assert str(error) == error.details
    assert isinstance(error.__cause__, grpc.RpcError)


def test_upsert_papers_over_the_batch_limit_is_resource_exhausted(server_address: str) -> None:
    with Client(server_address) as client, pytest.raises(ResourceExhausted) as caught:
        client.upsert_papers([make_paper(n) for n in range(1001)])

    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "1000" in caught.value.details


def test_record_interactions_counts_accepted_and_duplicates(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        first = client.record_interactions([make_event("e1", "u1", 1), make_event("e2", "u1", 2)])
        again = client.record_interactions(
            [make_event("e2", "u1", 2), make_event("e3", "u2", 1, InteractionKind.SAVE)]
        )

    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (1, 1)


def test_record_interactions_rejects_a_naive_datetime_before_sending(
    seeded_address: str,
) -> None:
    event = make_event("e1", "u1", 1)
    naive = dataclasses.replace(event, occurred_at=dt.datetime(2025, 3, 7, 9, 30))

    with Client(seeded_address) as client:
        with pytest.raises(ValueError, match=r"interactions\[0\]\.occurred_at: naive"):
            client.record_interactions([naive])
        # Nothing reached the server: the event is new when sent properly.
        result = client.record_interactions([event])

    assert (result.accepted, result.duplicates) == (1, 0)


def test_record_interactions_unknown_paper_is_invalid_argument(seeded_address: str) -> None:
    with Client(seeded_address) as client, pytest.raises(InvalidArgument) as caught:
        client.record_interactions([make_event("e1", "u1", 999)])

    assert caught.value.details.startswith("interactions[0].paper_id")


def test_rank_papers_pages_through_an_unknown_users_popular_list(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        first = client.rank_papers("stranger", DAY, limit=2)
        second = client.rank_papers("stranger", DAY, limit=2, page_token=first.next_page_token)

    assert first.strategy is Strategy.POPULAR
    assert first.total == SEEDED_PAPERS
    assert [paper.rank for paper in first.papers] == [1, 2]
    assert [paper.rank for paper in second.papers] == [3, 4]
    assert first.next_page_token
    assert first.model_version == ""
    ids = {paper.paper.paper_id for paper in (*first.papers, *second.papers)}
    assert len(ids) == 4
    top = first.papers[0].paper
    assert top.date == DAY
    assert top.authors == ("Ada Lovelace", "Alan Turing")
    assert isinstance(first.papers[0].score, float)


def test_rank_papers_takes_the_date_as_a_string_too(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        by_date = client.rank_papers("stranger", DAY)
        by_text = client.rank_papers("stranger", "2025-03-07")

    assert [p.paper.paper_id for p in by_text.papers] == [p.paper.paper_id for p in by_date.papers]


def test_iter_ranked_papers_follows_the_page_tokens(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        ranked = list(client.iter_ranked_papers("stranger", DAY, page_size=2))

    assert [paper.rank for paper in ranked] == list(range(1, SEEDED_PAPERS + 1))


def test_rank_papers_day_without_papers_is_not_found(seeded_address: str) -> None:
    with Client(seeded_address) as client, pytest.raises(NotFound) as caught:
        client.rank_papers("stranger", EMPTY_DAY)

    assert caught.value.code == grpc.StatusCode.NOT_FOUND


def test_rank_papers_bad_date_text_is_invalid_argument(seeded_address: str) -> None:
    with Client(seeded_address) as client, pytest.raises(InvalidArgument) as caught:
        client.rank_papers("stranger", "2025-13-01")

    assert caught.value.details.startswith("date")


def test_rank_papers_refuses_a_datetime_for_a_date(seeded_address: str) -> None:
    with Client(seeded_address) as client, pytest.raises(TypeError, match="datetime"):
        client.rank_papers("stranger", dt.datetime(2025, 3, 7, tzinfo=dt.UTC))


def test_rank_papers_batch_is_keyed_in_request_order(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        rankings = client.rank_papers_batch(["zoe", "adam", "mia"], DAY, limit=3)

    assert list(rankings) == ["zoe", "adam", "mia"]
    assert all(len(ranking.papers) == 3 for ranking in rankings.values())
    assert rankings["adam"].strategy is Strategy.POPULAR


def test_rank_papers_batch_day_without_papers_is_not_found(seeded_address: str) -> None:
    with Client(seeded_address) as client, pytest.raises(NotFound):
        client.rank_papers_batch(["zoe"], EMPTY_DAY)


def test_record_digest_then_list_sent_digests(seeded_address: str) -> None:
    sent_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    paper_ids = [make_paper(2).paper_id, make_paper(1).paper_id]
    with Client(seeded_address) as client:
        first = client.record_digest("u1", DAY, paper_ids, sent_at=sent_at, message_id="<m@x>")
        again = client.record_digest("u1", DAY, paper_ids, sent_at=sent_at)
        sent = client.list_sent_digests(DAY, ["u2", "u1"])
        deleted = client.delete_user("u1")

    assert (first.recorded, first.impressions) == (True, 2)
    assert (again.recorded, again.impressions) == (False, 0)
    assert list(sent) == ["u1"]
    assert sent["u1"].paper_count == 2
    assert sent["u1"].message_id == "<m@x>"
    assert abs(sent["u1"].sent_at - sent_at) < dt.timedelta(milliseconds=1)
    assert (deleted.interactions_deleted, deleted.digests_deleted) == (2, 1)


def test_record_digest_refuses_a_naive_time_and_a_lone_string(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        with pytest.raises(ValueError, match="sent_at"):
            client.record_digest("u1", DAY, [], sent_at=dt.datetime(2025, 3, 7, 12))
        with pytest.raises(TypeError, match="paper_ids"):
            client.record_digest("u1", DAY, "arxiv:1", sent_at=dt.datetime.now(dt.UTC))
        assert client.list_sent_digests(DAY, ["u1"]) == {}


def test_list_days_gives_the_seeded_day_and_refuses_a_reversed_range(
    seeded_address: str,
) -> None:
    with Client(seeded_address) as client:
        listed = client.list_days()
        after = client.list_days(start=EMPTY_DAY)
        with pytest.raises(InvalidArgument, match="end_date"):
            client.list_days(start="2025-04-02", end="2025-04-01")

    assert [day.date for day in listed.days] == [DAY]
    assert listed.days[0].papers > 0
    assert not listed.truncated
    assert after.days == ()


@pytest.mark.parametrize(
    ("given", "dialled"),
    [
        ("127.0.0.1", "127.0.0.1:50051"),
        ("papers.internal", "papers.internal:50051"),
        ("[::1]", "[::1]:50051"),
        ("127.0.0.1:6000", "127.0.0.1:6000"),
        ("dns:///papers.internal:443", "dns:///papers.internal:443"),
    ],
)
def test_a_host_without_a_port_means_papersifts_port(given: str, dialled: str) -> None:
    with Client(given) as client:
        assert client.target == dialled


def test_get_model_info_without_a_model(server_address: str) -> None:
    with Client(server_address) as client:
        info = client.get_model_info()

    assert info.loaded is False
    assert info.version == ""
    assert info.trained_at is None
    assert info.metrics == {}


def test_delete_user_counts_what_was_erased(seeded_address: str) -> None:
    with Client(seeded_address) as client:
        client.record_interactions([make_event("e1", "u1", 1), make_event("e2", "u1", 2)])
        deleted = client.delete_user("u1")
        again = client.delete_user("u1")

    assert deleted.interactions_deleted == 2
    assert again.interactions_deleted == 0


def test_client_default_deadline_applies_to_every_call(scripted_server: ScriptedServer) -> None:
    slow = [("x-delay", "0.5")]
    with (
        Client(scripted_server.address, timeout=0.05, metadata=slow) as client,
        pytest.raises(DeadlineExceeded) as caught,
    ):
        client.get_model_info()

    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_per_call_timeout_overrides_the_client_default(scripted_server: ScriptedServer) -> None:
    slow = [("x-delay", "0.3")]
    with Client(scripted_server.address, timeout=0.05, metadata=slow) as client:
        assert client.get_model_info(timeout=10.0).message == "scripted"
        assert client.get_model_info(timeout=None).message == "scripted"
        with pytest.raises(DeadlineExceeded):
            client.get_model_info(timeout=USE_CLIENT_DEFAULT)

    with Client(scripted_server.address, metadata=slow) as client, pytest.raises(DeadlineExceeded):
        client.get_model_info(timeout=0.05)


def test_nothing_listening_is_unavailable_quickly_without_retries(closed_address: str) -> None:
    started = time.monotonic()
    with Client(closed_address, retry=False) as client, pytest.raises(Unavailable) as caught:
        client.get_model_info()

    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details
    assert time.monotonic() - started < 5


def test_close_is_idempotent_and_later_calls_fail_clearly(server_address: str) -> None:
    with Client(server_address) as client:
        assert client.get_model_info().loaded is False
    assert client.is_closed
    client.close()

    with pytest.raises(RuntimeError, match="closed"):
        client.get_model_info()


def test_root_certificates_need_secure() -> None:
    with pytest.raises(ValueError, match="secure=True"):
        Client(root_certificates=b"-----BEGIN CERTIFICATE-----")


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
        ("FAILED_PRECONDITION", ServerError),
        ("UNIMPLEMENTED", ServerError),
    ],
)
def test_every_status_maps_to_its_error(
    scripted_server: ScriptedServer, status: str, error_type: type[PaperSiftError]
) -> None:
    metadata = [("x-fail-with", status)]
    with (
        Client(scripted_server.address, metadata=metadata, retry=False) as client,
        pytest.raises(PaperSiftError) as caught,
    ):
        client.get_model_info()

    assert type(caught.value) is error_type
    assert caught.value.code == grpc.StatusCode[status]
    assert caught.value.details == f"scripted {status} on attempt 1"
    assert isinstance(caught.value.__cause__, grpc.RpcError)


def test_metadata_is_sent_with_every_call(scripted_server: ScriptedServer) -> None:
    with Client(scripted_server.address, metadata=[("x-echo", "hello")]) as client:
        assert client.get_model_info().message == "hello"
        assert client.get_model_info().message == "hello"


def test_grpc_retries_unavailable_until_an_attempt_succeeds(
    scripted_server: ScriptedServer,
) -> None:
    metadata = [("x-fail-with", "UNAVAILABLE"), ("x-fail-times", "2")]
    with Client(scripted_server.address, metadata=metadata) as client:
        info = client.get_model_info()

    assert info.message == "scripted"
    assert scripted_server.ranker.attempts == 3


def test_a_call_the_server_cancelled_is_retried(scripted_server: ScriptedServer) -> None:
    # What a stopping server answers the calls it received but had not started yet.
    metadata = [("x-fail-with", "CANCELLED"), ("x-fail-times", "1")]
    with Client(scripted_server.address, metadata=metadata) as client:
        assert client.get_model_info().message == "scripted"

    assert scripted_server.ranker.attempts == 2


def test_grpc_gives_up_after_four_attempts(scripted_server: ScriptedServer) -> None:
    with (
        Client(scripted_server.address, metadata=[("x-fail-with", "UNAVAILABLE")]) as client,
        pytest.raises(Unavailable),
    ):
        client.get_model_info()

    assert scripted_server.ranker.attempts == 4


def test_retry_false_makes_one_attempt(scripted_server: ScriptedServer) -> None:
    metadata = [("x-fail-with", "UNAVAILABLE"), ("x-fail-times", "1")]
    with (
        Client(scripted_server.address, metadata=metadata, retry=False) as client,
        pytest.raises(Unavailable),
    ):
        client.get_model_info()

    assert scripted_server.ranker.attempts == 1


def test_other_errors_are_not_retried(scripted_server: ScriptedServer) -> None:
    metadata = [("x-fail-with", "INTERNAL"), ("x-fail-times", "1")]
    with Client(scripted_server.address, metadata=metadata) as client, pytest.raises(ServerError):
        client.get_model_info()

    assert scripted_server.ranker.attempts == 1
