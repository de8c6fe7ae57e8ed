"""Every RPC over a real gRPC channel to a real server: good paths and bad inputs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.conftest import DAY, Api, error_of, make_event, make_paper


def crafted_token(text: str) -> str:
    """A page token built by hand rather than returned by the server."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TOKEN_INFINITE = crafted_token(
    '{"v":1,"u":"u1","d":"2025-04-01","o":Infinity,"m":"","ur":0,"dr":"1.0"}'
)
TOKEN_NESTED = crafted_token("[" * 100 + "]" * 100)
TOKEN_LIST = crafted_token("[1, 2]")


async def test_upsert_counts_inserted_updated_unchanged(api: Api) -> None:
    first = await api.upsert([make_paper(1), make_paper(2)])
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)

    second = await api.upsert([make_paper(1, title="A better title"), make_paper(2), make_paper(3)])
    assert (second.inserted, second.updated, second.unchanged) == (1, 1, 1)


@pytest.mark.parametrize(
    ("bad_paper", "field", "problem"),
    [
        (make_paper(2, title=""), "papers[1].title", "must not be empty"),
        (make_paper(2, title="   "), "papers[1].title", "must not be empty"),
        (make_paper(2, paper_id=""), "papers[1].paper_id", "must not be empty"),
        (make_paper(2, paper_id="x" * 257), "papers[1].paper_id", "at most 256"),
        (make_paper(2, date="2025-4-1"), "papers[1].date", "expected YYYY-MM-DD"),
        (make_paper(2, date="2025-02-30"), "papers[1].date", "not a real date"),
        (make_paper(2, date=""), "papers[1].date", "must not be empty"),
        (make_paper(2, url="ftp://example.org/x"), "papers[1].url", "not an http(s) URL"),
        (make_paper(2, authors=["Ada", ""]), "papers[1].authors[1]", "must not be empty"),
        (make_paper(2, abstract="x" * 20_001), "papers[1].abstract", "at most 20000"),
    ],
)
async def test_upsert_rejects_a_bad_paper_and_writes_nothing(
    api: Api, bad_paper: pb.Paper, field: str, problem: str
) -> None:
    error = await error_of(api.upsert([make_paper(1), bad_paper, make_paper(3)]))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith(f"{field}: ")
    assert problem in error.details
    # Nothing of the batch was written: the day still has no papers.
    missing = await error_of(api.rank("anyone"))
    assert missing.code == grpc.StatusCode.NOT_FOUND


async def test_upsert_rejects_empty_and_oversized_batches(api: Api) -> None:
    empty = await error_of(api.upsert([]))
    assert empty.code == grpc.StatusCode.INVALID_ARGUMENT
    assert empty.details.startswith("papers:")

    oversized = await error_of(api.upsert([make_paper(n) for n in range(1001)]))
    assert oversized.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "at most 1000" in oversized.details


async def test_upsert_rejects_a_repeated_id_in_one_batch(api: Api) -> None:
    error = await error_of(api.upsert([make_paper(1), make_paper(1, title="Other")]))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("papers[1].paper_id")


async def test_record_counts_accepted_and_duplicates(api: Api) -> None:
    await api.upsert([make_paper(1), make_paper(2)])

    first = await api.record([make_event("e1", "u1", 1), make_event("e2", "u1", 2)])
    assert (first.accepted, first.duplicates) == (2, 0)

    again = await api.record([make_event("e2", "u1", 2), make_event("e3", "u2", 1)])
    assert (again.accepted, again.duplicates) == (1, 1)


async def test_record_rejects_bad_events_whole(api: Api) -> None:
    await api.upsert([make_paper(1)])
    no_time = make_event("e9", "u1", 1)
    no_time.ClearField("occurred_at")
    cases = [
        (make_event("e2", "u1", 1, kind=99), "interactions[1].kind", "not an interaction kind"),
        (make_event("e2", "u1", 1, kind=0), "interactions[1].kind", "not an interaction kind"),
        (make_event("", "u1", 1), "interactions[1].event_id", "must not be empty"),
        (make_event("e2", "u\x01", 1), "interactions[1].user_id", "control characters"),
        (make_event("e2", "u1", 7), "interactions[1].paper_id", "unknown paper"),
        (no_time, "interactions[1].occurred_at", "is required"),
    ]
    for bad_event, field, problem in cases:
        error = await error_of(api.record([make_event("e1", "u1", 1), bad_event]))
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, field
        assert error.details.startswith(f"{field}: "), error.details
        assert problem in error.details

    # None of the rejected batches stored their good first event.
    accepted = await api.record([make_event("e1", "u1", 1)])
    assert (accepted.accepted, accepted.duplicates) == (1, 0)


