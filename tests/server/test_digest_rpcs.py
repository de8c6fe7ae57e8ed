"""RecordDigest and ListSentDigests over a real gRPC channel."""

from __future__ import annotations

import datetime as dt

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.v1 import ranker_pb2 as pb
from tests.server.conftest import DAY, Api, error_of, make_paper


def sent_at(hours_ago: float = 1) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago))
    return stamp


def digest(user: str, *numbers: int, **fields: object) -> pb.RecordDigestRequest:
    values: dict[str, object] = {
        "user_id": user,
        "date": DAY,
        "paper_ids": [f"arxiv:2504.{number:05d}" for number in numbers],
        "sent_at": sent_at(),
        "message_id": f"<{user}.{DAY}@papersift>",
    }
    values.update(fields)
    return pb.RecordDigestRequest(**values)  # type: ignore[arg-type]


async def test_a_digest_is_recorded_once_and_listed(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    first = await api.stub.RecordDigest(digest("alice", 2, 1), timeout=10)
    assert (first.recorded, first.impressions) == (True, 2)
    again = await api.stub.RecordDigest(digest("alice", 2, 1, 3), timeout=10)
    assert (again.recorded, again.impressions) == (False, 0)

    listed = await api.stub.ListSentDigests(
        pb.ListSentDigestsRequest(date=DAY, user_ids=["bob", "alice"]), timeout=10
    )
    assert [(d.user_id, d.paper_count, d.message_id) for d in listed.digests] == [
        ("alice", 2, f"<alice.{DAY}@papersift>")
    ]


async def test_recorded_impressions_change_the_readers_list_revision(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    assert not (await api.rank("alice")).cached
    assert (await api.rank("alice")).cached
    await api.stub.RecordDigest(digest("alice", 1), timeout=10)
    assert not (await api.rank("alice")).cached


async def test_bad_digests_are_rejected_whole(api: Api) -> None:
    await api.upsert([make_paper(1)])
    cases = [
        (digest("alice", 1, 7), "paper_ids[1]: unknown paper"),
        (digest("alice", 1, 1), "paper_ids[1]: repeats paper_ids[0]"),
        (digest("alice", 1, date="2025-13-01"), "date:"),
        (digest("", 1), "user_id: must not be empty"),
        (digest("alice", 1, sent_at=sent_at(hours_ago=-72)), "sent_at:"),
        (pb.RecordDigestRequest(user_id="alice", date=DAY), "sent_at: is required"),
        (digest("alice", 1, message_id="<x>\r\nBcc: y"), "message_id: must be printable ASCII"),
    ]
    for request, message in cases:
        failure = await error_of(api.stub.RecordDigest(request, timeout=10))
        assert failure.code is grpc.StatusCode.INVALID_ARGUMENT, message
        assert message in failure.details
    listed = await api.stub.ListSentDigests(
        pb.ListSentDigestsRequest(date=DAY, user_ids=["alice"]), timeout=10
    )
    assert list(listed.digests) == []


async def test_list_sent_digests_validates_its_readers(api: Api) -> None:
    failure = await error_of(
        api.stub.ListSentDigests(pb.ListSentDigestsRequest(date=DAY, user_ids=["a", "a"]))
    )
    assert failure.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "user_ids[1]: repeats user_ids[0]" in failure.details
    failure = await error_of(
        api.stub.ListSentDigests(pb.ListSentDigestsRequest(date=DAY, user_ids=[]))
    )
    assert failure.code is grpc.StatusCode.INVALID_ARGUMENT


async def test_delete_user_erases_digest_records(api: Api) -> None:
    await api.upsert([make_paper(1)])
    await api.stub.RecordDigest(digest("alice", 1), timeout=10)
    deleted = await api.stub.DeleteUser(pb.DeleteUserRequest(user_id="alice"), timeout=10)
    assert (deleted.interactions_deleted, deleted.digests_deleted) == (1, 1)
    listed = await api.stub.ListSentDigests(
        pb.ListSentDigestsRequest(date=DAY, user_ids=["alice"]), timeout=10
    )
    assert list(listed.digests) == []
