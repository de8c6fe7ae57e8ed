"""A fuzz run of every RPC, over a real gRPC channel, against a real server and its store.

Each test starts one server (SQLite, in-process cache), seeds a small world, and sends it many
valid-but-weird requests (``tests/hostile/requests.py``). Every answer must be OK or a documented
status (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, NOT_FOUND) naming the field it refuses, never
UNKNOWN or INTERNAL; a refused call must leave every table as it was, an accepted write must be
there whole; afterwards health is still SERVING and ordinary calls still work.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from papersift.core import limits
from papersift.server.convert import paper_to_proto
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.hostile.budget import budget
from tests.hostile.fuzz_target import OK, FuzzTarget
from tests.hostile.requests import (
    batch_requests,
    batch_requests_for,
    delete_requests,
    digest_requests,
    list_days_requests,
    list_digest_requests,
    rank_requests,
    rank_requests_for,
    record_requests,
    upsert_requests,
)
from tests.hostile.strategies import weird_text
from tests.server.model_world import event_message, publish
from tests.synthetic import DAYS, World, fitted_parts, make_world


@pytest.fixture
def target(start_server: Callable[..., ThreadedServer], tmp_path: Path) -> Iterator[FuzzTarget]:
    """A fresh, seeded server on SQLite with the in-process cache.

    The properties below run without a hypothesis deadline: each call is bounded by its gRPC
    timeout instead, and a hang fails as DEADLINE_EXCEEDED.
    """
    database_url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    fuzzed = FuzzTarget(start_server(database_url=database_url), database_url)
    try:
        fuzzed.seed()
        yield fuzzed
    finally:
        fuzzed.close()


def test_upsert_papers(target: FuzzTarget) -> None:
    @budget(30, deadline=None)
    @given(request=upsert_requests)
    def fuzz(request: pb.UpsertPapersRequest) -> None:
        answer = target.checked("UpsertPapers", request)
        if answer.code is OK:
            reply = answer.reply
            assert reply.inserted + reply.updated + reply.unchanged == len(request.papers)
            for paper in request.papers[:50]:
                (stored,) = target.rows(
                    "SELECT title, date FROM papers WHERE paper_id = :id", id=paper.paper_id
                )
                assert (stored.title, str(stored.date)) == (paper.title, paper.date)

    fuzz()
    target.assert_still_serving()


def test_record_interactions(target: FuzzTarget) -> None:
    @budget(30, deadline=None)
    @given(request=record_requests)
    def fuzz(request: pb.RecordInteractionsRequest) -> None:
        answer = target.checked("RecordInteractions", request)
        if answer.code is OK:
            assert answer.reply.accepted + answer.reply.duplicates == len(request.interactions)
            for event in request.interactions[:50]:
                assert target.rows(
                    "SELECT 1 FROM interactions WHERE event_id = :id", id=event.event_id
                )

    fuzz()
    target.assert_still_serving()


def forge(token: str, key: str, value: object) -> str:
    """A real page token with one of its fields replaced."""
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload[key] = value
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


odd_values = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**40]),
    st.floats(),
    st.booleans(),
    st.none(),
    weird_text(max_size=10),
    st.lists(st.integers(), max_size=2),
)


def test_rank_papers(target: FuzzTarget) -> None:
    @budget(30, deadline=None)
    @given(request=rank_requests, data=st.data())
    def fuzz(request: pb.RankPapersRequest, data: st.DataObject) -> None:
        answer = target.checked("RankPapers", request)
        if answer.code is not OK or not answer.reply.next_page_token:
            return
        token = answer.reply.next_page_token
        assert target.checked("RankPapers", with_token(request, token)).code is OK
        key = data.draw(st.sampled_from(["v", "u", "d", "o", "m", "ur", "dr", "vw"]), label="key")
        try:
            forged = forge(token, key, data.draw(odd_values, label="value"))
        except (binascii.Error, ValueError):
            pytest.fail(f"the server's own page token does not decode: {token!r}")
        target.checked("RankPapers", with_token(request, forged))
        other = with_token(request, token)
        other.user_id = data.draw(weird_text(min_size=1, max_size=8), label="other user")
        target.checked("RankPapers", other)

    fuzz()
    target.assert_still_serving()


def with_token(request: pb.RankPapersRequest, token: str) -> pb.RankPapersRequest:
    """``request`` asking for the page after ``token``."""
    copy = pb.RankPapersRequest()
    copy.CopyFrom(request)
    copy.page_token = token
    return copy


def test_rank_papers_batch(target: FuzzTarget) -> None:
    @budget(25, deadline=None)
    @given(request=batch_requests)
    def fuzz(request: pb.RankPapersBatchRequest) -> None:
        answer = target.checked("RankPapersBatch", request)
        if answer.code is OK:
            assert [result.user_id for result in answer.reply.results] == list(request.user_ids)

    fuzz()
    target.assert_still_serving()


def test_delete_user(target: FuzzTarget) -> None:
    @budget(15, deadline=None)
    @given(request=delete_requests)
    def fuzz(request: pb.DeleteUserRequest) -> None:
        answer = target.checked("DeleteUser", request)
        if answer.code is OK:
            user = {"id": request.user_id}
            assert not target.rows("SELECT 1 FROM interactions WHERE user_id = :id", **user)
            assert not target.rows("SELECT 1 FROM digests WHERE user_id = :id", **user)

    fuzz()
    target.assert_still_serving()


def test_record_digest(target: FuzzTarget) -> None:
    @budget(30, deadline=None)
    @given(request=digest_requests)
    def fuzz(request: pb.RecordDigestRequest) -> None:
        answer = target.checked("RecordDigest", request)
        if answer.code is OK:
            assert target.rows(
                "SELECT 1 FROM digests WHERE user_id = :user AND date = :date",
                user=request.user_id,
                date=request.date,
            )

    fuzz()
    target.assert_still_serving()


def test_list_sent_digests(target: FuzzTarget) -> None:
    @budget(20, deadline=None)
    @given(request=list_digest_requests)
    def fuzz(request: pb.ListSentDigestsRequest) -> None:
        answer = target.checked("ListSentDigests", request)
        if answer.code is OK:
            assert {digest.user_id for digest in answer.reply.digests} <= set(request.user_ids)

    fuzz()
    target.assert_still_serving()


def test_list_days(target: FuzzTarget) -> None:
    @budget(20, deadline=None)
    @given(request=list_days_requests)
    def fuzz(request: pb.ListDaysRequest) -> None:
        answer = target.checked("ListDays", request)
        if answer.code is OK:
            dates = [day.date for day in answer.reply.days]
            assert dates == sorted(set(dates))
            assert len(dates) <= (request.limit or limits.DEFAULT_DAYS)

    fuzz()
    target.assert_still_serving()


# --- every RPC, with fields it does not know -----------------------------------------------------

REQUESTS: dict[str, st.SearchStrategy[Message]] = {
    "UpsertPapers": upsert_requests,
    "RecordInteractions": record_requests,
    "RankPapers": rank_requests,
    "RankPapersBatch": batch_requests,
    "GetModelInfo": st.just(pb.GetModelInfoRequest()),
    "DeleteUser": delete_requests,
    "RecordDigest": digest_requests,
    "ListSentDigests": list_digest_requests,
    "ListDays": list_days_requests,
}
"""A request strategy for every RPC of the service."""
assert set(REQUESTS) == set(pb.DESCRIPTOR.services_by_name["Ranker"].methods_by_name)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@st.composite
def unknown_fields(draw: st.DrawFn) -> bytes:
    """Well-formed wire-format fields with numbers no message of the API uses."""
    encoded = b""
    for _ in range(draw(st.integers(1, 4))):
        number = draw(st.integers(1_000, 536_870_911))
        wire_type = draw(st.sampled_from([0, 1, 2, 5]))
        encoded += _varint(number << 3 | wire_type)
        if wire_type == 0:
            encoded += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire_type == 1:
            encoded += draw(st.binary(min_size=8, max_size=8))
        elif wire_type == 5:
            encoded += draw(st.binary(min_size=4, max_size=4))
        else:
            payload = draw(st.binary(max_size=64))
            encoded += _varint(len(payload)) + payload
    return encoded


def test_unknown_fields_in_any_request(target: FuzzTarget) -> None:
    @budget(30, deadline=None)
    @given(method=st.sampled_from(sorted(REQUESTS)), data=st.data())
    def fuzz(method: str, data: st.DataObject) -> None:
        request = data.draw(REQUESTS[method], label="request")
        extra = data.draw(unknown_fields(), label="unknown fields")
        target.checked(method, request.SerializeToString() + extra)

    fuzz()
    target.assert_still_serving()


def fuzz_sequences(target: FuzzTarget, examples: int) -> None:
    """Random sequences of calls to every RPC, each checked; then the server must still serve."""

    @budget(examples, deadline=None)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(1, 6), label="calls")):
            method = data.draw(st.sampled_from(sorted(REQUESTS)), label="method")
            target.checked(method, data.draw(REQUESTS[method], label="request"))

    fuzz()
    target.assert_still_serving()


def test_any_sequence_of_calls(target: FuzzTarget) -> None:
    fuzz_sequences(target, 12)


def test_any_sequence_of_calls_on_postgresql_and_redis(
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    start_server: Callable[..., ThreadedServer],
) -> None:
    # The production stack: PostgreSQL refuses what SQLite lets through (NULs, over-long
    # VARCHARs), and the ranking cache is Redis, keyed by the same hostile ids.
    server = start_server(database_url=postgres_url, redis_url=redis_url, cache_prefix=redis_prefix)
    target = FuzzTarget(server, postgres_url)
    try:
        target.seed()
        fuzz_sequences(target, 10)
    finally:
        target.close()
        server.stop()  # before the fixture drops the database under it


# --- ranking with a trained model: PERSONAL and FOLD_IN lists, reasons, diversity -------------


@pytest.fixture(scope="module")
def trained_world() -> tuple[World, tuple[Any, Any]]:
    """The synthetic three-topic world and a model fitted on it (one epoch is enough here)."""
    world = make_world()
    return world, fitted_parts(world, epochs=1)


def test_ranking_with_a_model_loaded(
    trained_world: tuple[World, tuple[Any, Any]],
    start_server: Callable[..., ThreadedServer],
    tmp_path: Path,
) -> None:
    world, parts = trained_world
    publish(tmp_path / "models", parts, "v1")
    database_url = f"sqlite:///{tmp_path / 'model.db'}"
    server = start_server(database_url=database_url, model_dir=tmp_path / "models")
    target = FuzzTarget(server, database_url)
    try:
        target.stub.UpsertPapers(
            pb.UpsertPapersRequest(papers=[paper_to_proto(p) for p in world.papers]), timeout=30
        )
        newcomer = "a newcomer ✨"  # not in the model, but with clicks: FOLD_IN
        clicks = [
            pb.Interaction(
                event_id=f"newcomer-{n}",
                user_id=newcomer,
                paper_id=paper.paper_id,
                kind=pb.INTERACTION_KIND_CLICK,
                occurred_at=event_message(world.interactions[0]).occurred_at,
            )
            for n, paper in enumerate(world.papers[:3])
        ]
        events = [event_message(i) for i in world.interactions] + clicks
        target.stub.RecordInteractions(
            pb.RecordInteractionsRequest(interactions=events), timeout=30
        )
        assert target.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=30).loaded
        readers = (*sorted(world.user_topic)[::4], newcomer, "a stranger")
        days = tuple(day.isoformat() for day in DAYS)
        requests = rank_requests_for(readers, days) | batch_requests_for(readers, days)

        folded = pb.RankPapersRequest(user_id=newcomer, date=days[-1], explain=True)
        assert target.checked("RankPapers", folded).reply.strategy == pb.STRATEGY_FOLD_IN
        seen: set[int] = set()

        @budget(40, deadline=None)
        @given(request=requests)
        def fuzz(request: pb.RankPapersRequest | pb.RankPapersBatchRequest) -> None:
            if isinstance(request, pb.RankPapersRequest):
                answer = target.checked("RankPapers", request)
                rankings = [answer.reply] if answer.code is OK else []
            else:
                answer = target.checked("RankPapersBatch", request)
                rankings = [r.ranking for r in answer.reply.results] if answer.code is OK else []
            seen.update(ranking.strategy for ranking in rankings)

        fuzz()
        assert pb.STRATEGY_PERSONAL in seen, f"the fuzz never reached the model: {seen}"
        target.assert_still_serving()
    finally:
        target.close()