async def test_record_rejects_oversized_batch(api: Api) -> None:
    await api.upsert([make_paper(1)])
    error = await error_of(api.record([make_event(f"e{n}", "u1", 1) for n in range(1001)]))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_popular_ranks_by_distinct_readers_then_newest(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 6)])
    await api.record(
        [
            make_event("a", "u1", 4),
            make_event("b", "u2", 4),
            make_event("c", "u3", 2, kind=pb.INTERACTION_KIND_SAVE),
            make_event("d", "u3", 2),  # the same reader twice counts once
            make_event("e", "u4", 5, kind=pb.INTERACTION_KIND_IMPRESSION),  # not a signal
        ]
    )

    ranking = await api.rank("someone-new")

    assert ranking.strategy == pb.STRATEGY_POPULAR
    assert ranking.model_version == ""
    # The untouched papers follow newest first (these papers' words say nothing to compare).
    assert [p.paper.paper_id[-1] for p in ranking.papers] == ["4", "2", "5", "3", "1"]
    assert [int(p.score) for p in ranking.papers] == [2, 1, 0, 0, 0]
    scores = [p.score for p in ranking.papers]
    assert scores == sorted(set(scores), reverse=True)  # ordered, never tied
    assert [p.rank for p in ranking.papers] == [1, 2, 3, 4, 5]
    assert ranking.total == 5
    assert ranking.papers[0].paper.title == "Paper number 4"
    assert list(ranking.papers[0].paper.authors) == ["Ada Lovelace", "Alan Turing"]


async def test_dismissed_papers_disappear_for_that_reader_only(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    before = await api.rank("u1")
    assert "arxiv:2504.00001" in [p.paper.paper_id for p in before.papers]

    await api.record([make_event("x", "u1", 1, kind=pb.INTERACTION_KIND_DISMISS)])

    after = await api.rank("u1")
    assert not after.cached  # the reader's new interaction invalidated the cached list
    assert "arxiv:2504.00001" not in [p.paper.paper_id for p in after.papers]
    other = await api.rank("u2")
    assert "arxiv:2504.00001" in [p.paper.paper_id for p in other.papers]


async def test_second_call_is_served_from_cache_until_something_changes(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    first = await api.rank("u1")
    second = await api.rank("u1")
    assert (first.cached, second.cached) == (False, True)
    assert second.papers == first.papers

    await api.record([make_event("c1", "u2", 3)])  # activity on the day changes popularity
    third = await api.rank("u1")
    assert not third.cached
    assert third.papers[0].paper.paper_id == "arxiv:2504.00003"

    await api.upsert([make_paper(9)])  # a new paper for the day
    fourth = await api.rank("u1")
    assert not fourth.cached
    assert fourth.total == 4


async def test_pages_cover_the_list_once_and_stay_stable(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 8)])
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await api.rank("reader", limit=3, page_token=token)
        seen += [p.paper.paper_id for p in page.papers]
        assert [p.rank for p in page.papers] == list(
            range(len(seen) - len(page.papers) + 1, len(seen) + 1)
        )
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [f"arxiv:2504.{n:05d}" for n in range(7, 0, -1)]  # newest first

    first_page = await api.rank("reader", limit=3)
    second_a = await api.rank("reader", limit=3, page_token=first_page.next_page_token)
    second_b = await api.rank("reader", limit=3, page_token=first_page.next_page_token)
    assert second_a.papers == second_b.papers


async def test_page_token_keeps_the_snapshot_when_the_list_changes(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 7)])
    first = await api.rank("reader", limit=3)

    await api.record([make_event("late", "other", 1)])  # paper 1 would now rank first

    second = await api.rank("reader", limit=3, page_token=first.next_page_token)
    assert [p.paper.paper_id[-1] for p in [*first.papers, *second.papers]] == list("654321")


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"user_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "user_id: must not be empty"),
        ({"user_id": "u" * 300}, grpc.StatusCode.INVALID_ARGUMENT, "user_id: is 300 characters"),
        ({"date": "01/04/2025"}, grpc.StatusCode.INVALID_ARGUMENT, "date: '01/04/2025' is not"),
        ({"date": ""}, grpc.StatusCode.INVALID_ARGUMENT, "date: must not be empty"),
        ({"limit": -1}, grpc.StatusCode.INVALID_ARGUMENT, "limit: -1 is out of range"),
        ({"limit": 101}, grpc.StatusCode.INVALID_ARGUMENT, "limit: 101 is out of range"),
        ({"page_token": "garbage!"}, grpc.StatusCode.INVALID_ARGUMENT, "page_token: is not"),
        ({"page_token": TOKEN_INFINITE}, grpc.StatusCode.INVALID_ARGUMENT, "page_token: is not"),
        ({"page_token": TOKEN_NESTED}, grpc.StatusCode.INVALID_ARGUMENT, "page_token: is not"),
        ({"page_token": TOKEN_LIST}, grpc.StatusCode.INVALID_ARGUMENT, "page_token: is not"),
        ({"diversity": 1.5}, grpc.StatusCode.INVALID_ARGUMENT, "diversity: 1.5 is outside"),
        ({"diversity": float("nan")}, grpc.StatusCode.INVALID_ARGUMENT, "diversity: nan"),
        (
            {"filters": pb.RankFilters(must_have_keywords=["ok", " "])},
            grpc.StatusCode.INVALID_ARGUMENT,
            "filters.must_have_keywords[1]: must not be empty",
        ),
        (
            {"filters": pb.RankFilters(followed_authors=["x" * 201])},
            grpc.StatusCode.INVALID_ARGUMENT,
            "filters.followed_authors[0]: is 201 characters; at most 200",
        ),
        (
            {"filters": pb.RankFilters(exclude_categories=["cs.\x00"])},
            grpc.StatusCode.INVALID_ARGUMENT,
            "filters.exclude_categories[0]: must not contain control characters",
        ),
        (
            {"filters": pb.RankFilters(include_categories=[f"c{i}" for i in range(51)])},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "filters.include_categories: has 51 entries; at most 50",
        ),
        ({"date": "2025-05-01"}, grpc.StatusCode.NOT_FOUND, "no papers are listed on 2025-05-01"),
    ],
)
async def test_rank_rejects_bad_requests(
    api: Api, fields: dict[str, Any], code: grpc.StatusCode, message: str
) -> None:
    await api.upsert([make_paper(1)])
    request: dict[str, Any] = {"user_id": "u1", "date": DAY, **fields}
    error = await error_of(api.stub.RankPapers(pb.RankPapersRequest(**request), timeout=10))
    assert error.code == code
    assert error.details.startswith(message), error.details


async def test_page_token_of_another_reader_is_rejected(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 5)])
    page = await api.rank("alice", limit=2)
    error = await error_of(api.rank("bob", limit=2, page_token=page.next_page_token))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "another user_id or date" in error.details


async def test_default_limit_and_explanations(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 31)])
    await api.record([make_event("s", "u9", 7, kind=pb.INTERACTION_KIND_SAVE)])

    ranking = await api.rank("u1", explain=True)

    assert len(ranking.papers) == 20
    assert ranking.papers[0].reasons == ["popular today: 1 reader clicked or saved it"]
    assert "nobody has clicked or saved it yet" in ranking.papers[1].reasons[0]
    plain = await api.rank("u1")
    assert all(not p.reasons for p in plain.papers)


async def test_rank_batch_returns_one_list_per_reader_in_order(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 5)])
    await api.record([make_event("d", "bob", 1, kind=pb.INTERACTION_KIND_DISMISS)])

    reply = await api.stub.RankPapersBatch(
        pb.RankPapersBatchRequest(user_ids=["carol", "bob", "alice"], date=DAY, limit=2), timeout=10
    )

    assert [r.user_id for r in reply.results] == ["carol", "bob", "alice"]
    assert [p.paper.paper_id[-1] for p in reply.results[0].ranking.papers] == ["4", "3"]
    assert [p.paper.paper_id[-1] for p in reply.results[1].ranking.papers] == ["4", "3"]
    bob = await api.rank("bob")
    assert "arxiv:2504.00001" not in [p.paper.paper_id for p in bob.papers]
    assert all(r.ranking.strategy == pb.STRATEGY_POPULAR for r in reply.results)


@pytest.mark.parametrize(
    ("user_ids", "code", "message"),
    [
        ([], grpc.StatusCode.INVALID_ARGUMENT, "user_ids: must contain"),
        (["a", "b", "a"], grpc.StatusCode.INVALID_ARGUMENT, "user_ids[2]: repeats user_ids[0]"),
        (["a", ""], grpc.StatusCode.INVALID_ARGUMENT, "user_ids[1]: must not be empty"),
        ([f"u{n}" for n in range(1001)], grpc.StatusCode.RESOURCE_EXHAUSTED, "user_ids: has 1001"),
        ([f"u{n}" for n in range(251)], grpc.StatusCode.RESOURCE_EXHAUSTED, "user_ids: 251 "),
    ],
)
async def test_rank_batch_rejects_bad_reader_lists(
    api: Api, user_ids: list[str], code: grpc.StatusCode, message: str
) -> None:
    await api.upsert([make_paper(1)])
    request = pb.RankPapersBatchRequest(user_ids=user_ids, date=DAY)
    error = await error_of(api.stub.RankPapersBatch(request, timeout=10))
    assert error.code == code
    assert error.details.startswith(message), error.details


async def test_rank_batch_rejects_bad_date_and_limit(api: Api) -> None:
    await api.upsert([make_paper(1)])
    bad_date = await error_of(
        api.stub.RankPapersBatch(pb.RankPapersBatchRequest(user_ids=["a"], date="x"), timeout=10)
    )
    assert bad_date.details.startswith("date:")
    bad_limit = await error_of(
        api.stub.RankPapersBatch(
            pb.RankPapersBatchRequest(user_ids=["a"], date=DAY, limit=500), timeout=10
        )
    )
    assert bad_limit.details.startswith("limit:")
    no_papers = await error_of(
        api.stub.RankPapersBatch(pb.RankPapersBatchRequest(user_ids=["a"], date="2020-01-01"))
    )
    assert no_papers.code == grpc.StatusCode.NOT_FOUND


async def test_model_info_says_no_model_is_loaded(api: Api) -> None:
    info = await api.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert not info.loaded
    assert info.version == ""
    # These tests' servers run with the content model off (tests/conftest.py); the message
    # says so rather than promising CONTENT lists (test_content.py has the other case).
    assert "no trained model is loaded and the content model is off" in info.message
    assert "POPULAR" in info.message


async def test_delete_user_erases_interactions_and_cached_lists(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    await api.record(
        [
            make_event("d1", "gone", 1, kind=pb.INTERACTION_KIND_DISMISS),
            make_event("c1", "gone", 2),
            make_event("c2", "stays", 2),
        ]
    )
    await api.rank("gone")

    reply = await api.stub.DeleteUser(pb.DeleteUserRequest(user_id="gone"), timeout=10)

    assert (reply.interactions_deleted, reply.cached_lists_deleted) == (2, 1)
    after = await api.rank("gone")
    assert not after.cached
    assert "arxiv:2504.00001" in [p.paper.paper_id for p in after.papers]  # dismissal erased
    assert int(after.papers[0].score) == 1  # only "stays" still counts for paper 2
    again = await api.stub.DeleteUser(pb.DeleteUserRequest(user_id="gone"), timeout=10)
    assert (again.interactions_deleted, again.cached_lists_deleted) == (0, 1)


async def test_delete_user_rejects_a_bad_id(api: Api) -> None:
    error = await error_of(api.stub.DeleteUser(pb.DeleteUserRequest(user_id=""), timeout=10))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("user_id:")


async def test_server_survives_bad_input_and_keeps_serving(api: Api) -> None:
    await api.upsert([make_paper(1)])
    for _ in range(20):
        await error_of(api.upsert([make_paper(2, title="")]))
        await error_of(api.rank("u1", date="nope"))
    ranking = await api.rank("u1")
    assert [p.paper.paper_id for p in ranking.papers] == ["arxiv:2504.00001"]


async def test_same_flow_on_postgresql(
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    postgres_url: str,
) -> None:
    api = connect(start_server(database_url=postgres_url))
    await api.upsert([make_paper(n) for n in range(1, 4)])
    await api.record([make_event("a", "u1", 3), make_event("b", "u2", 3)])
    ranking = await api.rank("u3")
    assert [p.paper.paper_id[-1] for p in ranking.papers] == ["3", "2", "1"]
    duplicate = await api.record([make_event("a", "u1", 3)])
    assert (duplicate.accepted, duplicate.duplicates) == (0, 1)
